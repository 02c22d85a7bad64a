"""The published architectures (TVN-1..4, AssembleNet-50/101, EvaNet-A/B) as genomes.

The specs are the authors' released genomes transcribed as data; the package carries its own copy in
``videonas/resources/published_architectures.json`` (one section per family) so that a clone needs nothing outside
itself. Which names exist and which family each belongs to are the families' ``presets`` (``videonas.families``).
Beside the specs: the connection weights the AssembleNet release ships (``edge_weights``) and every preset's parameters
and multiply-adds as the released code lays it out (``released_counts``, ``videonas/resources/released_counts.json``).
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from typing import Any

from videonas import families
from videonas.genome.base import Genome


@functools.cache
def reference() -> dict[str, Any]:
    """The raw reference data, as released (field names of the authors' code)."""
    text = importlib.resources.files("videonas.resources").joinpath("published_architectures.json").read_text()
    return json.loads(text)


@functools.cache
def _released_counts() -> dict[str, Any]:
    text = importlib.resources.files("videonas.resources").joinpath("released_counts.json").read_text()
    return json.loads(text)


def released_counts(name: str) -> dict[str, Any]:
    """``{"params", "macs", "input", "classes", "source"}`` of preset ``name`` as the authors' released code lays it
    out, counted from its layer definitions (the derivation is ``tests/test_presets_released.py``); a copy."""
    return copy.deepcopy(_released_counts()["presets"][_canonical(name)])


def names() -> list[str]:
    """Canonical names, e.g. ``"TVN-1"``, ``"AssembleNet-50"``, ``"EvaNet-A"``: every family's presets in order."""
    return [spec_name for family in families.registered().values() for spec_name, _ in family.presets.values()]


def load(name: str) -> Genome:
    """A published architecture as a genome; the name is matched case-insensitively (``"tvn-1"`` works)."""
    return families.of(name).genome_type.from_published(spec(name))


def spec(name: str) -> dict[str, Any]:
    """The released spec of ``name`` without the ``_`` annotation keys (a copy: callers may edit it)."""
    return copy.deepcopy({k: v for k, v in _raw(name).items() if not k.startswith("_")})


def edge_weights(name: str) -> dict[tuple[int, int], float]:
    """The learnt connection weights (after the sigmoid) the release ships with preset ``name``, ``(source, target) ->
    weight`` in node indexing, for every edge into a multi-input node; ``ValueError`` for a preset without any."""
    per_node = _raw(name).get("_structure_weights")
    if per_node is None:
        raise ValueError(f"name must be a preset released with connection weights, got {name!r}")
    structure = _raw(name)["structure"]
    return {(int(source), target): float(weight) for target, (node, weights) in enumerate(zip(structure, per_node))
            for source, weight in zip(node[1] if weights else (), weights)}


def _raw(name: str) -> dict[str, Any]:
    family = families.of(name)
    return reference()[family.name][_canonical(name)]


def _canonical(name: str) -> str:
    return next(spec_name for preset, (spec_name, _) in families.of(name).presets.items()
                if name.lower() in (preset.lower(), spec_name.lower()))
