"""What every genome and search space shares.

A genome is pure data: a frozen dataclass that round-trips through JSON exactly and names its family. Keeping it free of
Keras means the search loop, the trial store and the reports can handle architectures without importing a backend.
"""

from __future__ import annotations

import abc
import hashlib
import json
import numbers
from typing import Any, ClassVar, Mapping, Sequence

import numpy


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
        """Canonical JSON: sorted keys, no whitespace, so equal genomes give equal text."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        return cls.from_dict(json.loads(text))

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


# --- validation helpers: every message names the field and the offending value -------------------------------------


def check_type(field: str, value: Any, expected: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) and expected in (int, float, (int, float)):
        raise ValueError(f"{field} must be {_type_name(expected)}, got {value!r} (bool)")
    if expected is float and isinstance(value, numbers.Real):
        return
    if not isinstance(value, expected):
        raise ValueError(f"{field} must be {_type_name(expected)}, got {value!r} ({type(value).__name__})")


def check_int(field: str, value: Any, low: int, high: int) -> None:
    """``value`` is an int in the closed range ``[low, high]``."""
    check_type(field, value, int)
    if not low <= value <= high:
        raise ValueError(f"{field} must be in [{low}, {high}], got {value!r}")


def check_float(field: str, value: Any, low: float, high: float) -> None:
    """``value`` is a real number in the closed range ``[low, high]``."""
    check_type(field, value, float)
    if not low <= float(value) <= high:
        raise ValueError(f"{field} must be in [{low}, {high}], got {value!r}")


def check_choice(field: str, value: Any, choices: Sequence[Any]) -> None:
    if isinstance(value, bool) or value not in choices:
        raise ValueError(f"{field} must be one of {list(choices)}, got {value!r}")


def check_keys(field: str, data: Mapping[str, Any], required: Sequence[str], optional: Sequence[str] = ()) -> None:
    """A decoded mapping has exactly the expected keys; unknown keys are refused rather than silently dropped."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{field} must be a mapping, got {data!r} ({type(data).__name__})")
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{field} is missing {missing}")
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        raise ValueError(f"{field} has unknown keys {unknown}")


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


def _type_name(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return " or ".join(t.__name__ for t in expected)
    return expected.__name__
