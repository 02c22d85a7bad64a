"""Plots of the search_strategies experiment: best-so-far curves over training epochs with bands over hundreds of
seeds, and the tabulated benchmark's landscape (scores, parent-child fitness, the winner's frames under R).

With hundreds of seeds a thin line per seed says nothing; a curve is the mean over seeds with its 95% interval (dark
band) and the seeds' central 95% (light band), so both the precision of the mean and the spread of single searches
show.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt

_COLOURS = {"random": "#555555", "mutate-best": "#d55e00", "regularized": "#0072b2"}
_OTHER = "#009e73"


def _colour(label: str) -> str:
    return _COLOURS.get(label.split(" ")[0], _OTHER)


def plot_strategy_curves(grid: Sequence[float], bands: Mapping[str, Mapping[str, Sequence[float]]], *,
                         seeds: int, target: float | None, oracle: float | None, title: str,
                         ylabel: str = "test top-1 of the validation-best so far"):
    """One panel per kind of arm (without rungs, with rungs); each arm's mean over ``seeds`` seeds with its 95%
    interval and the seeds' central 95%. ``target``: random search's final mean best (dotted); ``oracle``: the
    table's best genome by validation, its test top-1 (dashed). Returns the figure."""
    if not bands:
        raise ValueError("bands must name at least one arm, got none")
    groups = {"without rungs": [label for label in bands if "rungs" not in label],
              "with rungs": [label for label in bands if "rungs" in label]}
    groups = {name: labels for name, labels in groups.items() if labels}
    figure, axes = plt.subplots(1, len(groups), figsize=(6.2 * len(groups), 4.4), sharey=True, squeeze=False)
    for ax, (name, labels) in zip(axes[0], groups.items()):
        for label in labels:
            band, colour = bands[label], _colour(label)
            ax.fill_between(grid, band["seeds_low"], band["seeds_high"], color=colour, alpha=0.08, step="post")
            ax.fill_between(grid, band["low"], band["high"], color=colour, alpha=0.3, step="post")
            ax.step(grid, band["mean"], where="post", color=colour, linewidth=2, label=f"{label} (mean, 95% interval)")
        if target is not None:
            ax.axhline(target, color="#555555", linestyle=":", linewidth=1, label="random search's final mean best")
        if oracle is not None:
            ax.axhline(oracle, color="black", linestyle="--", linewidth=1, label="oracle (best genome by validation)")
        ax.set_xlabel("training epochs spent (rejected proposals and re-used duplicates cost none)")
        ax.set_title(f"{name}, {seeds} seeds per arm; light band: the seeds' central 95%", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    axes[0][0].set_ylabel(ylabel)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_landscape(test_scores: Sequence[float], motion_mask: Sequence[bool], *, oracle: Mapping[str, Any],
                   pairs: Mapping[str, Any], limits: Sequence[Mapping[str, Any]], title: str, motion_rule: str):
    """Three panels: the genomes' test top-1 (learning motion or not, by ``motion_rule``) with the oracle; parent
    against one-choice child (``landscape.parent_child``); the winner's frame count against the latency limit R
    (``limits``: rows with ``max_latency_ms``, ``mean_frames``, ``low``, ``high``, ``oracle_frames``). Returns the
    figure."""
    figure, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.4))
    known = [(s, m) for s, m in zip(test_scores, motion_mask) if math.isfinite(s)]
    learns = [s for s, m in known if m]
    scene_only = [s for s, m in known if not m]
    left.hist([scene_only, learns], bins=30, stacked=True, color=["#999999", "#d55e00"],
              label=[f"does not learn motion ({len(scene_only)})", f"learns motion ({len(learns)})"])
    left.axvline(oracle["test"], color="black", linestyle="--", linewidth=1,
                 label=f"oracle by validation: {oracle['test']:.3f}")
    left.set_xlabel("test top-1 (mean of the genome's replicates)")
    left.set_ylabel("genomes")
    left.set_title(f"every genome of the table; motion: {motion_rule}", fontsize=8)
    left.legend(fontsize=7)
    if pairs.get("pairs"):
        middle.hexbin(pairs["parents"], pairs["children"], gridsize=30, cmap="Blues", mincnt=1)
        middle.set_title(f"parent vs one-choice child ({pairs['pairs']} pairs): Pearson {pairs['pearson']:.2f}, "
                         f"Spearman {pairs['spearman']:.2f}", fontsize=8)
    middle.set_xlabel("parent's test top-1")
    middle.set_ylabel("child's test top-1")
    shown = [row for row in limits if row.get("mean_frames") is not None]
    if shown:
        xs = [row["max_latency_ms"] for row in shown]
        right.errorbar(xs, [row["mean_frames"] for row in shown],
                       yerr=[[row["mean_frames"] - row["low"] for row in shown],
                             [row["high"] - row["mean_frames"] for row in shown]],
                       marker="o", color="#0072b2", capsize=3, label="winner's frames (mean, 95% interval)")
        right.scatter(xs, [row["oracle_frames"] for row in shown], marker="x", color="black", zorder=3,
                      label="oracle under R")
        right.set_xscale("log")
        right.legend(fontsize=7)
    right.set_xlabel("latency limit R, ms (from the table's latency column)")
    right.set_ylabel("input frames")
    right.set_title("the winner's frame count as R tightens", fontsize=8)
    for ax in (left, middle, right):
        ax.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


__all__ = ["plot_landscape", "plot_strategy_curves"]
