"""Many searches simulated on a tabulated benchmark: each one a ``run_search`` whose trial function looks genomes up
(``videonas.table:evaluate_table``), run in parallel over seeds and reduced to a small record.

Every search is the real loop (strategy, rounds, duplicates, rungs, P and R) on a temporary store; only its record
comes back: after each round, the training epochs spent so far, the candidates trained and the validation-best
candidate at the top rung with its test top-1. The winner is that candidate after the last round that fits in the
budget (``max_epochs``; the loop's last round may pass it), so every arm is judged at the same budget or just under.

A search without rungs runs with the table's top rung as its only rung: the loop counts the epochs of a trial
function other than the default one through its rungs, and a one-rung search trains every candidate to the top, as a
search without rungs does. A search ends at its budget or after ``max_proposals`` proposals: a strategy that only
proposes genomes it has already seen (their results are re-used and cost nothing) would otherwise never end.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import multiprocessing
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy
import scipy.stats

from videonas.search import rungs as rungs_module
from videonas.search.loop import run_search

EVALUATE = "videonas.table:evaluate_table"
CHUNK = 20  # searches per task of the worker pool: one store file each, few enough to balance two workers


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """One search: arm ``arm`` (strategy ``strategy`` with ``options``) at ``seed``, with ``rung_epochs`` (one entry:
    no rungs) and ``keep``, under the latency limit ``max_latency_ms`` (R; ``None``: none). ``score`` is the fitness
    it selects on (``videonas.table.lookup.SCORES``: all classes, or one kind of class), and ``frame_counts``
    restricts the menu's frame counts (a search forced to many frames); ``None`` keeps the table's."""

    arm: str
    strategy: str
    options: Mapping[str, Any]
    seed: int
    rung_epochs: tuple[int, ...]
    keep: float = 1 / 3
    max_latency_ms: float | None = None
    score: str = "val"
    frame_counts: tuple[int, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every search shares: the table file, its menu, the training budget and its limits."""

    table: str
    menu: Mapping[str, Any]
    max_epochs: int
    max_proposals: int
    batch_size: int = 4
    max_params: int | None = None
    reuse_duplicates: bool = True


def search_config(spec: SearchSpec, budget: Budget, *, store: str | Path) -> dict[str, Any]:
    """The ``run_search`` configuration of ``spec``."""
    options = {"table": budget.table, "max_params": budget.max_params, "max_latency_ms": spec.max_latency_ms,
               "score": None if spec.score == "val" else spec.score}
    limit = "" if spec.max_latency_ms is None else f"-R{spec.max_latency_ms:g}"
    menu = dict(budget.menu) if spec.frame_counts is None else {**budget.menu, "frame_counts": list(spec.frame_counts)}
    return {"name": f"{spec.arm}{limit}-seed{spec.seed}", "store": str(store),
            "space": {"family": "tvn", "options": {"table": menu}},
            "strategy": {"name": spec.strategy, "options": dict(spec.options)}, "seed": spec.seed,
            "num_trials": budget.max_proposals, "max_epochs": budget.max_epochs, "batch_size": budget.batch_size,
            "rungs": {"epochs": list(spec.rung_epochs), "keep": spec.keep}, "reuse_duplicates": budget.reuse_duplicates,
            "evaluate": {"function": EVALUATE, "options": {k: v for k, v in options.items() if v is not None}},
            "executor": "inprocess"}


def record_of(trials: Sequence[Any], *, top_rung: int, max_epochs: int) -> dict[str, Any]:
    """A search's record from its stored trials: ``rounds`` (after each round: ``[epochs spent, candidates trained,
    incumbent val, incumbent test]``, the incumbent being the validation-best candidate that reached rung
    ``top_rung``; ties: the earlier trial), the ``winner`` after the last round within ``max_epochs``, and counts
    (``stopped_early``: the proposals ran out before the budget was spent)."""
    ordered = sorted(trials, key=lambda t: t.index)
    rounds, spent, trained, best = [], 0, 0, None
    winner = None
    for number in sorted({t.round for t in ordered}):
        members = [t for t in ordered if t.round == number]
        spent += rungs_module.spent_epochs(members)
        trained += sum(1 for t in members if (t.epochs or 0) > 0 and "reused_from" not in (t.metrics or {}))
        for trial in members:
            if trial.status == "done" and (trial.rung or 0) == top_rung and (best is None or trial.fitness > best[0]):
                test = ((trial.metrics or {}).get("test") or {}).get("accuracy")
                best = (float(trial.fitness), None if test is None else float(test), trial)
        rounds.append([spent, trained, None if best is None else best[0], None if best is None else best[1]])
        if spent <= max_epochs and best is not None:
            winner = best
    within = [r for r in rounds if r[0] <= max_epochs]
    record = {"rounds": rounds, "epochs": within[-1][0] if within else 0, "trained": within[-1][1] if within else 0,
              "proposals": len(ordered), "rejected": sum(t.status == "rejected" for t in ordered),
              "failed": sum(t.status == "failed" for t in ordered),
              "stopped_early": not rounds or rounds[-1][0] < max_epochs, "winner": None}
    if winner is not None:
        trial = winner[2]
        record["winner"] = {"val": winner[0], "test": winner[1], "trial": trial.index,
                            "table_index": (trial.metrics or {}).get("table_index"),
                            "num_frames": json.loads(trial.genome)["num_frames"], "latency_ms": trial.latency_ms}
    return record


def run_chunk(specs: Sequence[SearchSpec], budget: Budget) -> list[dict[str, Any]]:
    """Run ``specs`` one after another on one temporary store; their records, in order (a worker's task)."""
    records = []
    with tempfile.TemporaryDirectory(prefix="videonas-table-searches-") as folder:
        store = Path(folder) / "searches.sqlite"
        for spec in specs:
            experiment = run_search(search_config(spec, budget, store=store), progress=False)
            record = record_of(experiment.trials(), top_rung=len(spec.rung_epochs) - 1, max_epochs=budget.max_epochs)
            records.append({"arm": spec.arm, "seed": spec.seed, "max_latency_ms": spec.max_latency_ms, **record})
    return records


def run_specs(specs: Sequence[SearchSpec], budget: Budget, *, workers: int = 1,
              chunk: int = CHUNK) -> list[dict[str, Any]]:
    """The records of ``specs``, in their order, whatever ``workers`` (each search depends only on its seed and the
    table). ``workers`` > 1: spawned processes, ``chunk`` searches per task (a script that calls this needs the
    ``if __name__ == "__main__":`` guard, as every spawned pool does; notebooks and tests need nothing)."""
    chunks = [list(specs[start:start + chunk]) for start in range(0, len(specs), chunk)]
    if workers <= 1 or len(chunks) <= 1:
        return [record for chunk in chunks for record in run_chunk(chunk, budget)]
    # spawn: a notebook kernel's threads make fork unsafe; each worker reads the table file once.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [record for chunk in pool.map(run_chunk, chunks, [budget] * len(chunks)) for record in chunk]


def curve(record: Mapping[str, Any], grid: Sequence[float], *, column: int = 3) -> numpy.ndarray:
    """The record's incumbent (``column`` 3: test top-1, 2: validation) at each budget of ``grid`` (epochs): the
    value after the last round whose spending is within it; NaN before the first incumbent."""
    values = numpy.full(len(grid), numpy.nan)
    rounds = record["rounds"]
    position = -1
    for slot, budget in enumerate(grid):
        while position + 1 < len(rounds) and rounds[position + 1][0] <= budget:
            position += 1
        if position >= 0 and rounds[position][column] is not None:
            values[slot] = rounds[position][column]
    return values


def trained_at(record: Mapping[str, Any], budget: float) -> int:
    """Candidates the search had trained when its spending was last within ``budget`` epochs."""
    within = [r[1] for r in record["rounds"] if r[0] <= budget]
    return within[-1] if within else 0


def band(curves: numpy.ndarray, *, confidence: float = 0.95) -> dict[str, numpy.ndarray]:
    """Across seeds (rows) at each budget (columns): the mean, its ``confidence`` interval (normal approximation:
    mean +- z * sd / sqrt(n)) and the seeds' central ``confidence`` range (percentiles). A budget where some seed
    has no incumbent yet is NaN throughout: a mean over the seeds that have one would favour the lucky ones."""
    curves = numpy.asarray(curves, dtype=float)
    z = float(scipy.stats.norm.ppf(0.5 + confidence / 2))
    complete = ~numpy.isnan(curves).any(axis=0)
    result = {name: numpy.full(curves.shape[1], numpy.nan) for name in ("mean", "low", "high", "seeds_low",
                                                                       "seeds_high")}
    if complete.any():
        values = curves[:, complete]
        mean = values.mean(axis=0)
        error = z * values.std(axis=0, ddof=1) / math.sqrt(len(values)) if len(values) > 1 else numpy.nan
        tail = (1 - confidence) / 2 * 100
        for name, value in (("mean", mean), ("low", mean - error), ("high", mean + error),
                            ("seeds_low", numpy.percentile(values, tail, axis=0)),
                            ("seeds_high", numpy.percentile(values, 100 - tail, axis=0))):
            result[name][complete] = value
    return result


def first_reaching(grid: Sequence[float], values: Sequence[float], target: float) -> float | None:
    """The smallest budget of ``grid`` where ``values`` reach ``target`` (``None``: never within the grid)."""
    for budget, value in zip(grid, values):
        if math.isfinite(value) and value >= target - 1e-12:
            return float(budget)
    return None


__all__ = ["Budget", "EVALUATE", "SearchSpec", "band", "curve", "first_reaching", "record_of", "run_chunk",
           "run_specs", "search_config", "trained_at"]
