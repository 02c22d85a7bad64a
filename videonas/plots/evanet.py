"""Draw an EvaNet genome in the paper's colour code: the network runs top to bottom, each evolved module is a frame
whose parallel branches stand side by side and whose sequential layers are stacked inside a branch.

Colours (as in the EvaNet paper's figures): 3D conv blue, (2+1)D conv orange, iTGM green, max-pool grey, average pool
purple (only the head's pool: the released search space has no average-pool branch, and neither has ours), 1x1 conv
pink; the temporal filter size is written in each box. A module's title gives its repeats and width;
the builder (``videonas.models.evanet``) turns the temporal extent off (t=1) on odd repeats. Box patches carry a
``gid`` of ``"evanet-<type>"`` (types as in ``LAYER_COLOURS``), frames ``"evanet-module"``, so tests can count them.
"""

from __future__ import annotations

import collections
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy
from matplotlib import ticker
from matplotlib.patches import FancyBboxPatch, Patch, Rectangle

from videonas.checks import check_type
from videonas.genome.evanet import Block, Branch, EvaNetGenome
from videonas.plots import curves

LAYER_COLOURS = {"3d": "#4a87d6", "2plus1d": "#f0993e", "itgm": "#55b05a", "maxpool": "#a8a8a8",
                 "avgpool": "#9a6fc8", "1x1": "#f2a2c4"}
LAYER_NAMES = {"3d": "3D", "2plus1d": "(2+1)D", "itgm": "iTGM", "maxpool": "max-pool", "avgpool": "avg-pool (head)",
               "1x1": "1x1"}
MODULE_FILTERS = (256, 512, 1024, 2048)
_BOX_W, _BOX_H, _GAP_X, _PITCH = 1.0, 0.5, 0.14, 0.68

Layer = tuple[str, "int | None"]


def branch_layers(branch: Branch) -> list[Layer]:
    """The sequential layers of one branch, input first, as ``(type, temporal size or None)``."""
    if branch.layer == "single":
        return [("1x1", None)]
    if branch.layer == "maxpoolconv":
        return [("maxpool", branch.time), ("1x1", None)]
    if branch.layer == "conv":
        return [("1x1", None), (branch.conv, branch.time)]
    return [("1x1", None), (branch.conv, branch.time), (branch.conv2, branch.time2)]


def module_layers(block: Block) -> list[list[Layer]]:
    """One column of layers per parallel branch."""
    return [branch_layers(branch) for branch in block.layers]


def layer_counts(genome: EvaNetGenome, *, modules_only: bool = False) -> collections.Counter:
    """How many boxes of each type ``draw_evanet`` draws: the modules' layers, plus (unless ``modules_only``) the
    stem, the four max-pools and the head's average pool and 1x1 classifier."""
    counts = collections.Counter(layer for block in genome.blocks for column in module_layers(block)
                                 for layer, _ in column)
    if not modules_only:
        counts.update([genome.stem.conv, "maxpool", "maxpool", "maxpool", "maxpool", "avgpool", "1x1"])
    return counts


def _label(layer: str, time: int | None) -> str:
    return LAYER_NAMES[layer] if time is None else f"{LAYER_NAMES[layer]} t{time}"


def _box(ax: Any, x: float, y: float, layer: str, text: str, *, width: float = _BOX_W) -> None:
    """A layer box whose top-centre is (x, y)."""
    patch = FancyBboxPatch((x - width / 2, y - _BOX_H), width, _BOX_H, boxstyle="round,pad=0.0,rounding_size=0.08",
                           facecolor=LAYER_COLOURS[layer], edgecolor="#333333", linewidth=0.8)
    patch.set_gid(f"evanet-{layer}")
    ax.add_patch(patch)
    ax.text(x, y - _BOX_H / 2, text, ha="center", va="center", fontsize=6.5)


def draw_evanet(genome: EvaNetGenome, *, ax: Any = None, title: str | None = None,
                width_multiplier: float = 1.0, legend: bool = True):
    """Draw ``genome`` top to bottom on ``ax`` (a new figure if ``None``); returns the axes."""
    check_type("genome", genome, EvaNetGenome)
    widest = max(len(block.layers) for block in genome.blocks)
    half = max(widest * (_BOX_W + _GAP_X), 2.0) / 2 + 0.2
    if ax is None:
        _, ax = plt.subplots(figsize=(max(3.2, 2 * half * 0.75), 9.5))
    y = 0.0
    _box(ax, 0, y, genome.stem.conv, f"stem {_label(genome.stem.conv, genome.stem.time)}, 7x7", width=1.9)
    y -= _PITCH
    pools = [genome.max_pool1_time, 1, genome.max_pool3_time, genome.max_pool4_time]
    for index, block in enumerate(genome.blocks):
        _box(ax, 0, y, "maxpool", _label("maxpool", pools[index]), width=1.9)
        y -= _PITCH
        y = _module(ax, y, block, index, half, width_multiplier)
    _box(ax, 0, y, "avgpool", "global avg-pool", width=1.9)
    y -= _PITCH
    _box(ax, 0, y, "1x1", "1x1 -> classes", width=1.9)
    ax.set_xlim(-half - 0.05, half + 0.05)
    ax.set_ylim(y - _BOX_H - 0.1, 0.25)
    ax.axis("off")
    if legend:
        handles = [Patch(facecolor=colour, edgecolor="#333333", label=LAYER_NAMES[layer])
                   for layer, colour in LAYER_COLOURS.items()]
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def _module(ax: Any, top: float, block: Block, index: int, half: float, width_multiplier: float) -> float:
    """Draw module ``index`` below ``top``; returns the y where the next stage starts."""
    columns = module_layers(block)
    depth = max(len(column) for column in columns)
    width = max(1, int(round(MODULE_FILTERS[index] * width_multiplier)))
    repeats = f"x{block.repeats}" + (" (t on/off)" if block.repeats > 1 else "")
    ax.text(-half + 0.08, top - 0.02, f"module {index + 1}  {repeats}, {width} ch", ha="left", va="top", fontsize=7,
            fontweight="bold")
    y0 = top - 0.32
    span = len(columns) * (_BOX_W + _GAP_X) - _GAP_X
    for position, column in enumerate(columns):
        x = -span / 2 + _BOX_W / 2 + position * (_BOX_W + _GAP_X)
        for row, (layer, time) in enumerate(column):
            _box(ax, x, y0 - row * _PITCH, layer, _label(layer, time))
    bottom = y0 - depth * _PITCH + (_PITCH - _BOX_H) - 0.02
    ax.text(0, bottom - 0.02, "concat + residual, ReLU", ha="center", va="top", fontsize=6, color="#444444")
    bottom -= 0.26
    frame = Rectangle((-half, bottom), 2 * half, top - bottom, fill=False, linestyle="--", linewidth=0.8,
                      edgecolor="#777777")
    frame.set_gid("evanet-module")
    ax.add_patch(frame)
    return bottom - 0.12


def drawn_layers(ax: Any) -> collections.Counter:
    """Layer boxes on ``ax`` by type (read back from the patches' ``gid``)."""
    return collections.Counter(patch.get_gid().removeprefix("evanet-") for patch in ax.patches
                               if (patch.get_gid() or "").startswith("evanet-") and patch.get_gid() != "evanet-module")


def draw_evanets(genomes: Sequence[EvaNetGenome], *, titles: Sequence[str] | None = None,
                 width_multiplier: float = 1.0):
    """Several genomes side by side (one axes each, one shared legend); returns the figure."""
    if not genomes:
        raise ValueError("genomes must not be empty")
    if titles is not None and len(titles) != len(genomes):
        raise ValueError(f"titles must have {len(genomes)} entries, got {len(titles)}")
    ratios = [max(2.0, max(len(b.layers) for b in g.blocks) * (_BOX_W + _GAP_X)) + 0.4 for g in genomes]
    figure, axes = plt.subplots(1, len(genomes), figsize=(0.8 * sum(ratios) + 0.5, 9.5),
                                gridspec_kw={"width_ratios": ratios}, squeeze=False)
    for position, (genome, ax) in enumerate(zip(genomes, axes[0])):
        draw_evanet(genome, ax=ax, title=None if titles is None else titles[position],
                    width_multiplier=width_multiplier, legend=position == len(genomes) // 2)
    return figure


def plot_diversity(data: Any):
    """Three panels from ``videonas.experiments.evanet_search.diversity``: distances between one seed's best evolved nets,
    the histogram of pairwise distances in each arm, and each child's distance to its parent by candidate index (the
    schedule's large mutations early, small ones late). Returns the figure."""
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    matrix, labels = numpy.asarray(data["matrix"]), list(data["labels"])
    image = axes[0].imshow(matrix, cmap="viridis", vmin=0, vmax=max(1, int(matrix.max())))
    axes[0].set_xticks(range(len(labels)), labels)
    axes[0].set_yticks(range(len(labels)), labels)
    axes[0].set_xlabel("trial index")
    for (i, j), value in numpy.ndenumerate(matrix):
        axes[0].text(j, i, str(value), ha="center", va="center", fontsize=8,
                     color="white" if value < max(1, matrix.max()) / 2 else "black")
    axes[0].set_title(f"distance between seed {data['seed']}'s best nets", fontsize=10)
    figure.colorbar(image, ax=axes[0], fraction=0.046, label="module components apart")
    high = max([1, *[int(max(values)) for values in data["pairwise"].values() if values]])
    for label, values in data["pairwise"].items():
        if values:
            axes[1].hist(values, bins=numpy.arange(high + 2) - 0.5, alpha=0.5, label=f"{label} ({len(values)} pairs)")
    axes[1].set_xlabel("pairwise distance (module components)")
    axes[1].set_ylabel("pairs of finished candidates")
    axes[1].legend(fontsize=8)
    axes[1].set_title("diversity within each search (all seeds)", fontsize=10)
    if data["steps"]:
        indices, distances = zip(*data["steps"])
        jitter = numpy.random.default_rng(0).uniform(-0.15, 0.15, len(distances))
        axes[2].scatter(indices, numpy.asarray(distances) + jitter, s=14, alpha=0.6)
    axes[2].set_xlabel("candidate index")
    axes[2].set_ylabel("distance to its parent (jittered)")
    axes[2].set_ylim(bottom=-0.5)
    for axis in (axes[1].yaxis, axes[2].xaxis, axes[2].yaxis):
        axis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes[2].set_title("mutation size over the search (all seeds)", fontsize=10)
    figure.tight_layout()
    return figure


def search_figure(runs: Any, verdicts: Sequence[Any]):
    """``videonas.experiments.evanet_search``'s verdicts figure: best-so-far validation top-1 of each arm (``{label:
    per-seed fitness sequences}``) beside each question's difference with its interval. Returns the figure."""
    figure, axes = plt.subplots(1, 2, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1.2]})
    curves.plot_best_so_far(runs, ax=axes[0], title="EvaNet module search (embedded data, width 1/16)")
    curves.plot_verdicts(verdicts, ax=axes[1])
    figure.tight_layout()
    return figure


def ensembles_figure(points: Sequence[Any], verdicts: Sequence[Any]):
    """``videonas.experiments.evanet_ensembles``' verdicts figure: test top-1 against MFLOPs of every member,
    ensemble and baseline, beside the questions in points (the cost question, a FLOP ratio, is in the conclusion).
    Returns the figure."""
    figure, axes = plt.subplots(1, 2, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1, 1.2]})
    curves.plot_runtime_accuracy(points, ax=axes[0], xlabel="MFLOPs per clip (batch 1)", ylabel="test top-1",
                                 title="ensembles, members and R(2+1)D-18")
    curves.plot_verdicts([v for v in verdicts if v.unit == "points"], ax=axes[1])
    figure.tight_layout()
    return figure


__all__ = ["LAYER_COLOURS", "LAYER_NAMES", "branch_layers", "draw_evanet", "draw_evanets", "drawn_layers",
           "ensembles_figure", "layer_counts", "module_layers", "plot_diversity", "search_figure"]
