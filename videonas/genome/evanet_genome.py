"""EvaNet genomes: a fixed meta-architecture with four evolved modules of parallel spatio-temporal layers.

The genome mirrors the authors' released protobuf (field names included): a stem, the temporal sizes of the max-pools,
and exactly four blocks, each ``repeats`` residual repeats of a set of parallel branches (``layers``). Branch kinds:
``single`` (1x1x1 conv), ``conv`` (1x1x1 then a (time,3,3) conv of type ``conv``), ``conv2`` (1x1x1 then two stacked
convs, ``conv``/``time`` and ``conv2``/``time2``) and ``maxpoolconv`` ((time,3,3) max-pool then 1x1x1).

``distance`` and ``select_diverse`` pick structurally different top architectures for an ensemble, which is how the
paper turned diversity into accuracy. The search space is in ``videonas.genome.evanet``, which re-exports everything
here.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

from videonas.checks import check_choice, check_int, check_keys, check_type
from videonas.genome.base import Genome

TEMPORAL_SIZES = (1, 3, 5, 7, 9, 11)
CONV_TYPES = ("3d", "2plus1d", "itgm")
BRANCH_KINDS = ("single", "conv", "conv2", "maxpoolconv")
NUM_BLOCKS = 4
MAX_REPEATS = 6
MAX_BRANCHES = 6
POOL_FIELDS = ("max_pool1_time", "max_pool3_time", "max_pool4_time")

# Which optional fields each branch kind carries; the others must be None (and are absent from the JSON).
BRANCH_FIELDS = {
    "single": (),
    "conv": ("conv", "time"),
    "conv2": ("conv", "time", "conv2", "time2"),
    "maxpoolconv": ("time",),
}
_OPTIONAL_FIELDS = ("conv", "time", "conv2", "time2")


@dataclasses.dataclass(frozen=True)
class Stem:
    """The first conv: (time, 7, 7), 64 channels, strides (2, 2, 2) (time and space, as released), of type ``conv``."""

    conv: str = "2plus1d"
    time: int = 3


@dataclasses.dataclass(frozen=True)
class Branch:
    """One parallel layer of a module; ``conv``/``time``/``conv2``/``time2`` are set only where the kind uses them."""

    layer: str
    conv: str | None = None
    time: int | None = None
    conv2: str | None = None
    time2: int | None = None

    def to_dict(self) -> dict[str, Any]:
        fields = BRANCH_FIELDS.get(self.layer, _OPTIONAL_FIELDS)
        return {"layer": self.layer, **{name: getattr(self, name) for name in fields}}


@dataclasses.dataclass(frozen=True)
class Block:
    """An evolved module: ``repeats`` residual repeats of the parallel ``layers``."""

    repeats: int
    layers: tuple[Branch, ...]

    def __post_init__(self) -> None:
        if isinstance(self.layers, list):
            object.__setattr__(self, "layers", tuple(self.layers))


@dataclasses.dataclass(frozen=True)
class EvaNetGenome(Genome):
    """Stem, max-pool temporal sizes and four evolved modules (network locations 1..4, widths 256..2048)."""

    FAMILY: ClassVar[str] = "evanet"

    stem: Stem
    max_pool1_time: int
    max_pool3_time: int
    max_pool4_time: int
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        self.validate()

    def validate(self) -> None:
        check_type("stem", self.stem, Stem)
        check_choice("stem.conv", self.stem.conv, CONV_TYPES)
        _check_time("stem.time", self.stem.time)
        for name in POOL_FIELDS:
            _check_time(name, getattr(self, name))
        check_type("blocks", self.blocks, tuple)
        if len(self.blocks) != NUM_BLOCKS:
            raise ValueError(f"blocks must hold exactly {NUM_BLOCKS} blocks, got {len(self.blocks)}")
        for i, block in enumerate(self.blocks):
            check_type(f"blocks[{i}]", block, Block)
            check_int(f"blocks[{i}].repeats", block.repeats, 1, MAX_REPEATS)
            check_type(f"blocks[{i}].layers", block.layers, tuple)
            if not 1 <= len(block.layers) <= MAX_BRANCHES:
                raise ValueError(f"blocks[{i}].layers must hold 1 to {MAX_BRANCHES} branches, got {len(block.layers)}")
            for j, branch in enumerate(block.layers):
                _check_branch(f"blocks[{i}].layers[{j}]", branch)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.FAMILY, **self.to_published()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvaNetGenome":
        check_keys("genome", data, ["family", "stem", *POOL_FIELDS, "blocks"])
        check_choice("family", data["family"], [cls.FAMILY])
        return cls.from_published({k: v for k, v in data.items() if k != "family"})

    @classmethod
    def from_published(cls, spec: Mapping[str, Any]) -> "EvaNetGenome":
        """A genome from a ``published_architectures.json`` entry (keys starting with ``_`` are ignored)."""
        spec = {k: v for k, v in spec.items() if not k.startswith("_")}
        check_keys("genome", spec, ["stem", *POOL_FIELDS, "blocks"])
        check_keys("stem", spec["stem"], ["conv", "time"])
        check_type("blocks", spec["blocks"], (list, tuple))
        blocks = []
        for i, block in enumerate(spec["blocks"]):
            check_keys(f"blocks[{i}]", block, ["repeats", "layers"])
            check_type(f"blocks[{i}].layers", block["layers"], (list, tuple))
            branches = []
            for j, branch in enumerate(block["layers"]):
                field = f"blocks[{i}].layers[{j}]"
                check_keys(field, branch, ["layer"], _OPTIONAL_FIELDS)
                check_choice(f"{field}.layer", branch["layer"], BRANCH_KINDS)
                check_keys(field, branch, ["layer", *BRANCH_FIELDS[branch["layer"]]])
                branches.append(Branch(**branch))
            blocks.append(Block(repeats=block["repeats"], layers=tuple(branches)))
        return cls(
            stem=Stem(**spec["stem"]),
            max_pool1_time=spec["max_pool1_time"],
            max_pool3_time=spec["max_pool3_time"],
            max_pool4_time=spec["max_pool4_time"],
            blocks=tuple(blocks),
        )

    def to_published(self) -> dict[str, Any]:
        """The released spec layout (no ``family``), equal to the published entry minus its ``_`` keys."""
        return {
            "stem": {"conv": self.stem.conv, "time": self.stem.time},
            **{name: getattr(self, name) for name in POOL_FIELDS},
            "blocks": [
                {"repeats": block.repeats, "layers": [branch.to_dict() for branch in block.layers]}
                for block in self.blocks
            ],
        }


def _check_time(field: str, value: Any) -> None:
    check_type(field, value, int)
    check_choice(field, value, TEMPORAL_SIZES)


def _check_branch(field: str, branch: Any) -> None:
    check_type(field, branch, Branch)
    check_choice(f"{field}.layer", branch.layer, BRANCH_KINDS)
    used = BRANCH_FIELDS[branch.layer]
    for name in _OPTIONAL_FIELDS:
        value = getattr(branch, name)
        if name not in used:
            if value is not None:
                raise ValueError(f"{field}.{name} must be None for layer {branch.layer!r}, got {value!r}")
        elif name.startswith("conv"):
            check_choice(f"{field}.{name}", value, CONV_TYPES)
        else:
            _check_time(f"{field}.{name}", value)


# --- structural distance and diverse selection -----------------------------------------------------------------------


def branch_signature(branch: Branch) -> str:
    """A branch as a short string, e.g. ``"conv2:itgm:1:2plus1d:9"``; equal branches have equal signatures."""
    return ":".join([branch.layer, *(str(getattr(branch, name)) for name in BRANCH_FIELDS[branch.layer])])


def distance(a: EvaNetGenome, b: EvaNetGenome) -> int:
    """How many module components differ between two genomes.

    Per block: 1 if the repeats differ, plus the multiset edit distance of the branch signatures (branches are
    parallel, so order does not matter; changing, adding or removing one branch costs 1). Plus 1 per differing stem
    field or max-pool size. It is a metric, and one elementary mutation moves a genome by at most 1.
    """
    total = int(a.stem.conv != b.stem.conv) + int(a.stem.time != b.stem.time)
    total += sum(int(getattr(a, name) != getattr(b, name)) for name in POOL_FIELDS)
    for block_a, block_b in zip(a.blocks, b.blocks):
        total += int(block_a.repeats != block_b.repeats)
        count_a = collections.Counter(branch_signature(x) for x in block_a.layers)
        count_b = collections.Counter(branch_signature(x) for x in block_b.layers)
        total += max(sum((count_a - count_b).values()), sum((count_b - count_a).values()))
    return total


def select_diverse(genomes_ranked: Sequence[EvaNetGenome], k: int, min_distance: int) -> list[EvaNetGenome]:
    """Up to ``k`` genomes for an ensemble: greedily the best-ranked ones at ``distance >= min_distance`` from all
    already chosen. When too few are that far apart, the rest is filled with the best-ranked remaining genomes that
    are not duplicates of a chosen one, so the ensemble still gets ``k`` members when the input allows it.
    """
    check_int("k", k, 1, 1_000_000)
    check_int("min_distance", min_distance, 0, 1_000_000)
    chosen: list[EvaNetGenome] = []
    for candidate in genomes_ranked:
        if len(chosen) == k:
            return chosen
        if all(distance(candidate, other) >= min_distance for other in chosen):
            chosen.append(candidate)
    for candidate in genomes_ranked:
        if len(chosen) == k:
            break
        if all(distance(candidate, other) > 0 for other in chosen):
            chosen.append(candidate)
    return chosen


__all__ = [
    "BRANCH_FIELDS",
    "BRANCH_KINDS",
    "CONV_TYPES",
    "MAX_BRANCHES",
    "MAX_REPEATS",
    "NUM_BLOCKS",
    "POOL_FIELDS",
    "TEMPORAL_SIZES",
    "Block",
    "Branch",
    "EvaNetGenome",
    "Stem",
    "branch_signature",
    "distance",
    "select_diverse",
]
