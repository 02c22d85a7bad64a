"""The accuracy-latency front of a search: which networks no other one beats on both accuracy and latency.

Pure Python (no Keras, no matplotlib), so reports and the command line can compute it from stored trials alone;
``videonas.plots.pareto`` draws it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence


def pareto_front(points: Sequence[Mapping[str, Any]], *, x: str = "latency_ms", y: str = "accuracy") -> list[int]:
    """Indices of the points on the front (lower ``x`` and higher ``y`` are better), by increasing ``x``.

    A point is on the front when no other point is at least as good on both and better on one. Points without a
    finite ``x`` or ``y`` (rejected, failed, runtime-only) are never on it; of exact duplicates the first is kept.
    """
    usable = [(float(p[x]), float(p[y]), index) for index, p in enumerate(points)
              if _finite(p.get(x)) and _finite(p.get(y))]
    front: list[int] = []
    best = -math.inf
    for _, accuracy, index in sorted(usable, key=lambda item: (item[0], -item[1], item[2])):
        if accuracy > best:
            front.append(index)
            best = accuracy
    return front


def trial_points(trials: Iterable[Any], *, group: str = "search") -> list[dict[str, Any]]:
    """One point per trial: ``{"label", "latency_ms", "accuracy", "status", "rejected_by", "runtime", "group",
    "index"}``; only a done trial has an accuracy, and a trial rejected before its latency was measured has none."""
    points = []
    for trial in trials:
        setup = trial.metrics.get("latency") or {}
        points.append({"label": "", "index": trial.index, "group": group, "status": trial.status,
                       "rejected_by": trial.rejected_by, "latency_ms": trial.latency_ms, "runtime": setup.get("runtime"),
                       "accuracy": trial.fitness if trial.status == "done" else None})
    return points


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
