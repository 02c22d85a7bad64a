"""The published architectures (TVN-1..4, AssembleNet-50/101, EvaNet-A/B) as genomes.

The specs are the authors' released genomes transcribed as data; the package carries its own copy in
``videonas/resources/published_architectures.json`` (one section per family) so that a clone needs nothing outside
itself. Which names exist and which family each belongs to are the families' ``presets`` (``videonas.families``).
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


def names() -> list[str]:
    """Canonical names, e.g. ``"TVN-1"``, ``"AssembleNet-50"``, ``"EvaNet-A"``: every family's presets in order."""
    return [spec_name for family in families.registered().values() for spec_name, _ in family.presets.values()]


def load(name: str) -> Genome:
    """A published architecture as a genome; the name is matched case-insensitively (``"tvn-1"`` works)."""
    return families.of(name).genome_type.from_published(spec(name))


def spec(name: str) -> dict[str, Any]:
    """The released spec of ``name`` without the ``_`` annotation keys (a copy: callers may edit it)."""
    family = families.of(name)
    canonical = next(spec_name for preset, (spec_name, _) in family.presets.items()
                     if name.lower() in (preset.lower(), spec_name.lower()))
    raw = reference()[family.name][canonical]
    return copy.deepcopy({k: v for k, v in raw.items() if not k.startswith("_")})
