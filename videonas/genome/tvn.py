"""Tiny Video Networks: the genome (input + a list of blocks) and its search space.

A TVN genome holds the input as well as the layers — image size, number of frames and frame stride are searched, which
is how TVNs learn that a scene-heavy dataset needs only two frames. Field names follow the authors' released JSON so
that TVN-1..4 load as data (``from_published``); our canonical form (``to_dict``) differs only in using real booleans.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, Mapping, Sequence

import numpy

from videonas.checks import check_choice, check_float, check_int, check_keys, check_type
from videonas.genome.base import Genome, SearchSpace

SPATIAL_TYPES = ("std", "depth", "maxpool", "avgpool")
TEMPORAL_TYPES = ("1d", "maxpool", "avgpool")
IMAGE_SIZE_RANGE = (32, 320)
NUM_FRAMES_RANGE = (1, 128)
# 30 covers "1 fps" from a 30-fps source; the paper's 1-25 fps maps to stride = round(source_fps / fps).
FRAME_STRIDE_RANGE = (1, 30)
BLOCKS_RANGE = (2, 10)
BLOCK_INT_RANGES = {
    "spatial_kernel": (1, 7),
    "spatial_stride": (1, 4),
    "temporal_kernel": (1, 8),
    "temporal_stride": (1, 4),
    "filters": (8, 2048),
    "expand": (1, 8),
    "repeats": (1, 8),
}
BLOCK_BOOL_FIELDS = ("context_gate", "non_local", "skip")
INPUT_FIELDS = ("image_size", "num_frames", "frame_stride")


def _check_squeeze(field: str, value: Any) -> None:
    check_float(field, value, 0.0, 1.0)
    if value >= 1.0:
        raise ValueError(f"{field} must be in [0, 1), got {value!r}")


@dataclasses.dataclass(frozen=True)
class TVNBlock:
    """One searched block, repeated ``repeats`` times (see ``videonas.models.tvn`` for the layers it becomes).

    ``filters`` is the width of the spatial/temporal layers and ``filters * expand`` the block's output width (the
    released code's default, non-inverted bottleneck). ``squeeze`` is the squeeze-excitation ratio, 0 meaning no SE.
    """

    spatial_type: str = "std"
    spatial_kernel: int = 3
    spatial_stride: int = 1
    temporal_type: str = "1d"
    temporal_kernel: int = 1
    temporal_stride: int = 1
    filters: int = 32
    expand: int = 1
    squeeze: float = 0.0
    context_gate: bool = False
    non_local: bool = False
    skip: bool = False
    repeats: int = 1

    def validate(self, field: str = "block") -> None:
        check_choice(f"{field}.spatial_type", self.spatial_type, SPATIAL_TYPES)
        check_choice(f"{field}.temporal_type", self.temporal_type, TEMPORAL_TYPES)
        for name, (low, high) in BLOCK_INT_RANGES.items():
            check_int(f"{field}.{name}", getattr(self, name), low, high)
        _check_squeeze(f"{field}.squeeze", self.squeeze)
        for name in BLOCK_BOOL_FIELDS:
            check_type(f"{field}.{name}", getattr(self, name), bool)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["squeeze"] = float(self.squeeze)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], field: str = "block") -> "TVNBlock":
        names = [f.name for f in dataclasses.fields(cls)]
        check_keys(field, data, names)
        values = dict(data)
        check_float(f"{field}.squeeze", values["squeeze"], 0.0, 1.0)
        values["squeeze"] = float(values["squeeze"])
        block = cls(**values)
        block.validate(field)
        return block

    def to_published(self) -> dict[str, Any]:
        data = self.to_dict()
        for name in BLOCK_BOOL_FIELDS:
            data[name] = int(data[name])
        return data

    @classmethod
    def from_published(cls, spec: Mapping[str, Any], field: str = "block") -> "TVNBlock":
        """The released JSON writes the flags as 0/1; anything else (e.g. a non-local bottleneck width) is refused."""
        names = [f.name for f in dataclasses.fields(cls)]
        check_keys(field, spec, names)
        values = dict(spec)
        for name in BLOCK_BOOL_FIELDS:
            check_choice(f"{field}.{name}", values[name], (0, 1))
            values[name] = bool(values[name])
        return cls.from_dict(values, field)


@dataclasses.dataclass(frozen=True)
class TVNGenome(Genome):
    """Input (``image_size`` px square, ``num_frames``, ``frame_stride``) plus 2-10 blocks. Validated on construction.

    ``frame_stride`` is the number of source frames between two sampled frames, which is how the released genomes
    encode the frame rate: see ``frame_rate`` and ``stride_for_fps``.
    """

    FAMILY: ClassVar[str] = "tvn"

    image_size: int
    num_frames: int
    frame_stride: int
    blocks: tuple[TVNBlock, ...]

    def __post_init__(self) -> None:
        if isinstance(self.blocks, list):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        self.validate()

    def validate(self) -> None:
        check_int("image_size", self.image_size, *IMAGE_SIZE_RANGE)
        check_int("num_frames", self.num_frames, *NUM_FRAMES_RANGE)
        check_int("frame_stride", self.frame_stride, *FRAME_STRIDE_RANGE)
        check_type("blocks", self.blocks, tuple)
        low, high = BLOCKS_RANGE
        if not low <= len(self.blocks) <= high:
            raise ValueError(f"blocks must have between {low} and {high} entries, got {len(self.blocks)}")
        for index, block in enumerate(self.blocks):
            check_type(f"blocks[{index}]", block, TVNBlock)
            block.validate(f"blocks[{index}]")
        self.feature_sizes()

    def feature_sizes(self) -> list[tuple[int, int]]:
        """(frames, pixels) after each block, as the builder computes them ("same" padding: ceil(size / stride)).

        A stride larger than the map it strides would only look at padding, so such a genome is infeasible. Temporal
        strides are clipped to the frames left instead (as the builder does), so they never make a genome infeasible.
        A kernel of 1 is no layer and ignores its stride, as in the released code.
        """
        frames, size = self.num_frames, self.image_size
        sizes = []
        for index, block in enumerate(self.blocks):
            if block.spatial_kernel > 1 and size < block.spatial_stride:
                raise ValueError(
                    f"image_size too small for the strides: blocks[{index}] gets a {size}x{size} map, smaller than its "
                    f"spatial_stride {block.spatial_stride} (image_size={self.image_size})"
                )
            if block.spatial_kernel > 1:
                size = math.ceil(size / block.spatial_stride)
            if block.temporal_kernel > 1:
                frames = _strided(frames, block.temporal_stride)
            sizes.append((frames, size))
        return sizes

    def frame_rate(self, source_fps: float) -> float:
        """Sampled frames per second for a video recorded at ``source_fps``."""
        check_float("source_fps", source_fps, 1e-6, math.inf)
        return source_fps / self.frame_stride

    def clip_seconds(self, source_fps: float) -> float:
        """Seconds of video the clip spans (num_frames samples, frame_stride apart)."""
        check_float("source_fps", source_fps, 1e-6, math.inf)
        return self.num_frames * self.frame_stride / source_fps

    @staticmethod
    def stride_for_fps(fps: float, source_fps: float) -> int:
        """The paper's "frame rate 1-25 fps" as a stride: round(source_fps / fps), at least 1."""
        check_float("fps", fps, 1e-6, math.inf)
        check_float("source_fps", source_fps, 1e-6, math.inf)
        return max(1, round(source_fps / fps))

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.FAMILY,
            "image_size": self.image_size,
            "num_frames": self.num_frames,
            "frame_stride": self.frame_stride,
            "blocks": [block.to_dict() for block in self.blocks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TVNGenome":
        check_keys("genome", data, ("family", *INPUT_FIELDS, "blocks"))
        if data["family"] != cls.FAMILY:
            raise ValueError(f"family must be {cls.FAMILY!r}, got {data['family']!r}")
        return cls._from_blocks(data, TVNBlock.from_dict)

    def to_published(self) -> dict[str, Any]:
        """The authors' JSON form (flags as 0/1); ``from_published(g.to_published()) == g``."""
        data = {name: getattr(self, name) for name in INPUT_FIELDS}
        data["blocks"] = [block.to_published() for block in self.blocks]
        return data

    @classmethod
    def from_published(cls, spec: Mapping[str, Any]) -> "TVNGenome":
        spec = {k: v for k, v in spec.items() if not k.startswith("_")}
        check_keys("spec", spec, (*INPUT_FIELDS, "blocks"))
        return cls._from_blocks(spec, TVNBlock.from_published)

    @classmethod
    def _from_blocks(cls, data: Mapping[str, Any], decode_block) -> "TVNGenome":
        blocks = data["blocks"]
        if not isinstance(blocks, (list, tuple)):
            raise ValueError(f"blocks must be a list, got {blocks!r} ({type(blocks).__name__})")
        decoded = tuple(decode_block(block, f"blocks[{index}]") for index, block in enumerate(blocks))
        return cls(**{name: data[name] for name in INPUT_FIELDS}, blocks=decoded)


class TVNSpace(SearchSpace):
    """Sampling and one-field-at-a-time mutation of TVN genomes.

    The defaults are CPU-friendly, sized for the embedded 64x64 dataset on 2 cores: 32-64 px, up to 16 frames, 2-6
    blocks of at most 128 filters, 3 repeats. ``TVNSpace.paper()`` gives the paper's space (32-320 px, 1-128 frames,
    2-10 blocks, repeats 1-8). Forcing a frame count (the "TVN-16 frames" ablation) is ``TVNSpace(frame_counts=(16,))``.

    ``max_non_local_positions`` caps frames x height x width where a non-local layer sits: its attention matrix is that
    number squared (64 px x 4 frames would be 16384^2 floats per clip), so the default 1024 keeps a CPU batch in
    memory; ``None`` lifts the cap (the paper's setting). Squeeze ratios are a grid here (the released genomes hold
    arbitrary floats, which still load and mutate).
    """

    family: ClassVar[str] = "tvn"
    genome_type: ClassVar[type[Genome]] = TVNGenome
    _MAX_TRIES = 1000

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
        table["squeeze"] = tuple(float(v) for v in self._option("squeeze_ratios", squeeze_ratios, _check_squeeze))
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


__all__ = ["TVNBlock", "TVNGenome", "TVNSpace", "SPATIAL_TYPES", "TEMPORAL_TYPES"]


def _strided(frames: int, stride: int) -> int:
    """Frames after a temporal layer of ``stride`` (clipped to the frames left; one frame skips the layer)."""
    return frames if frames <= 1 else math.ceil(frames / min(stride, frames))
