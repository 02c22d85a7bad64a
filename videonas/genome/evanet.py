"""EvaNet genomes: a fixed meta-architecture with four evolved modules of parallel spatio-temporal layers.

The genome mirrors the authors' released protobuf (field names included): a stem, the temporal sizes of the max-pools,
and exactly four blocks, each ``repeats`` residual repeats of a set of parallel branches (``layers``). Branch kinds:
``single`` (1x1x1 conv), ``conv`` (1x1x1 then a (time,3,3) conv of type ``conv``), ``conv2`` (1x1x1 then two stacked
convs, ``conv``/``time`` and ``conv2``/``time2``) and ``maxpoolconv`` ((time,3,3) max-pool then 1x1x1).

EvaNet encouraged *diverse* results by mutating strongly early in the search and weakly later. Here one ``mutate`` call
applies ``num_changes`` elementary mutations; the schedule (e.g. 5 changes in the first rounds, 1 later) belongs to the
search strategy, which picks ``num_changes`` per round. ``distance`` and ``select_diverse`` pick structurally different
top architectures for an ensemble, which is how the paper turned diversity into accuracy.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import numpy

from videonas.checks import check_choice, check_int, check_keys, check_type
from videonas.genome.base import Genome, SearchSpace

TEMPORAL_SIZES = (1, 3, 5, 7, 9, 11)
CONV_TYPES = ("3d", "2plus1d", "itgm")
BRANCH_KINDS = ("single", "conv", "conv2", "maxpoolconv")
NUM_BLOCKS = 4
MAX_REPEATS = 6
MAX_BRANCHES = 6
POOL_FIELDS = ("max_pool1_time", "max_pool3_time", "max_pool4_time")

# Which optional fields each branch kind carries; the others must be None (and are absent from the JSON).
_BRANCH_FIELDS = {
    "single": (),
    "conv": ("conv", "time"),
    "conv2": ("conv", "time", "conv2", "time2"),
    "maxpoolconv": ("time",),
}
_OPTIONAL_FIELDS = ("conv", "time", "conv2", "time2")


@dataclasses.dataclass(frozen=True)
class Stem:
    """The first conv: (time, 7, 7), 64 channels, spatial stride 2, of type ``conv``."""

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
        fields = _BRANCH_FIELDS.get(self.layer, _OPTIONAL_FIELDS)
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
                check_keys(field, branch, ["layer", *_BRANCH_FIELDS[branch["layer"]]])
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
    used = _BRANCH_FIELDS[branch.layer]
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
    return ":".join([branch.layer, *(str(getattr(branch, name)) for name in _BRANCH_FIELDS[branch.layer])])


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


# --- search space ----------------------------------------------------------------------------------------------------


class EvaNetSpace(SearchSpace):
    """Random EvaNet genomes and their mutations.

    CPU-friendly defaults: at most 5 parallel branches and 3 repeats per module, so a width-1/16 candidate on 8 frames
    at 64 px trains in minutes on 2 cores. ``EvaNetSpace.paper()`` widens this to the published ranges (the released
    nets use 2-6 branches and 2-5 repeats; we allow 1-6 of each). Every option is keyword-only:

    - ``temporal_sizes``: temporal kernel / pool sizes to draw from (subset of 1, 3, ..., 11).
    - ``conv_types``: conv layer types (subset of "3d", "2plus1d", "itgm").
    - ``branch_kinds``: branch kinds (subset of "single", "conv", "conv2", "maxpoolconv").
    - ``min_branches`` / ``max_branches``: parallel branches per module (1..6).
    - ``min_repeats`` / ``max_repeats``: residual repeats per module (1..6).
    """

    family = "evanet"
    genome_type = EvaNetGenome

    def __init__(
        self,
        *,
        temporal_sizes: Sequence[int] = TEMPORAL_SIZES,
        conv_types: Sequence[str] = CONV_TYPES,
        branch_kinds: Sequence[str] = BRANCH_KINDS,
        min_branches: int = 1,
        max_branches: int = 5,
        min_repeats: int = 1,
        max_repeats: int = 3,
    ) -> None:
        for field, values, universe in [
            ("temporal_sizes", temporal_sizes, TEMPORAL_SIZES),
            ("conv_types", conv_types, CONV_TYPES),
            ("branch_kinds", branch_kinds, BRANCH_KINDS),
        ]:
            check_type(field, values, (list, tuple))
            if not values:
                raise ValueError(f"{field} must not be empty, got {values!r}")
            for i, value in enumerate(values):
                check_choice(f"{field}[{i}]", value, universe)
        check_int("min_branches", min_branches, 1, MAX_BRANCHES)
        check_int("max_branches", max_branches, min_branches, MAX_BRANCHES)
        check_int("min_repeats", min_repeats, 1, MAX_REPEATS)
        check_int("max_repeats", max_repeats, min_repeats, MAX_REPEATS)
        self.temporal_sizes = tuple(sorted(set(temporal_sizes)))
        self.conv_types = tuple(dict.fromkeys(conv_types))
        self.branch_kinds = tuple(dict.fromkeys(branch_kinds))
        self.min_branches, self.max_branches = min_branches, max_branches
        self.min_repeats, self.max_repeats = min_repeats, max_repeats

    @classmethod
    def paper(cls) -> "EvaNetSpace":
        """The full ranges of the paper's space (all layer types and temporal sizes, up to 6 branches and repeats)."""
        return cls(max_branches=MAX_BRANCHES, max_repeats=MAX_REPEATS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "temporal_sizes": list(self.temporal_sizes),
            "conv_types": list(self.conv_types),
            "branch_kinds": list(self.branch_kinds),
            "min_branches": self.min_branches,
            "max_branches": self.max_branches,
            "min_repeats": self.min_repeats,
            "max_repeats": self.max_repeats,
        }

    # Genomes are edited as plain dictionaries (the published layout) and re-validated by ``from_published``.

    def _time(self, rng: numpy.random.Generator, avoid: int | None = None) -> int:
        return int(_pick(rng, [t for t in self.temporal_sizes if t != avoid] or self.temporal_sizes))

    def _conv(self, rng: numpy.random.Generator, avoid: str | None = None) -> str:
        return str(_pick(rng, [c for c in self.conv_types if c != avoid] or self.conv_types))

    def _branch(self, rng: numpy.random.Generator, kind: str | None = None) -> dict[str, Any]:
        kind = kind or str(_pick(rng, self.branch_kinds))
        branch: dict[str, Any] = {"layer": kind}
        for name in _BRANCH_FIELDS[kind]:
            branch[name] = self._conv(rng) if name.startswith("conv") else self._time(rng)
        return branch

    def sample(self, rng: numpy.random.Generator) -> EvaNetGenome:
        spec = {
            "stem": {"conv": self._conv(rng), "time": self._time(rng)},
            **{name: self._time(rng) for name in POOL_FIELDS},
            "blocks": [
                {
                    "repeats": int(rng.integers(self.min_repeats, self.max_repeats + 1)),
                    "layers": [
                        self._branch(rng) for _ in range(int(rng.integers(self.min_branches, self.max_branches + 1)))
                    ],
                }
                for _ in range(NUM_BLOCKS)
            ],
        }
        return EvaNetGenome.from_published(spec)

    def mutate(
        self,
        genome: Genome,
        rng: numpy.random.Generator,
        *,
        num_changes: int = 1,
        **context: Any,
    ) -> EvaNetGenome:
        """Apply ``num_changes`` elementary mutations (``context`` is ignored: EvaNet learns no mutation context).

        Elementary mutations, picked uniformly: change a branch's kind, conv type or temporal size; add or remove a
        branch; change a block's repeats; change the stem conv type or time or a max-pool time. Where the picked
        branch has no such field, or the block is at its branch limit, the branch is redrawn instead. Changes can
        cancel out, so the whole draw is retried until the child differs from the parent.
        """
        check_type("genome", genome, EvaNetGenome)
        check_int("num_changes", num_changes, 1, 1000)
        for _ in range(100):
            spec = copy.deepcopy(genome.to_published())
            for _ in range(num_changes):
                self._mutate_once(spec, rng)
            child = EvaNetGenome.from_published(spec)
            if child != genome:
                return child
        raise ValueError(f"genome cannot be mutated in this space: {genome.to_json()}")

    def _mutate_once(self, spec: dict[str, Any], rng: numpy.random.Generator) -> None:
        operations = ["branch_kind", "branch_time", "add_branch", "remove_branch", "stem_time", "pool_time"]
        if len(self.conv_types) > 1:
            operations += ["branch_conv", "stem_conv"]
        if self.max_repeats > self.min_repeats:
            operations.append("repeats")
        operation = str(_pick(rng, operations))
        block = spec["blocks"][int(rng.integers(NUM_BLOCKS))]
        layers = block["layers"]
        index = int(rng.integers(len(layers)))
        if operation == "branch_kind":
            kind = str(_pick(rng, [k for k in self.branch_kinds if k != layers[index]["layer"]] or self.branch_kinds))
            new = self._branch(rng, kind)
            # Keep the conv type / time the old branch had where the new kind uses them: a smaller step.
            new.update({name: layers[index][name] for name in _BRANCH_FIELDS[kind] if name in layers[index]})
            layers[index] = new
        elif operation == "branch_time":
            fields = [name for name in ("time", "time2") if name in layers[index]]
            if fields:
                name = str(_pick(rng, fields))
                layers[index][name] = self._time(rng, avoid=layers[index][name])
            else:
                layers[index] = self._branch(rng)
        elif operation == "branch_conv":
            fields = [name for name in ("conv", "conv2") if name in layers[index]]
            if fields:
                name = str(_pick(rng, fields))
                layers[index][name] = self._conv(rng, avoid=layers[index][name])
            else:
                layers[index] = self._branch(rng)
        elif operation == "add_branch" and len(layers) < self.max_branches:
            layers.insert(int(rng.integers(len(layers) + 1)), self._branch(rng))
        elif operation == "remove_branch" and len(layers) > max(1, self.min_branches):
            del layers[index]
        elif operation in ("add_branch", "remove_branch"):
            layers[index] = self._branch(rng)
        elif operation == "repeats":
            block["repeats"] = int(
                _pick(rng, [r for r in range(self.min_repeats, self.max_repeats + 1) if r != block["repeats"]])
            )
        elif operation == "stem_conv":
            spec["stem"]["conv"] = self._conv(rng, avoid=spec["stem"]["conv"])
        elif operation == "stem_time":
            spec["stem"]["time"] = self._time(rng, avoid=spec["stem"]["time"])
        else:
            name = str(_pick(rng, POOL_FIELDS))
            spec[name] = self._time(rng, avoid=spec[name])


def _pick(rng: numpy.random.Generator, choices: Sequence[Any]) -> Any:
    return choices[int(rng.integers(len(choices)))]
