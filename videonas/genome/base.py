"""What every genome and search space shares.

A genome is pure data: a frozen dataclass that round-trips through JSON exactly and names its family. Keeping it free of
Keras means the search loop, the trial store and the reports can handle architectures without importing a backend.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import json
from typing import Any, ClassVar, Mapping

import numpy

from videonas.checks import quote

# Bounds on genome JSON, checked before any family decodes it. The largest genomes of the three families (published
# ones and random samples) hold about 150 values nested 5 deep in 2 kB of JSON; a stored or uploaded genome far past
# that is refused at once rather than recursing without end or spending seconds validating a million blocks.
MAX_GENOME_CHARS = 1_000_000
MAX_GENOME_DEPTH = 16
MAX_GENOME_VALUES = 20_000
MAX_GENOME_STRING = 10_000


class Genome(abc.ABC):
    """Base for the frozen dataclass genomes of each family.

    Subclasses set ``FAMILY`` and implement ``to_dict``, ``from_dict`` and ``validate``. ``to_dict`` returns plain JSON
    types (``dict``, ``list``, ``str``, ``int``, ``float``, ``bool``) and includes ``"family"``.
    """

    FAMILY: ClassVar[str]

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON description of the genome, including ``"family"``."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Genome":
        """Inverse of ``to_dict``; validates and raises ``ValueError`` naming the bad field."""

    @abc.abstractmethod
    def validate(self) -> None:
        """Raise ``ValueError`` naming the field and the value when the genome is outside its space."""

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no whitespace, so equal genomes give equal text. Kept on the (frozen) genome
        after the first call: a simulated search on a table asks for keys thousands of times per second."""
        cached = self.__dict__.get("_canonical_json")
        if cached is None:
            cached = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
            object.__setattr__(self, "_canonical_json", cached)
        return cached

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        """The genome of canonical or any JSON text; equal texts give the same (frozen) genome object, decoded once:
        a search decodes every stored trial's genome each round."""
        return _decoded(cls, text)

    @property
    def key(self) -> str:
        """Stable identity of the architecture (hash of the canonical JSON); duplicates share it."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()[:16]


class SearchSpace(abc.ABC):
    """The architectures one family can reach: sampling and mutation with an explicit random generator.

    Spaces never touch the global RNG: ``rng`` is a ``numpy.random.Generator`` owned by the strategy, which is what
    makes "same seed, same genomes" hold.
    """

    family: ClassVar[str]
    genome_type: ClassVar[type[Genome]]

    @abc.abstractmethod
    def sample(self, rng: numpy.random.Generator) -> Genome:
        """A random valid genome."""

    @abc.abstractmethod
    def mutate(self, genome: Genome, rng: numpy.random.Generator, *, num_changes: int = 1, **context: Any) -> Genome:
        """A valid child that differs from ``genome`` by ``num_changes`` elementary mutations.

        ``context`` is what the parent's trained model taught (its family's learned-context hook, e.g. AssembleNet's
        ``edge_weights``); a family that learns nothing ignores it.
        """

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The space's own options (plain JSON), so an experiment's configuration records which space it searched."""


# --- bounded decoding --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _decoded(genome_type: type, text: str) -> Genome:
    return genome_type.from_dict(load_genome_json(text, f"{getattr(genome_type, 'FAMILY', 'genome')} genome"))


def load_genome_json(text: str | bytes, field: str = "genome") -> Any:
    """``json.loads`` for genomes, within the size and depth bounds; ``ValueError`` with a short message otherwise."""
    if not isinstance(text, (str, bytes, bytearray)):
        raise ValueError(f"{field} must be JSON text, got {quote(text)} ({type(text).__name__})")
    if len(text) > MAX_GENOME_CHARS:
        raise ValueError(f"{field} JSON is {len(text)} characters long, more than the limit {MAX_GENOME_CHARS}")
    try:
        data = json.loads(text)
    except RecursionError:
        raise ValueError(f"{field} JSON is nested deeper than {MAX_GENOME_DEPTH} levels") from None
    except ValueError as error:
        raise ValueError(f"{field} is not valid JSON: {quote(str(error))}") from None
    check_genome_bounds(field, data)
    return data


def check_genome_bounds(field: str, data: Any) -> None:
    """Depth, value count and string length of decoded genome data (an iterative walk: no recursion to exhaust)."""
    stack, values = [(data, 1)], 0
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if len(value) > MAX_GENOME_STRING:
                raise ValueError(f"{field} holds a string of {len(value)} characters, more than the limit "
                                 f"{MAX_GENOME_STRING}: {quote(value)}")
            continue
        if not isinstance(value, (dict, list, tuple)):
            continue
        if depth > MAX_GENOME_DEPTH:
            raise ValueError(f"{field} is nested deeper than {MAX_GENOME_DEPTH} levels")
        values += len(value)
        if values > MAX_GENOME_VALUES:
            raise ValueError(f"{field} holds more than {MAX_GENOME_VALUES} values")
        if isinstance(value, dict):
            stack.extend((key, depth + 1) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        else:
            stack.extend((item, depth + 1) for item in value)


def edge_weights_from(value: Any) -> dict[tuple[int, int], float] | None:
    """Learned connection weights as ``{(source, target): weight}``, from that mapping or from the stored JSON form
    ``[[source, target, weight], ...]``; ``None`` stays ``None``."""
    if value is None or isinstance(value, Mapping):
        return None if value is None else dict(value)
    try:
        return {(int(source), int(target)): float(weight) for source, target, weight in value}
    except (TypeError, ValueError):
        raise ValueError(f"edge_weights must map (source, target) to a weight or list [source, target, weight] "
                         f"triples, got {str(value)[:80]}") from None
