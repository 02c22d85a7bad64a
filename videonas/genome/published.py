"""The published architectures (TVN-1..4, AssembleNet-50/101, EvaNet-A/B) as genomes.

The specs are the authors' released genomes transcribed as data; the package carries its own copy in
``videonas/resources/published_architectures.json`` so that a clone needs nothing outside itself.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from typing import Any

from videonas.genome.base import Genome

_SECTIONS = {"tvn": "TVN-", "assemblenet": "AssembleNet-", "evanet": "EvaNet-"}


@functools.cache
def reference() -> dict[str, Any]:
    """The raw reference data, as released (field names of the authors' code)."""
    text = importlib.resources.files("videonas.resources").joinpath("published_architectures.json").read_text()
    return json.loads(text)


def names() -> list[str]:
    """Canonical names, e.g. ``"TVN-1"``, ``"AssembleNet-50"``, ``"EvaNet-A"``."""
    data = reference()
    return [name for family in _SECTIONS for name in data[family] if not name.startswith("_")]


def family_of(name: str) -> str:
    for family, prefix in _SECTIONS.items():
        if name.lower().startswith(prefix.lower()):
            return family
    raise ValueError(f"name must be one of {names()}, got {name!r}")


def load(name: str) -> Genome:
    """A published architecture as a genome; the name is matched case-insensitively (``"tvn-1"`` works)."""
    from videonas import families

    family = family_of(name)
    canonical = {n.lower(): n for n in reference()[family]}.get(name.lower())
    if canonical is None:
        raise ValueError(f"name must be one of {names()}, got {name!r}")
    return families.get(family).genome_type.from_published(spec(canonical))


def spec(name: str) -> dict[str, Any]:
    """The released spec of ``name`` without the ``_`` annotation keys (a copy: callers may edit it)."""
    family = family_of(name)
    raw = reference()[family][name]
    return copy.deepcopy({k: v for k, v in raw.items() if not k.startswith("_")})
