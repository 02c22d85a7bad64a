"""Ablation plots: the test score of fixed networks over seeds, against frames or against cost.

Every seed is drawn (small dots) with the mean over seeds (line), so a reader sees the noise a difference has to beat.
"""

from __future__ import annotations

import statistics
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt

_COLOURS = ("#d55e00", "#0072b2", "#009e73", "#cc79a7", "#e69f00", "#56b4e9")


def _present(values: Mapping[int, float | None]) -> list[float]:
    return [float(v) for v in values.values() if v is not None]


def plot_seed_scores(ax: Any, xs: Sequence[float], scores: Sequence[Mapping[int, float | None]], *, label: str,
                     colour: str, marker: str = "o") -> None:
    """Per x, every seed's score (dots) and the mean over seeds (line); seeds that failed are left out."""
    if len(xs) != len(scores):
        raise ValueError(f"xs and scores must have the same length, got {len(xs)} and {len(scores)}")
    means = []
    for x, values in zip(xs, scores):
        present = _present(values)
        ax.scatter([x] * len(present), present, s=10, color=colour, alpha=0.45, linewidths=0)
        means.append(statistics.fmean(present) if present else float("nan"))
    seeds = max((len(_present(values)) for values in scores), default=0)
    ax.plot(xs, means, marker=marker, color=colour, linewidth=2, label=f"{label} (mean of {seeds} seeds)")


def plot_frames_ablation(runs: Any, *, frame_counts: Sequence[int], tasks: Sequence[str], latency_ms: Sequence[float],
                         runtime: str, chance: Mapping[str, float], ceiling: Mapping[str, float] | None = None):
    """Left: test top-1 against input frames per class kind (dotted: chance; dashed: the data's ceiling where known).
    Right: latency against frames on ``runtime``. ``runs`` is a ``VariantRuns`` of ``"<n> frames"`` variants."""
    if len(latency_ms) != len(frame_counts):
        raise ValueError(f"latency_ms needs one value per frame count, got {len(latency_ms)} for {len(frame_counts)}")
    figure, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.2))
    for number, task in enumerate(tasks):
        colour = _COLOURS[number % len(_COLOURS)]
        scores = [runs.scores(f"{count} frames", task) for count in frame_counts]
        plot_seed_scores(left, frame_counts, scores, label=f"{task} classes", colour=colour)
        left.axhline(chance[task], color=colour, linestyle=":", linewidth=1)
        if ceiling and task in ceiling:
            left.axhline(ceiling[task], color=colour, linestyle="--", linewidth=1)
    left.set(xscale="log", xlabel="input frames", ylabel="test top-1", ylim=(0, 1.02),
             title="accuracy vs frames (dotted: chance, dashed: Bayes ceiling)")
    right.plot(frame_counts, latency_ms, "o-", color="black")
    right.set(xscale="log", xlabel="input frames", ylabel=f"latency, ms (batch 1, {runtime})",
              title="runtime vs frames")
    for axis in (left, right):
        axis.set_xticks(list(frame_counts), [str(count) for count in frame_counts])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
    left.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure


def plot_scaling(runs: Any, *, chains: Mapping[str, Sequence[str]], base: str, task: str,
                 cost: Mapping[str, float], cost_label: str):
    """Test top-1 against cost for each scaling dimension: a chain of variant labels per dimension, each starting at
    the base network."""
    figure, ax = plt.subplots(figsize=(7.5, 4.6))
    for number, (dimension, labels) in enumerate(chains.items()):
        points = [base, *labels]
        plot_seed_scores(ax, [cost[label] for label in points], [runs.scores(label, task) for label in points],
                         label=dimension, colour=_COLOURS[number % len(_COLOURS)],
                         marker="osD^v"[number % 5])
    ax.set(xlabel=cost_label, ylabel="test top-1", title="scaling a TVN at matched nominal FLOPs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    return figure
