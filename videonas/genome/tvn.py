"""Tiny Video Networks: the search space, and the family's import point for the genome.

The genome, its validation and its shape plan live in ``videonas.genome.tvn_genome`` and are re-exported here, so
``videonas.genome.tvn`` names everything TVN (as stored experiments and notebooks expect).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Sequence

import numpy

from videonas.checks import check_choice, check_int, check_type
from videonas.genome.base import Genome, SearchSpace
from videonas.genome import tvn_genome, tvn_table_space
from videonas.genome.tvn_genome import (
    BLOCK_BOOL_FIELDS,
    BLOCK_INT_RANGES,
    BLOCKS_RANGE,
    FRAME_STRIDE_RANGE,
    IMAGE_SIZE_RANGE,
    INPUT_FIELDS,
    NUM_FRAMES_RANGE,
    POOL_TYPES,
    SPATIAL_TYPES,
    TEMPORAL_TYPES,
    TVNBlock,
    TVNBlockPlan,
    TVNGenome,
    TVNRepeatPlan,
    check_squeeze,
)


class TVNSpace(SearchSpace):
    """Sampling and one-field-at-a-time mutation of TVN genomes.

    The defaults are CPU-friendly, sized for the embedded 64x64 dataset on 2 cores: 32-64 px, up to 16 frames, 2-6
    blocks of at most 128 filters, 3 repeats. ``TVNSpace.paper()`` gives the paper's space (32-320 px, 1-128 frames,
    2-10 blocks, repeats 1-8). Forcing a frame count (the "TVN-16 frames" ablation) is ``TVNSpace(frame_counts=(16,))``.

    ``max_non_local_positions`` caps frames x height x width where a non-local layer sits: its attention matrix is that
    number squared (64 px x 4 frames would be 16384^2 floats per clip), so the default 1024 keeps a CPU batch in
    memory; ``None`` lifts the cap (the paper's setting). Squeeze ratios are a grid here (the released genomes hold
    arbitrary floats, which still load and mutate).

    ``table`` (``True`` or a menu) gives the enumerable sub-space of the tabulated benchmark instead (``__new__``).
    """

    family: ClassVar[str] = "tvn"
    genome_type: ClassVar[type[Genome]] = TVNGenome
    _MAX_TRIES = 1000

    def __new__(cls, *, table: Any = None, **options: Any) -> "TVNSpace":
        """``TVNSpace(table=...)`` is the closed sub-space of the tabulated benchmark
        (``TVNTableSpace``, below): one family, one registered space class, so a run
        configuration selects it with ``space: {family: tvn, options: {table: ...}}`` and its stores reopen it."""
        if table is not None and cls is TVNSpace:
            cls = TVNTableSpace
        return super().__new__(cls)

    def __init__(
        self,
        *,
        image_sizes: Sequence[int] = (32, 48, 64),
        frame_counts: Sequence[int] = (1, 2, 4, 8, 16),
        frame_strides: Sequence[int] = (1, 2, 3, 4),
        min_blocks: int = 2,
        max_blocks: int = 6,
        filters: Sequence[int] = (16, 32, 48, 64, 96, 128),
        max_repeats: int = 3,
        allow_non_local: bool = True,
        spatial_types: Sequence[str] = SPATIAL_TYPES,
        spatial_kernels: Sequence[int] = (1, 2, 3, 4, 5),
        spatial_strides: Sequence[int] = (1, 2, 3, 4),
        temporal_types: Sequence[str] = TEMPORAL_TYPES,
        temporal_kernels: Sequence[int] = (1, 2, 3, 4, 5),
        temporal_strides: Sequence[int] = (1, 2, 3),
        expands: Sequence[int] = (1, 2, 3, 4),
        squeeze_ratios: Sequence[float] = (0.0, 0.25, 0.5, 0.75),
        max_non_local_positions: int | None = 1024,
        table: Any = None,
    ) -> None:
        check_int("min_blocks", min_blocks, *BLOCKS_RANGE)
        check_int("max_blocks", max_blocks, min_blocks, BLOCKS_RANGE[1])
        check_int("max_repeats", max_repeats, *BLOCK_INT_RANGES["repeats"])
        check_type("allow_non_local", allow_non_local, bool)
        if max_non_local_positions is not None:
            check_int("max_non_local_positions", max_non_local_positions, 1, 10**9)
        self.max_non_local_positions = max_non_local_positions
        self.min_blocks, self.max_blocks, self.max_repeats = min_blocks, max_blocks, max_repeats
        self.allow_non_local = allow_non_local
        ints = {
            "image_size": (image_sizes, "image_sizes", IMAGE_SIZE_RANGE),
            "num_frames": (frame_counts, "frame_counts", NUM_FRAMES_RANGE),
            "frame_stride": (frame_strides, "frame_strides", FRAME_STRIDE_RANGE),
            "filters": (filters, "filters", BLOCK_INT_RANGES["filters"]),
            "spatial_kernel": (spatial_kernels, "spatial_kernels", BLOCK_INT_RANGES["spatial_kernel"]),
            "spatial_stride": (spatial_strides, "spatial_strides", BLOCK_INT_RANGES["spatial_stride"]),
            "temporal_kernel": (temporal_kernels, "temporal_kernels", BLOCK_INT_RANGES["temporal_kernel"]),
            "temporal_stride": (temporal_strides, "temporal_strides", BLOCK_INT_RANGES["temporal_stride"]),
            "expand": (expands, "expands", BLOCK_INT_RANGES["expand"]),
        }
        # The allowed values of every mutable field: sampling and mutation both read this one table.
        table: dict[str, tuple[Any, ...]] = {}
        for field, (values, option, (low, high)) in ints.items():
            table[field] = self._option(option, values, lambda name, v, lo=low, hi=high: check_int(name, v, lo, hi))
        for field, values, option, choices in (
            ("spatial_type", spatial_types, "spatial_types", SPATIAL_TYPES),
            ("temporal_type", temporal_types, "temporal_types", TEMPORAL_TYPES),
        ):
            table[field] = self._option(option, values, lambda name, v, c=choices: check_choice(name, v, c))
        table["squeeze"] = tuple(float(v) for v in self._option("squeeze_ratios", squeeze_ratios, check_squeeze))
        table["repeats"] = tuple(range(1, max_repeats + 1))
        table["context_gate"] = (False, True)
        table["skip"] = (False, True)
        table["non_local"] = (False, True) if allow_non_local else (False,)
        self._choices = table

    @staticmethod
    def _option(name: str, values: Sequence[Any], check) -> tuple[Any, ...]:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"{name} must be a non-empty sequence, got {values!r}")
        for index, value in enumerate(values):
            check(f"{name}[{index}]", value)
        return tuple(dict.fromkeys(values))

    @classmethod
    def paper(cls) -> "TVNSpace":
        """The paper's ranges: 32-320 px, 1-128 frames, 1-25 fps (strides 1-25 at 25 fps), 2-10 blocks, repeats 1-8.

        Layer-parameter ranges the paper does not state (kernels, strides, widths) are our genome's full ranges.
        """
        return cls(
            image_sizes=tuple(range(32, 321, 16)),
            frame_counts=tuple(range(1, 129)),
            frame_strides=tuple(range(1, 26)),
            min_blocks=2,
            max_blocks=10,
            filters=(16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 2048),
            max_repeats=8,
            spatial_kernels=tuple(range(1, 8)),
            temporal_kernels=tuple(range(1, 9)),
            temporal_strides=(1, 2, 3, 4),
            expands=tuple(range(1, 9)),
            squeeze_ratios=tuple(round(0.05 * i, 2) for i in range(20)),
            max_non_local_positions=None,
        )

    def check_cost(self, genome: TVNGenome) -> None:
        """Raise ``ValueError`` when a non-local layer would attend over more than ``max_non_local_positions``."""
        if self.max_non_local_positions is None:
            return
        for index, (block, (frames, size)) in enumerate(zip(genome.blocks, genome.feature_sizes())):
            if block.non_local and frames * size * size > self.max_non_local_positions:
                raise ValueError(
                    f"blocks[{index}].non_local attends over {frames}x{size}x{size} positions, more than "
                    f"max_non_local_positions={self.max_non_local_positions}"
                )

    def to_dict(self) -> dict[str, Any]:
        table = self._choices
        return {
            "family": self.family,
            "image_sizes": list(table["image_size"]),
            "frame_counts": list(table["num_frames"]),
            "frame_strides": list(table["frame_stride"]),
            "min_blocks": self.min_blocks,
            "max_blocks": self.max_blocks,
            "filters": list(table["filters"]),
            "max_repeats": self.max_repeats,
            "allow_non_local": self.allow_non_local,
            "spatial_types": list(table["spatial_type"]),
            "spatial_kernels": list(table["spatial_kernel"]),
            "spatial_strides": list(table["spatial_stride"]),
            "temporal_types": list(table["temporal_type"]),
            "temporal_kernels": list(table["temporal_kernel"]),
            "temporal_strides": list(table["temporal_stride"]),
            "expands": list(table["expand"]),
            "squeeze_ratios": list(table["squeeze"]),
            "max_non_local_positions": self.max_non_local_positions,
        }

    def _pick(self, field: str, rng: numpy.random.Generator, exclude: Any = None) -> Any:
        values = [v for v in self._choices[field] if exclude is None or v != exclude]
        value = values[int(rng.integers(len(values)))]
        return value.item() if isinstance(value, numpy.generic) else value

    def _sample_block(self, rng: numpy.random.Generator) -> TVNBlock:
        return TVNBlock(**{f.name: self._pick(f.name, rng) for f in dataclasses.fields(TVNBlock)})

    def sample(self, rng: numpy.random.Generator) -> TVNGenome:
        """A random genome; infeasible draws (strides too large for the image, costly non-local) are redrawn."""
        for _ in range(self._MAX_TRIES):
            num_blocks = int(rng.integers(self.min_blocks, self.max_blocks + 1))
            inputs = {field: self._pick(field, rng) for field in INPUT_FIELDS}
            blocks = tuple(self._sample_block(rng) for _ in range(num_blocks))
            try:
                genome = TVNGenome(**inputs, blocks=blocks)
                self.check_cost(genome)
            except ValueError:
                continue
            return genome
        raise RuntimeError(f"no feasible genome in {self._MAX_TRIES} draws; widen image_sizes or narrow strides")

    def _mutable_fields(self, fields: Sequence[str]) -> list[str]:
        return [f for f in fields if len(self._choices[f]) > 1]

    def _mutate_once(self, genome: TVNGenome, rng: numpy.random.Generator) -> TVNGenome:
        """One elementary change: one field of the input or of one block, or adding/removing a block."""
        blocks = list(genome.blocks)
        operations = ["field"]
        if len(blocks) < min(self.max_blocks, BLOCKS_RANGE[1]):
            operations.append("add")
        if len(blocks) > max(self.min_blocks, BLOCKS_RANGE[0]):
            operations.append("remove")
        # Adding/removing a block is rarer than a field change, as the paper's mutations are mostly one-field edits.
        weights = numpy.array([8.0 if op == "field" else 1.0 for op in operations])
        operation = operations[int(rng.choice(len(operations), p=weights / weights.sum()))]
        if operation == "add":
            blocks.insert(int(rng.integers(len(blocks) + 1)), self._sample_block(rng))
            return dataclasses.replace(genome, blocks=tuple(blocks))
        if operation == "remove":
            del blocks[int(rng.integers(len(blocks)))]
            return dataclasses.replace(genome, blocks=tuple(blocks))
        target = int(rng.integers(len(blocks) + 1)) - 1  # -1 is the input
        if target < 0:
            fields = self._mutable_fields(INPUT_FIELDS)
            if not fields:
                return genome
            field = fields[int(rng.integers(len(fields)))]
            return dataclasses.replace(genome, **{field: self._pick(field, rng, exclude=getattr(genome, field))})
        fields = self._mutable_fields([f.name for f in dataclasses.fields(TVNBlock)])
        field = fields[int(rng.integers(len(fields)))]
        value = self._pick(field, rng, exclude=getattr(blocks[target], field))
        blocks[target] = dataclasses.replace(blocks[target], **{field: value})
        return dataclasses.replace(genome, blocks=tuple(blocks))

    def mutate(
        self,
        genome: Genome,
        rng: numpy.random.Generator,
        *,
        num_changes: int = 1,
        **context: Any,
    ) -> TVNGenome:
        """A valid child ``num_changes`` elementary changes away; infeasible or unchanged results are redrawn.

        ``context`` is ignored (TVN learns no mutation context).
        """
        check_type("genome", genome, TVNGenome)
        check_int("num_changes", num_changes, 1, 100)
        try:
            self.check_cost(genome)
            check_child = self.check_cost
        except ValueError:  # a parent from a wider space: its children need not meet this space's cap either
            check_child = None
        for _ in range(self._MAX_TRIES):
            child = genome
            try:
                for _ in range(num_changes):
                    child = self._mutate_once(child, rng)
                if check_child is not None:
                    check_child(child)
            except ValueError:
                continue
            if child != genome:
                return child
        raise RuntimeError(f"no valid mutant of {genome.key} in {self._MAX_TRIES} tries")


class TVNTableSpace(tvn_table_space.TableMenu, TVNSpace):
    """The tabulated benchmark's closed sub-space: ``videonas.genome.tvn_table_space.TableMenu`` on this space."""


__all__ = [*tvn_genome.__all__, "TVNSpace", "TVNTableSpace"]  # the genome's names stay importable from here
