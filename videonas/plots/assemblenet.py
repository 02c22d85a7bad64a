"""Draw an AssembleNet connectivity graph: stems at the bottom, blocks by level upward, edge darkness = learned weight.

Matplotlib only (no graphviz) so the drawing works wherever the package installs; the paper's figures also show
stronger connections as darker edges. No backend is forced, so a notebook shows the figure inline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from videonas.genome.assemblenet import AssembleNetGenome, Block, Stem, edges, node_level
from videonas.plots import curves

STEM_COLOURS = {"rgb": "#d9534f", "flow": "#5b8bd9"}
BLOCK_COLOUR = "#f2f2f2"
MIN_ALPHA = 0.1


def edge_alphas(genome: AssembleNetGenome,
                edge_weights: Mapping[tuple[int, int], float] | None = None) -> dict[tuple[int, int], float]:
    """Alpha per edge: uniform 0.6 without weights, else min-max rescaled weight in [MIN_ALPHA, 1] (monotone)."""
    connections = edges(genome)
    if not edge_weights:
        return {edge: 0.6 for edge in connections}
    missing = [edge for edge in connections if edge not in edge_weights]
    if missing:
        raise ValueError(f"edge_weights lacks edges {missing}")
    values = [float(edge_weights[edge]) for edge in connections]
    low, high = min(values), max(values)
    span = high - low
    # min(): MIN_ALPHA + (1 - MIN_ALPHA) * 1.0 rounds to just above 1, which matplotlib refuses.
    return {edge: (1.0 if span == 0 else min(1.0, MIN_ALPHA + (1 - MIN_ALPHA) * (float(edge_weights[edge]) - low) / span))
            for edge in connections}


def node_positions(genome: AssembleNetGenome) -> dict[int, tuple[float, float]]:
    """(x, y) per node: y = level + 1 (stems at 0), nodes of one level spread evenly along x."""
    by_level: dict[int, list[int]] = {}
    for index, node in enumerate(genome.nodes):
        by_level.setdefault(node_level(node), []).append(index)
    positions = {}
    for level, indices in by_level.items():
        for rank, index in enumerate(indices):
            positions[index] = ((rank + 1) / (len(indices) + 1), float(level + 1))
    return positions


def edge_path(start: tuple[float, float], end: tuple[float, float], *, bend: float) -> tuple[list, list]:
    """Points of an edge: straight between adjacent levels; an edge that skips levels bows sideways (a quadratic
    Bezier curve, ``bend`` x the skipped levels x 0.12 of the width) so it does not run through the nodes between."""
    (x0, y0), (x1, y1) = start, end
    skipped = max(0.0, abs(y1 - y0) - 1)
    if skipped == 0:
        return [x0, x1], [y0, y1]
    cx, cy = (x0 + x1) / 2 + bend * 0.24 * skipped, (y0 + y1) / 2
    steps = [i / 24 for i in range(25)]
    xs = [(1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t ** 2 * x1 for t in steps]
    ys = [(1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t ** 2 * y1 for t in steps]
    return xs, ys


def draw_assemblenet(genome: AssembleNetGenome, *,
                     edge_weights: Mapping[tuple[int, int], float] | None = None,
                     ax: plt.Axes | None = None, title: str | None = None) -> plt.Figure:
    """Draw the graph; returns the figure. Edge lines carry ``gid`` "edge:src->dst" so tests can find them."""
    if not isinstance(genome, AssembleNetGenome):
        raise ValueError(f"genome must be an AssembleNetGenome, got {type(genome).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5))
    positions = node_positions(genome)
    alphas = edge_alphas(genome, edge_weights)
    for (source, target), alpha in alphas.items():
        xs, ys = edge_path(positions[source], positions[target], bend=0.5 if source % 2 else -0.5)
        line, = ax.plot(xs, ys, color="black", alpha=alpha, linewidth=0.8 + 2.0 * alpha, zorder=1)
        line.set_gid(f"edge:{source}->{target}")
    for index, node in enumerate(genome.nodes):
        x, y = positions[index]
        if isinstance(node, Stem):
            label, colour = f"{node.modality}\nd={node.temporal_dilation}", STEM_COLOURS[node.modality]
        elif isinstance(node, Block):
            label, colour = f"{node.filters}f\nd={node.temporal_dilation}", BLOCK_COLOUR
        else:
            raise ValueError(f"genome.nodes[{index}] has unknown type {type(node).__name__}")
        ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=2,
                bbox={"boxstyle": "round", "facecolor": colour, "edgecolor": "black"})
    ax.set_ylim(-0.5, max(y for _, y in positions.values()) + 0.5)
    ax.set_xlim(0, 1)
    ax.set_yticks(range(int(max(y for _, y in positions.values())) + 1))
    ax.set_yticklabels(["stems"] + [f"level {i}" for i in range(int(max(y for _, y in positions.values())))])
    ax.set_xticks([])
    ax.set_title(title or ("AssembleNet (edge darkness = learned weight)" if edge_weights else "AssembleNet"))
    return ax.figure


EDGE_SHADE_NOTE = ("edge darkness and width = learned connection weight sigmoid(w), rescaled per graph from its "
                   "weakest (light) to its strongest (dark) edge")


def draw_assemblenets(panels, *, title: str | None = None) -> plt.Figure:
    """Graphs side by side (``[{"genome", "edge_weights", "title"}]``, e.g. from
    ``videonas.experiments.assemblenet_search.panels``) with one legend that says what the edge shade encodes."""
    if not panels:
        raise ValueError("panels must hold at least one graph, got none")
    figure, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 5.6), squeeze=False)
    for panel, ax in zip(panels, axes[0]):
        draw_assemblenet(panel["genome"], edge_weights=panel.get("edge_weights"), ax=ax, title=panel.get("title"))
        ax.title.set_fontsize(9)
    handles = [Line2D([], [], color="black", alpha=MIN_ALPHA, linewidth=0.8 + 2.0 * MIN_ALPHA,
                      label="weakest connection of the graph"),
               Line2D([], [], color="black", alpha=1.0, linewidth=2.8, label="strongest connection of the graph")]
    handles += [Line2D([], [], marker="s", linestyle="", markersize=9, markerfacecolor=colour,
                       markeredgecolor="black", label=f"{modality} stem") for modality, colour in STEM_COLOURS.items()]
    figure.legend(handles=handles, loc="lower center", ncol=4, fontsize=8, frameon=False,
                  title=EDGE_SHADE_NOTE, title_fontsize=8)
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout(rect=(0, 0.1, 1, 0.95 if title else 1))
    return figure


def search_figure(runs: Mapping[str, Any], verdicts: Sequence[Any], *, metric: str) -> plt.Figure:
    """``videonas.experiments.assemblenet_search``'s verdicts figure: best-so-far validation ``metric`` of each arm
    (``{label: per-seed fitness sequences}``) beside each question's difference with its interval."""
    figure, axes = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1.2]})
    curves.plot_best_so_far(runs, ax=axes[0], ylabel=f"best validation {metric} so far",
                            title="AssembleNet four-stream search")
    curves.plot_verdicts(verdicts, ax=axes[1])
    figure.tight_layout()
    return figure
