"""Best-so-far curves of a search over seeds: how fast its best candidate improves, and how much seeds disagree.

A curve is a sequence of fitness values on an integer axis, ``None`` where nothing was found: by candidate
(``fitness_sequence``, in proposal order) or by training epoch (``fitness_by_epoch``, the cost a budget in epochs
counts: proposals rejected before training cost nothing, and a multi-fidelity search pays only for the rungs it
trains). Each seed's curve is its running best (it never decreases); across seeds the summary is the median with the
interquartile band (25th to 75th percentile) and the full range.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy


def fitness_sequence(trials: Iterable[Any]) -> list[float | None]:
    """Fitness per trial in index order; ``None`` for trials that are not ``done`` (failed, rejected, pending)."""
    ordered = sorted(trials, key=lambda trial: trial.index)
    return [float(t.fitness) if t.status == "done" and t.fitness is not None else None for t in ordered]


def fitness_by_epoch(trials: Iterable[Any], *, top_epochs: int | None = None) -> list[float | None]:
    """Validation fitness by training epochs spent: entry ``e - 1`` holds the best fitness of a candidate whose
    top-rung training finished when the search had spent ``e`` epochs (``None`` elsewhere).

    Only top-rung evaluations (``top_epochs`` of training in all; every trained candidate when ``None``) count: a
    lower rung's fitness is a shorter training's and is not what the search reports. Evaluations are ordered as the
    search made them (round, then rung, then proposal index); a rung's cost is the epochs it adds to the candidate.
    Copies of a duplicate network (``reused_from``) and failed or rejected trials cost nothing.
    """
    events = []
    for trial in trials:
        if trial.status != "done" or "reused_from" in (trial.metrics or {}):
            continue
        history = (trial.metrics or {}).get("rungs") or [{"rung": 0, "epochs": trial.epochs, "fitness": trial.fitness}]
        for entry in history:
            events.append((trial.round, entry["rung"], trial.index, entry["epochs"], entry["fitness"]))
    events.sort(key=lambda event: event[:3])
    spent, trained, found = 0, {}, {}
    for _, _, index, epochs, fitness in events:
        epochs = int(epochs or 0)
        spent += max(0, epochs - trained.get(index, 0))
        trained[index] = max(epochs, trained.get(index, 0))
        if fitness is not None and spent > 0 and (top_epochs is None or epochs >= top_epochs):
            found[spent] = max(float(fitness), found.get(spent, -math.inf))
    return [found.get(epoch) for epoch in range(1, spent + 1)]


def best_so_far(fitness: Sequence[float | None]) -> numpy.ndarray:
    """Running maximum of ``fitness``; missing or NaN entries do not improve it, and it is NaN until the first value."""
    curve = numpy.full(len(fitness), numpy.nan)
    best = -math.inf
    for position, value in enumerate(fitness):
        if value is not None and math.isfinite(float(value)):
            best = max(best, float(value))
        if best > -math.inf:
            curve[position] = best
    return curve


def seed_band(runs: Sequence[Sequence[float | None]]) -> dict[str, numpy.ndarray]:
    """Best-so-far curves of several seeds on one axis: ``{"trials", "curves", "median", "q25", "q75", "low",
    "high"}`` (``low``/``high``: the lowest and highest seed).

    Shorter runs are extended with their last value (a finished search keeps its best). Statistics at a trial count
    use every seed: one that has finished nothing yet counts as the worst value any seed reached, so that a late
    starter cannot pull the median down and no statistic ever decreases.
    """
    if len(runs) == 0:
        raise ValueError("runs must hold at least one seed's fitness sequence, got none")
    length = max(len(run) for run in runs)
    curves = numpy.full((len(runs), length), numpy.nan)
    for row, run in enumerate(runs):
        curve = best_so_far(run)
        curves[row, : len(curve)] = curve
        if 0 < len(curve) < length:
            curves[row, len(curve):] = curve[-1]
    stats = {"trials": numpy.arange(1, length + 1), "curves": curves}
    filled = ~numpy.all(numpy.isnan(curves), axis=0)
    floored = numpy.where(numpy.isnan(curves), numpy.nanmin(curves) if filled.any() else numpy.nan, curves)
    statistics = {"median": 50, "q25": 25, "q75": 75, "low": 0, "high": 100}
    for name, percentile in statistics.items():
        values = numpy.full(length, numpy.nan)
        if filled.any():
            values[filled] = numpy.percentile(floored[:, filled], percentile, axis=0)
        stats[name] = values
    return stats


def final_best(runs: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Each seed's best value over its whole run (``None`` for a seed where nothing finished): the per-seed values
    a comparison of two searches pairs up."""
    finals = []
    for run in runs:
        curve = best_so_far(run)
        finals.append(float(curve[-1]) if len(curve) and math.isfinite(curve[-1]) else None)
    return finals


def mean_best(runs: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Each seed's best-so-far averaged over its trials (the area under its curve per trial): higher means good
    candidates were found earlier. ``None`` for a seed where nothing finished."""
    means = []
    for run in runs:
        curve = best_so_far(run)
        finite = curve[numpy.isfinite(curve)]
        # Trials before the first finished one count as the worst value seen, so a late start is not rewarded.
        means.append(float(numpy.mean(numpy.where(numpy.isfinite(curve), curve, finite.min()))) if finite.size
                     else None)
    return means

