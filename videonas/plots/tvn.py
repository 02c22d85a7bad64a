"""Draw a Tiny Video Network block by block: the input, one box per searched block, the classifier head.

Each block box lists what the builder makes of it (``videonas.models.tvn``): repeats, the spatial layer with its kernel
and stride, the temporal layer, the bottleneck and output widths, and the map size it leaves; the lightweight
elements the paper finds TVNs prefer (squeeze-excitation, context gating, non-local, residual) are coloured tags, so
a reader sees at a glance what evolution chose. Patches carry a ``gid`` ("tvn-input", "tvn-block", "tvn-head",
"tvn-marker-SE", ...) so tests and callers can find them.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from videonas.checks import check_type
from videonas.genome.tvn import TVNBlock, TVNGenome

MARKER_COLOURS = {"SE": "#e69f00", "CG": "#56b4e9", "NL": "#cc79a7", "res": "#009e73"}
SPATIAL_COLOURS = {"std": "#dbe9f6", "depth": "#e3f1dc", "maxpool": "#f3e3d3", "avgpool": "#f6efc9"}
_BOX_WIDTH, _BOX_GAP, _BOX_HEIGHT = 1.8, 0.45, 2.6


def block_markers(block: TVNBlock) -> list[str]:
    """The lightweight elements a block uses, in layer order: SE, CG (context gating), NL (non-local), res (skip)."""
    markers = []
    if block.squeeze > 0:
        markers.append("SE")
    if block.context_gate:
        markers.append("CG")
    if block.non_local:
        markers.append("NL")
    if block.skip:
        markers.append("res")
    return markers


def block_lines(block: TVNBlock, index: int, frames: int, pixels: int) -> list[str]:
    """The text of one block box; ``frames`` x ``pixels`` is the map the block outputs."""
    if block.spatial_kernel == 1:
        spatial = "no spatial layer" + (f" /{block.spatial_stride}" if block.spatial_stride > 1 else "")
    else:
        spatial = f"{block.spatial_type} {block.spatial_kernel}x{block.spatial_kernel} /{block.spatial_stride}"
    if block.temporal_kernel == 1:
        temporal = "no temporal layer" + (f" /{block.temporal_stride}" if block.temporal_stride > 1 else "")
    else:
        temporal = f"time {block.temporal_type} k{block.temporal_kernel} /{block.temporal_stride}"
    lines = [
        f"block {index}  x{block.repeats}",
        spatial,
        temporal,
        f"{block.filters} -> {block.filters * block.expand} ch",
    ]
    if block.squeeze > 0:
        lines.append(f"SE ratio {block.squeeze:.2g}")
    lines.append(f"out {frames}f x {pixels}px")
    return lines


def draw_tvn(genome: TVNGenome, *, ax: Any = None, title: str | None = None, source_fps: float | None = None):
    """Draw ``genome`` left to right on ``ax`` (a new figure if ``None``); returns the axes."""
    check_type("genome", genome, TVNGenome)
    boxes = len(genome.blocks) + 2
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 1.55 * boxes, 3.4))
    sizes = genome.feature_sizes()
    input_lines = ["input", f"{genome.image_size}x{genome.image_size} px", f"{genome.num_frames} frames",
                   f"stride {genome.frame_stride}"]
    if source_fps is not None:
        input_lines.append(f"{genome.frame_rate(source_fps):.3g} fps, {genome.clip_seconds(source_fps):.2g} s")
    _box(ax, 0, input_lines, face="#eeeeee", gid="tvn-input")
    for index, block in enumerate(genome.blocks):
        frames, pixels = sizes[index]
        _box(ax, index + 1, block_lines(block, index, frames, pixels), face=SPATIAL_COLOURS[block.spatial_type],
             gid="tvn-block")
        _markers(ax, index + 1, block_markers(block))
    _box(ax, boxes - 1, ["head", "global avg pool", "dropout", "dense -> classes"], face="#eeeeee", gid="tvn-head")
    for position in range(boxes - 1):
        start = position * (_BOX_WIDTH + _BOX_GAP) + _BOX_WIDTH
        ax.add_patch(FancyArrowPatch((start + 0.04, 0.0), (start + _BOX_GAP - 0.04, 0.0), arrowstyle="-|>",
                                     mutation_scale=10, color="#555555"))
    ax.set_xlim(-0.15, boxes * (_BOX_WIDTH + _BOX_GAP) - _BOX_GAP + 0.15)
    ax.set_ylim(-_BOX_HEIGHT / 2 - 0.55, _BOX_HEIGHT / 2 + 0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


def _box(ax: Any, position: int, lines: list[str], *, face: str, gid: str) -> None:
    left = position * (_BOX_WIDTH + _BOX_GAP)
    patch = FancyBboxPatch((left, -_BOX_HEIGHT / 2), _BOX_WIDTH, _BOX_HEIGHT, boxstyle="round,pad=0.02,rounding_size=0.1",
                           facecolor=face, edgecolor="#333333", linewidth=1.0)
    patch.set_gid(gid)
    ax.add_patch(patch)
    ax.text(left + _BOX_WIDTH / 2, _BOX_HEIGHT / 2 - 0.12, lines[0], ha="center", va="top", fontsize=8,
            fontweight="bold")
    ax.text(left + _BOX_WIDTH / 2, _BOX_HEIGHT / 2 - 0.45, "\n".join(lines[1:]), ha="center", va="top", fontsize=7,
            linespacing=1.35)


def _markers(ax: Any, position: int, markers: list[str]) -> None:
    """Coloured tags under a block box, one per lightweight element."""
    left = position * (_BOX_WIDTH + _BOX_GAP)
    width = _BOX_WIDTH / 4
    for slot, marker in enumerate(markers):
        patch = FancyBboxPatch((left + slot * width + 0.03, -_BOX_HEIGHT / 2 - 0.45), width - 0.06, 0.32,
                               boxstyle="round,pad=0.01,rounding_size=0.05", facecolor=MARKER_COLOURS[marker],
                               edgecolor="none")
        patch.set_gid(f"tvn-marker-{marker}")
        ax.add_patch(patch)
        ax.text(left + (slot + 0.5) * width, -_BOX_HEIGHT / 2 - 0.29, marker, ha="center", va="center", fontsize=7,
                color="white", fontweight="bold")


def drawn_blocks(ax: Any) -> int:
    """How many block boxes ``ax`` holds (for tests and sanity checks)."""
    return sum(patch.get_gid() == "tvn-block" for patch in ax.patches)


__all__ = ["block_lines", "block_markers", "draw_tvn", "drawn_blocks", "MARKER_COLOURS"]
