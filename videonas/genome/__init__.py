"""What an architecture is: one genome type and one search space per family, decoded in one place.

``decode`` turns stored JSON (trial store, notebooks, published specs) back into the right genome class through the
family registry (``videonas.families``), so no other module needs to know which family a dictionary belongs to.
"""

from __future__ import annotations

from typing import Any, Mapping

from videonas.checks import quote
from videonas.genome.base import Genome, SearchSpace, check_genome_bounds, load_genome_json


def decode(data: str | Mapping[str, Any]) -> Genome:
    """A genome from its JSON text or dictionary; the ``family`` field picks the registered class.

    Size and depth are bounded before any family sees the data (``base.check_genome_bounds``).
    """
    from videonas import families

    if isinstance(data, (str, bytes, bytearray)):
        data = load_genome_json(data)
    else:
        check_genome_bounds("genome", data)
    if not isinstance(data, Mapping):
        raise ValueError(f"genome must be a JSON object, got {quote(data)}")
    return families.decode(data)


def search_space(family: str, **options: Any) -> SearchSpace:
    """The search space of a registered ``family`` with its options (see each family's space class)."""
    from videonas import families

    return families.get(family).space(**options)


__all__ = ["Genome", "SearchSpace", "decode", "search_space"]
