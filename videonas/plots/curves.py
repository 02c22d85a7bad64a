"""Search-result plots: best-so-far curves over seeds (evolution vs random search), the training-loss curves of
each seed's best trial, and runtime-vs-accuracy scatters.

A search is judged by how fast its best candidate improves, and one seed says little, so curves are drawn per seed
(thin) with the median over seeds (thick) and the interquartile band between them. The curves themselves are computed
in ``videonas.experiments.curves`` (re-exported here).
"""

from __future__ import annotations

import textwrap
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib import ticker

from videonas.experiments.curves import best_so_far, fitness_sequence, seed_band

_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#f0e442", "#000000")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_best_so_far(runs: Mapping[str, Sequence[Sequence[float | None]]], *, ax: Any = None,
                     ylabel: str = "best validation top-1 so far", xlabel: str = "training epochs spent",
                     title: str | None = None):
    """One colour per strategy (e.g. ``{"evolution": [seed0, seed1], "random": [...]}``, each seed's curve on the
    ``xlabel`` axis, as ``videonas.experiments.ArmRuns.curves`` gives them by epoch); returns the axes."""
    if not runs:
        raise ValueError("runs must name at least one strategy, got none")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for number, (label, seeds) in enumerate(runs.items()):
        colour = _COLOURS[number % len(_COLOURS)]
        stats = seed_band(seeds)
        for curve in stats["curves"]:
            ax.step(stats["trials"], curve, where="post", color=colour, alpha=0.35, linewidth=0.8)
        ax.fill_between(stats["trials"], stats["q25"], stats["q75"], step="post", color=colour, alpha=0.15)
        # Markers: the last candidate's value shows even though a post-step draws no segment after it.
        ax.step(stats["trials"], stats["median"], where="post", color=colour, linewidth=2.2, marker="o",
                markersize=3, label=f"{label} (median of {len(seeds)} seeds)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def best_loss_curves(runs: Any) -> dict[str, dict[int, list[float]]]:
    """``{arm: {seed: loss curve}}``: the training loss the store kept (``metrics["loss_curve"]``, one value per
    batch) for each seed's best trial of each arm of ``runs`` (a ``videonas.experiments.ArmRuns``); a seed whose
    best trial kept no curve is left out."""
    curves: dict[str, dict[int, list[float]]] = {}
    for label in runs.labels:
        curves[label] = {seed: [float(value) for value in trial.metrics["loss_curve"]]
                         for seed, trial in runs.best(label).items()
                         if trial is not None and (trial.metrics or {}).get("loss_curve")}
    return curves


def plot_loss_curves(runs: Any, *, ax: Any = None, title: str | None = None):
    """The training loss of each seed's best trial (``best_loss_curves``), one colour per arm: whether the winners
    were still learning when their budget ran out, and whether one arm's winners train differently. Returns the
    axes."""
    curves = best_loss_curves(runs)
    if not any(curves.values()):
        raise ValueError(f"runs must hold a best trial with a stored loss_curve, got none among arms {list(curves)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for number, (label, seeds) in enumerate(curves.items()):
        colour = _COLOURS[number % len(_COLOURS)]
        for line, (seed, curve) in enumerate(seeds.items()):
            ax.plot(range(1, len(curve) + 1), curve, color=colour, linewidth=1, alpha=0.8,
                    label=f"{label} (best trial of each of {len(seeds)} seeds)" if line == 0 else None)
    ax.set_xlabel("training step (batch)")
    ax.set_ylabel("training loss (running mean over the epoch)")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title or "training loss of each seed's best trial")
    return ax


def plot_runtime_accuracy(points: Sequence[Mapping[str, Any]], *, ax: Any = None, xlabel: str = "CPU runtime (ms)",
                          ylabel: str = "validation top-1", log_x: bool = True, title: str | None = None):
    """Scatter of ``{"label", "runtime_ms", "accuracy", "group"}`` points, one marker per group; a non-empty label is
    written next to its point (leave it empty for unnamed search candidates).

    A point whose accuracy is ``None`` (measured for runtime only) is drawn as a dashed vertical line at its runtime.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    groups: dict[str, int] = {}
    labelled: set[str] = set()
    for index, point in enumerate(points):
        for field in ("label", "runtime_ms"):
            if field not in point:
                raise ValueError(f"points[{index}] is missing {field!r}: {dict(point)!r}")
        group = str(point.get("group", "model"))
        number = groups.setdefault(group, len(groups))
        colour, marker = _COLOURS[number % len(_COLOURS)], _MARKERS[number % len(_MARKERS)]
        runtime, accuracy = float(point["runtime_ms"]), point.get("accuracy")
        first = group not in labelled
        labelled.add(group)
        if accuracy is None:
            ax.axvline(runtime, color=colour, linestyle="--", linewidth=1, label=f"{group} (runtime only)" if first
                       else None)
            if point["label"]:
                ax.annotate(str(point["label"]), (runtime, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                            fontsize=7, color=colour, xytext=(3, 0), textcoords="offset points")
            continue
        ax.scatter([runtime], [float(accuracy)], color=colour, marker=marker, s=40, zorder=3,
                   label=group if first else None)
        if point["label"]:
            ax.annotate(str(point["label"]), (runtime, float(accuracy)), fontsize=7, xytext=(4, 3),
                        textcoords="offset points")
    if log_x:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    if groups:
        ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    return ax


def plot_verdicts(verdicts: Sequence[Any], *, ax: Any = None, title: str | None = None):
    """Each verdict's estimate with its interval (one row per question, in the verdict's unit), the claim's
    boundary (its margin) dashed and the noise floor (+/- one standard deviation of one net retrained over seeds)
    shaded around zero; the row's label ends with the verdict. Returns the axes."""
    if not verdicts:
        raise ValueError("verdicts must hold at least one verdict, got none")
    units = {verdict.unit for verdict in verdicts}
    if len(units) != 1:
        raise ValueError(f"verdicts must share one unit to share an axis, got {sorted(units)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.9 + 0.75 * len(verdicts)))
    colours = {"supported": "#009e73", "contradicted": "#d55e00", "inconclusive": "#555555"}
    floor_label = "noise floor (same net, +/- 1 sd over seeds)"
    for row, verdict in enumerate(reversed(list(verdicts))):
        colour = colours[verdict.verdict]
        if verdict.noise_floor is not None:
            ax.fill_between([-verdict.noise_floor, verdict.noise_floor], row - 0.3, row + 0.3, color="#cccccc",
                            alpha=0.6, label=floor_label)
            floor_label = None
        if verdict.low is not None:
            ax.plot([verdict.low, verdict.high], [row, row], color=colour, linewidth=2.5)
        if verdict.estimate is not None:
            ax.plot([verdict.estimate], [row], "o", color=colour)
        for boundary in sorted({verdict.margin, -verdict.margin} if verdict.kind == "equivalent" else {verdict.margin}):
            ax.plot([boundary, boundary], [row - 0.35, row + 0.35], color="black", linestyle="--", linewidth=1)
    labels = [textwrap.fill(f"{v.question} ({v.verdict}, {v.n} seeds)", 48) for v in reversed(list(verdicts))]
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    low, high = ax.get_xlim()  # the noise band's sticky edges switch off the margins: an interval would touch them
    ax.set_xlim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    ax.set_xlabel(f"A - B, {units.pop()} (95% interval; dashed: the claim's boundary)")
    ax.grid(alpha=0.3, axis="x")
    if any(verdict.noise_floor is not None for verdict in verdicts):
        ax.legend(fontsize=7, loc="best")
    if title:
        ax.set_title(title)
    return ax


__all__ = ["best_loss_curves", "best_so_far", "fitness_sequence", "plot_best_so_far", "plot_loss_curves",
           "plot_runtime_accuracy", "plot_verdicts", "seed_band"]
