"""Searches on the table: a trial function that looks a genome up instead of training it.

``evaluate_table`` has the signature of any trial function (``videonas.search.executors.Job``), so every strategy,
with or without rungs, runs on the table through the same ``run_search``, at about a millisecond per trial with the
in-process executor::

    run_search(name="re-on-table", store=..., space={"family": "tvn", "options": {"table": table.menu}},
               strategy="regularized", num_trials=200, executor="inprocess",
               evaluate={"function": "videonas.table:evaluate_table", "options": {"table": "reports/bench/table/tvn_table.json.gz"}})

Training noise comes from the replicates: the trial's seed draws which replicate answers, so two seeds of one search
see different trainings of the same genome, as real searches would. A rung's fitness is the replicate's validation
top-1 after that rung's epochs (recorded during the top-rung training, which equals a training stopped there). The
limits P, FLOPs and R reject candidates from the table's params, MACs and latency columns, as the real trial function
would before training.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy

from videonas.search.store import TrialResult
from videonas.table.tables import Table, load_table

_CACHE: dict[tuple[str, int, int], Table] = {}
SCORES = ("val", "val_scene", "val_motion")


def cached_table(path: str | os.PathLike | Table) -> Table:
    """The table at ``path``, read once per process (and again when the file changes)."""
    if isinstance(path, Table):
        return path
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise ValueError(f"table {str(path)!r} not found")
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = load_table(resolved)
    return _CACHE[key]


def evaluate_table(genome: Any, *, seed: int, table: str | os.PathLike | Table, fidelity: Any = None,
                   epochs: int | None = None, max_params: int | None = None, max_flops: int | None = None,
                   max_latency_ms: float | None = None, score: str = "val") -> TrialResult:
    """The genome's result from the table: fitness at ``fidelity.epochs`` (a rung of a multi-fidelity search), else
    at ``epochs``, else at the top rung, from the replicate the trial's ``seed`` draws; ``metrics["test"]`` (test
    top-1, overall and by class kind) only at the top rung, where the table has it. A genome the table lacks, or a
    genome whose every replicate failed, is a failed trial; epochs that are not a rung of the table are a
    ``ValueError``. ``score`` is the fitness: validation top-1 on all classes (``"val"``), or on one kind of class
    only (``"val_scene"``, ``"val_motion"``: what a search on a scene-only or a motion-only data set would select
    on; the table has these at the top rung only)."""
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)}, got {score!r}")
    table = cached_table(table)
    row = table.row(genome)  # KeyError: a failed trial naming the genome
    figures = {"params": row.params, "flops": row.flops, "latency_ms": row.latency_ms}
    for name, figure, limit in (("max_params", "params", max_params), ("max_flops", "flops", max_flops),
                                ("max_latency_ms", "latency_ms", max_latency_ms)):
        value = figures[figure]
        if limit is not None and value is None:
            return TrialResult.failed(f"the table has no {figure} for genome {row.key}; {name} cannot apply",
                                      **figures)
        if limit is not None and value > limit:
            return TrialResult(status="rejected", error=f"{figure} {value:g} > limit {limit:g}", rejected_by=name,
                               **figures)
    done = row.done()
    if not done:
        return TrialResult.failed(f"every replicate of genome {row.key} in the table "
                                  f"{[r.status for r in row.replicates]}: {row.replicates[0].error}", **figures)
    wanted = fidelity.epochs if fidelity is not None else (epochs or table.rung_epochs[-1])
    if wanted not in table.rung_epochs:
        raise ValueError(f"epochs {wanted} is not a rung of the table; its rungs are {list(table.rung_epochs)}")
    rung = table.rung_epochs.index(wanted)
    if score != "val" and rung != len(table.rung_epochs) - 1:
        raise ValueError(f"score {score!r} is in the table at its top rung only ({table.rung_epochs[-1]} epochs), not "
                         f"at {wanted}: search on it without rungs")
    replicate = done[int(numpy.random.default_rng(seed).integers(len(done)))]
    metrics: dict[str, Any] = {"accuracy": replicate.val[rung], "epochs_trained": wanted,
                               "replicate": replicate.seed, "table_index": row.index,
                               "val_by_epoch": {str(e): v for e, v in zip(table.rung_epochs[: rung + 1], replicate.val)}}
    if rung == len(table.rung_epochs) - 1:
        metrics["accuracy_by_kind"] = {"scene": replicate.val_scene, "motion": replicate.val_motion}
        metrics["test"] = {"accuracy": replicate.test,
                           "accuracy_by_kind": {"scene": replicate.test_scene, "motion": replicate.test_motion}}
        metrics["train_seconds"] = replicate.train_seconds
    fitness = replicate.val[rung] if score == "val" else getattr(replicate, score)
    if fitness is None:
        return TrialResult.failed(f"genome {row.key} has no {score} in the table", **figures)
    metrics["accuracy"] = fitness
    return TrialResult(fitness=fitness, metrics=metrics, **figures)


__all__ = ["cached_table", "evaluate_table"]
