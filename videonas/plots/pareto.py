"""Accuracy against deploy-runtime latency for every trial of a search, with the Pareto front marked.

Rejected trials are shown too, because they are what the limit R cost: a trial rejected by the latency limit (not
trained, so without an accuracy) is a cross on the bottom edge at its measured latency; trials rejected before a
latency was measured (too many parameters or FLOPs) and failed ones are counted in the legend. Presets and baselines,
where given, are labelled points (a dashed line at their latency when they were not trained).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt

from videonas import pareto
from videonas.plots.curves import plot_runtime_accuracy

FRONT_COLOUR = "#d55e00"


def plot_pareto(points: Sequence[Mapping[str, Any]], *, references: Sequence[Mapping[str, Any]] = (),
                runtime: str = "onnxruntime", limit_ms: float | None = None, ax: Any = None,
                title: str | None = None):
    """Draw ``points`` (``videonas.pareto.trial_points``) and ``references`` (``{"label", "latency_ms",
    "accuracy" or None, "group"}``) as accuracy vs ``runtime`` latency; ``limit_ms`` draws R. Returns the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.8))
    for index, point in enumerate([*points, *references]):
        if "latency_ms" not in point:
            raise ValueError(f"points[{index}] is missing 'latency_ms': {dict(point)!r}")
    done = [p for p in points if p.get("accuracy") is not None and p.get("latency_ms") is not None]
    ax.scatter([p["latency_ms"] for p in done], [p["accuracy"] for p in done], color="#0072b2", s=22, alpha=0.7,
               zorder=3, label=f"trained trials ({len(done)})")
    front = [done[i] for i in pareto.pareto_front(done)]
    if front:
        ax.step([p["latency_ms"] for p in front], [p["accuracy"] for p in front], where="post", color=FRONT_COLOUR,
                linewidth=1.5, zorder=4)
        ax.scatter([p["latency_ms"] for p in front], [p["accuracy"] for p in front], facecolors="none", s=80,
                   edgecolors=FRONT_COLOUR, linewidths=1.5, zorder=5, label=f"Pareto front ({len(front)})")
    timed = [p for p in points if p.get("status") == "rejected" and p.get("latency_ms") is not None]
    if timed:
        ax.scatter([p["latency_ms"] for p in timed], [0.0] * len(timed), marker="x", color="#cc79a7", s=40,
                   clip_on=False, zorder=5, transform=ax.get_xaxis_transform(),
                   label=f"rejected, not trained ({len(timed)})")
    untimed = sum(p.get("status") in ("rejected", "failed") and p.get("latency_ms") is None for p in points)
    if untimed:
        ax.plot([], [], " ", label=f"{untimed} failed or rejected before timing (not shown)")
    if references:
        plot_runtime_accuracy([{**r, "runtime_ms": r["latency_ms"], "group": r.get("group", "references")}
                               for r in references], ax=ax, log_x=False)
    if limit_ms is not None:
        ax.axvline(limit_ms, color="grey", linewidth=1)
        ax.text(limit_ms, 1.0, " R", va="top", fontsize=8, color="grey", transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_xlabel(f"latency on {runtime} (ms, batch 1)")
    ax.set_ylabel("top-1 (trials: validation)" if references else "validation top-1")
    ax.grid(alpha=0.3, which="both")
    # Outside the axes: inside, "best" still lands on labelled reference points (X3D-XS, once).
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    if title:
        ax.set_title(title)
    return ax
