"""Tiny Video Networks: the genome (input + a list of blocks), its validation and its shape plan.

A TVN genome holds the input as well as the layers — image size, number of frames and frame stride are searched, which
is how TVNs learn that a scene-heavy dataset needs only two frames. Field names follow the authors' released JSON so
that TVN-1..4 load as data (``from_published``); our canonical form (``to_dict``) differs only in using real booleans.

``TVNGenome.shape_plan`` is the one place the per-block frame/size/width arithmetic lives: the genome's feasibility
check, the builder (``videonas.models.tvn``), its cost estimate and the plots all read it. The search space is in
``videonas.genome.tvn``, which re-exports everything here.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from typing import Any, ClassVar, Mapping

from videonas.checks import MAX_FRAMES, check_choice, check_float, check_int, check_keys, check_type
from videonas.genome.base import Genome

SPATIAL_TYPES = ("std", "depth", "maxpool", "avgpool")
TEMPORAL_TYPES = ("1d", "maxpool", "avgpool")
POOL_TYPES = ("maxpool", "avgpool")
IMAGE_SIZE_RANGE = (32, 320)
NUM_FRAMES_RANGE = (1, MAX_FRAMES)
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


def check_squeeze(field: str, value: Any) -> None:
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
        check_squeeze(f"{field}.squeeze", self.squeeze)
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
        self.shape_plan()

    def shape_plan(self, *, width_multiplier: float = 1.0) -> tuple[TVNBlockPlan, ...]:
        """Every block's repeats as ``videonas.models.tvn.build_tvn`` lays them out at ``width_multiplier``.

        As released, the first repeat of a block carries its strides and later ones have stride 1 and alternate the
        temporal layer off/on; a kernel of 1 is no layer and ignores its stride. Sizes follow "same" padding
        (ceil(size / stride)). A spatial stride larger than the map it strides would only look at padding, so such a
        genome is infeasible (``ValueError``); temporal strides are clipped to the frames left instead, so they never
        make a genome infeasible. Kernels are clipped to the map (see ``TVNRepeatPlan``).
        """
        check_float("width_multiplier", width_multiplier, 0.01, 100.0)
        frames, size, channels = self.num_frames, self.image_size, 3
        plan = []
        for index, block in enumerate(self.blocks):
            if block.spatial_kernel > 1 and size < block.spatial_stride:
                raise ValueError(
                    f"image_size too small for the strides: blocks[{index}] gets a {size}x{size} map, smaller than its "
                    f"spatial_stride {block.spatial_stride} (image_size={self.image_size})"
                )
            filters = max(8, round(block.filters * width_multiplier))
            repeats = []
            for repeat in range(block.repeats):
                step = _plan_repeat(block, frames, size, channels, filters, strided=repeat == 0,
                                    use_temporal=repeat % 2 == 0)
                frames, size, channels = step.out_frames, step.out_size, step.out_channels
                repeats.append(step)
            plan.append(TVNBlockPlan(tuple(repeats)))
        return tuple(plan)

    def feature_sizes(self) -> list[tuple[int, int]]:
        """(frames, pixels) after each block, from ``shape_plan``."""
        return [(block.out_frames, block.out_size) for block in self.shape_plan()]

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


@dataclasses.dataclass(frozen=True)
class TVNRepeatPlan:
    """One repeat of a block: its input and output as (frames, height = width, channels), and the layers between.

    ``spatial_kernel`` / ``temporal_kernel`` are the kernels the layers get, clipped to the map (convs to 2n-1 taps,
    whose farther taps would only meet "same" padding; pools to n), and ``None`` where the layer is absent (a kernel of
    1; for the temporal layer also a single frame or an odd repeat). ``spatial_channels`` / ``temporal_channels`` are
    the widths after each stage: a pool keeps its input's, a conv gives ``filters``. ``residual``: the repeat adds its
    1x1 projection shortcut (``skip`` set and the frame count unchanged), strided by ``projection_stride``.
    """

    in_frames: int
    in_size: int
    in_channels: int
    filters: int
    spatial_kernel: int | None
    spatial_stride: int
    spatial_channels: int
    temporal_kernel: int | None
    temporal_stride: int
    temporal_channels: int
    out_frames: int
    out_size: int
    out_channels: int
    residual: bool
    projection_stride: int


@dataclasses.dataclass(frozen=True)
class TVNBlockPlan:
    """A block's repeats; its input is the first repeat's, its output the last's."""

    repeats: tuple[TVNRepeatPlan, ...]

    @property
    def in_frames(self) -> int:
        return self.repeats[0].in_frames

    @property
    def in_size(self) -> int:
        return self.repeats[0].in_size

    @property
    def in_channels(self) -> int:
        return self.repeats[0].in_channels

    @property
    def out_frames(self) -> int:
        return self.repeats[-1].out_frames

    @property
    def out_size(self) -> int:
        return self.repeats[-1].out_size

    @property
    def out_channels(self) -> int:
        return self.repeats[-1].out_channels


@functools.lru_cache(maxsize=8192)  # genomes are frozen; a search asks again for every earlier trial each round
def network_key(genome: TVNGenome) -> str:
    """Equal for genomes that build the same network on the same clips: the input, every repeat's plan (kernels
    clipped to the map, a kernel that is no layer as ``None``), and the block fields the builder reads, each only
    where its layer exists (a temporal type at one frame builds nothing). The training seed is not part of it: a
    search trains such genomes once and copies the result, as it does for equal genomes."""
    blocks = []
    for block, block_plan in zip(genome.blocks, genome.shape_plan()):
        for step in block_plan.repeats:
            blocks.append({**dataclasses.asdict(step),
                           "spatial_type": block.spatial_type if step.spatial_kernel is not None else None,
                           "temporal_type": block.temporal_type if step.temporal_kernel is not None else None,
                           "squeeze": block.squeeze, "context_gate": block.context_gate, "non_local": block.non_local})
    text = json.dumps({"input": [genome.num_frames, genome.image_size, genome.frame_stride], "repeats": blocks},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _plan_repeat(block: TVNBlock, frames: int, size: int, channels: int, filters: int, *, strided: bool,
                 use_temporal: bool) -> TVNRepeatPlan:
    spatial_kernel, spatial_stride, spatial_channels, out_size = None, 1, channels, size
    if block.spatial_kernel > 1:
        pool = block.spatial_type in POOL_TYPES
        spatial_kernel = min(block.spatial_kernel, size if pool else 2 * size - 1)
        spatial_stride = block.spatial_stride if strided else 1
        spatial_channels = channels if pool else filters
        out_size = math.ceil(size / spatial_stride)
    temporal_kernel, temporal_stride, temporal_channels, out_frames = None, 1, spatial_channels, frames
    if use_temporal and frames > 1 and block.temporal_kernel > 1:
        pool = block.temporal_type in POOL_TYPES
        temporal_kernel = min(block.temporal_kernel, frames if pool else 2 * frames - 1)
        temporal_stride = min(block.temporal_stride if strided else 1, frames)
        temporal_channels = spatial_channels if pool else filters
        out_frames = math.ceil(frames / temporal_stride)
    return TVNRepeatPlan(
        in_frames=frames, in_size=size, in_channels=channels, filters=filters,
        spatial_kernel=spatial_kernel, spatial_stride=spatial_stride, spatial_channels=spatial_channels,
        temporal_kernel=temporal_kernel, temporal_stride=temporal_stride, temporal_channels=temporal_channels,
        out_frames=out_frames, out_size=out_size, out_channels=filters * block.expand,
        residual=block.skip and out_frames == frames, projection_stride=spatial_stride if out_size != size else 1,
    )


__all__ = [
    "BLOCK_BOOL_FIELDS", "BLOCK_INT_RANGES", "BLOCKS_RANGE", "FRAME_STRIDE_RANGE", "IMAGE_SIZE_RANGE", "INPUT_FIELDS",
    "NUM_FRAMES_RANGE", "POOL_TYPES", "SPATIAL_TYPES", "TEMPORAL_TYPES", "TVNBlock", "TVNBlockPlan", "TVNGenome",
    "TVNRepeatPlan", "check_squeeze", "network_key",
]
