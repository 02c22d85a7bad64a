"""EvaNet: the search space, and the family's import point for the genome (``videonas.genome.evanet_genome``).

EvaNet encouraged *diverse* results by mutating strongly early in the search and weakly later. Here one ``mutate`` call
applies ``num_changes`` elementary mutations; the schedule (e.g. 5 changes in the first rounds, 1 later) belongs to the
search strategy, which picks ``num_changes`` per round. The genome, ``distance`` and ``select_diverse`` are re-exported
here, so ``videonas.genome.evanet`` names everything EvaNet (as stored experiments and notebooks expect).
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy

from videonas.checks import check_choice, check_int, check_type
from videonas.genome.base import Genome, SearchSpace
from videonas.genome import evanet_genome
from videonas.genome.evanet_genome import (
    BRANCH_FIELDS,
    BRANCH_KINDS,
    CONV_TYPES,
    MAX_BRANCHES,
    MAX_REPEATS,
    NUM_BLOCKS,
    POOL_FIELDS,
    TEMPORAL_SIZES,
    Block,
    Branch,
    EvaNetGenome,
    Stem,
    branch_signature,
    distance,
    select_diverse,
)


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
        for name in BRANCH_FIELDS[kind]:
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
            new.update({name: layers[index][name] for name in BRANCH_FIELDS[kind] if name in layers[index]})
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


__all__ = [*evanet_genome.__all__, "EvaNetSpace"]  # the genome's names stay importable from here
