"""What an architecture is: one genome type and one search space per family, decoded in one place.

``decode`` turns stored JSON (trial store, notebooks, published specs) back into the right genome class, so no other
module needs to know which family a dictionary belongs to.
"""

from __future__ import annotations

from typing import Any, Mapping

from videonas.genome import assemblenet, evanet, tvn
from videonas.genome.base import Genome, SearchSpace, check_genome_bounds, load_genome_json, quote

GENOMES: dict[str, type[Genome]] = {
    "evanet": evanet.EvaNetGenome,
    "assemblenet": assemblenet.AssembleNetGenome,
    "tvn": tvn.TVNGenome,
}

SPACES: dict[str, type[SearchSpace]] = {
    "evanet": evanet.EvaNetSpace,
    "assemblenet": assemblenet.AssembleNetSpace,
    "tvn": tvn.TVNSpace,
}


def decode(data: str | Mapping[str, Any]) -> Genome:
    """A genome from its JSON text or dictionary; the ``family`` field picks the class.

    Size and depth are bounded before any family sees the data (``base.check_genome_bounds``).
    """
    if isinstance(data, (str, bytes, bytearray)):
        data = load_genome_json(data)
    else:
        check_genome_bounds("genome", data)
    if not isinstance(data, Mapping):
        raise ValueError(f"genome must be a JSON object, got {quote(data)}")
    family = data.get("family")
    if family not in GENOMES:
        raise ValueError(f"family must be one of {sorted(GENOMES)}, got {quote(family)}")
    return GENOMES[family].from_dict(data)


def search_space(family: str, **options: Any) -> SearchSpace:
    """The search space of ``family`` with its options (see each family's space class)."""
    if family not in SPACES:
        raise ValueError(f"family must be one of {sorted(SPACES)}, got {family!r}")
    return SPACES[family](**options)


__all__ = ["Genome", "SearchSpace", "GENOMES", "SPACES", "decode", "search_space"]
