"""Searches replayed on a table of trained genomes: what rungs buy, in CPU time and in the network found.

The rank-fidelity section (``videonas.bench.rungs``) trains every genome of a random sample to the top rung under
several training seeds and records its validation fitness after each rung's epochs and its test top-1 at the top.
That table answers the cost questions without training again:

- ``costs``: the CPU seconds of one evaluation, split as the measured timings split it (per evaluation: building,
  constraints, the first step, which is mostly graph tracing, and scoring validation; per epoch: steady training),
  and from them the CPU time to evaluate a candidate to a decision with rungs (each stops at the rung where
  successive halving stops it) against training every candidate at the top rung, and the share of a top-rung
  candidate's time outside steady training;
- ``replay``: random search with rungs against random search without, at equal training epochs, many times: each
  simulated candidate is a genome drawn from the table with one of its replicates (the replicate's training noise is
  the noise the search sees), the winner is chosen on validation at the highest rung reached, and what is compared is
  the winner's test top-1 (paired by simulation seed, with a 95% interval).

The sample is small (tens of genomes, drawn with replacement), so the replay measures the selection on a known pool,
not the search space: its "best found" is bounded by the pool's best.
"""

from __future__ import annotations

import math
import statistics
from typing import Any, Mapping, Sequence

import numpy

OVERHEAD_TIMINGS = ("build_s", "constraints_s", "data_s", "first_step_s", "eval_s")


def costs(table: Mapping[str, Mapping[str, Mapping[str, Any]]], *, rung_epochs: Sequence[int], keep: float,
          round_size: int) -> dict[str, Any]:
    """Median per-evaluation overhead and per-epoch time over the table's trainings, and what they imply."""
    overheads, epoch_times, shares = [], [], []
    for row in table.values():
        for entry in row.values():
            timings = entry.get("timings") or {}
            if "fit_s" not in timings:
                continue
            steady = timings["fit_s"] - timings.get("first_step_s", 0.0) - timings.get("score_epochs_s", 0.0)
            overhead = sum(timings.get(name, 0.0) for name in OVERHEAD_TIMINGS)
            epoch_times.append(steady / rung_epochs[-1])
            overheads.append(overhead)
            shares.append(overhead / (overhead + steady))
    if not overheads:
        return {}
    overhead, epoch = statistics.median(overheads), statistics.median(epoch_times)
    promoted = promotions(round_size, keep=keep, rungs=len(rung_epochs))
    with_rungs = sum(count * (overhead + epoch * (rung_epochs[rung] - (rung_epochs[rung - 1] if rung else 0)))
                     for rung, count in enumerate(promoted)) / round_size
    without = overhead + epoch * rung_epochs[-1]
    epochs_with = sum(count * (rung_epochs[rung] - (rung_epochs[rung - 1] if rung else 0))
                      for rung, count in enumerate(promoted)) / round_size
    return {"overhead_s": overhead, "epoch_s": epoch, "evaluations": len(overheads),
            "cpu_s_per_candidate_with_rungs": with_rungs, "cpu_s_per_candidate_top_rung": without,
            "cpu_ratio": without / with_rungs, "epochs_per_candidate_with_rungs": epochs_with,
            "share_outside_steady_training": statistics.median(shares), "promotions": promoted,
            "round_size": round_size, "keep": keep}


def promotions(round_size: int, *, keep: float, rungs: int) -> list[int]:
    """Candidates evaluated at each rung in a round of ``round_size``: the best ``keep`` of each rung (at least one)
    go on, as ``videonas.search.rungs`` promotes them."""
    counts = [round_size]
    for _ in range(rungs - 1):
        counts.append(max(1, math.ceil(counts[-1] * keep)))
    return counts


def replay(table: Mapping[str, Mapping[str, Mapping[str, Any]]], *, rung_epochs: Sequence[int], keep: float,
           round_size: int, budget_epochs: int, simulations: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Best found test top-1 of random search with and without rungs at ``budget_epochs`` training epochs each."""
    keys = [key for key, row in table.items() if all(entry.get("test") is not None for entry in row.values())]
    if len(keys) < 2:
        return {}
    rows = [list(table[key].values()) for key in keys]
    found = {"rungs": [], "none": []}
    candidates = {"rungs": [], "none": []}
    for simulation in range(simulations):
        for arm in found:
            rng = numpy.random.default_rng([seed, simulation, arm == "rungs"])
            winner, count = _search(rows, rng, rungs=rung_epochs if arm == "rungs" else rung_epochs[-1:], keep=keep,
                                    round_size=round_size, budget_epochs=budget_epochs)
            found[arm].append(winner["test"])
            candidates[arm].append(count)
    difference = numpy.subtract(found["rungs"], found["none"])
    low, high = numpy.percentile(difference, [2.5, 97.5])
    return {"budget_epochs": budget_epochs, "simulations": simulations, "pool": len(keys),
            "best_test_with_rungs": float(numpy.mean(found["rungs"])), "best_test_without": float(numpy.mean(found["none"])),
            "difference": float(numpy.mean(difference)), "interval_of_one_search": (float(low), float(high)),
            "mean_interval": _mean_interval(difference),
            "candidates_with_rungs": float(numpy.mean(candidates["rungs"])),
            "candidates_without": float(numpy.mean(candidates["none"])),
            "pool_best_test": max(statistics.mean(entry["test"] for entry in row) for row in rows)}


def _search(rows: Sequence[Sequence[Mapping[str, Any]]], rng: numpy.random.Generator, *, rungs: Sequence[int],
            keep: float, round_size: int, budget_epochs: int) -> tuple[Mapping[str, Any], int]:
    """One simulated random search: whole rounds until the budget is spent; the winner by (rung, val fitness)."""
    offset = len(rows[0][0]["val"]) - len(rungs)  # without rungs only the top column is read
    spent, best, best_rank, count = 0, None, None, 0
    while spent < budget_epochs:
        picks = [rows[int(rng.integers(len(rows)))] for _ in range(round_size)]
        entries = [row[int(rng.integers(len(row)))] for row in picks]
        alive = list(range(round_size))
        count += round_size
        for rung, epochs in enumerate(rungs):
            spent += len(alive) * (epochs - (rungs[rung - 1] if rung else 0))
            for index in alive:
                rank = (rung, entries[index]["val"][offset + rung])
                if best_rank is None or rank > best_rank:
                    best, best_rank = entries[index], rank
            if rung + 1 < len(rungs):
                alive = sorted(alive, key=lambda i: -entries[i]["val"][offset + rung])[
                    :max(1, math.ceil(len(alive) * keep))]
    return best, count


def _mean_interval(values: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap interval of the mean."""
    values = numpy.asarray(values, dtype=float)
    rng = numpy.random.default_rng(seed)
    means = [float(numpy.mean(values[rng.integers(len(values), size=len(values))])) for _ in range(resamples)]
    low, high = numpy.percentile(means, [2.5, 97.5])
    return float(low), float(high)


__all__ = ["costs", "promotions", "replay"]
