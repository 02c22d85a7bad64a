"""Validating a table: genomes drawn at random from it, trained afresh with a new seed, ranked against the table.

A table is worth its look-ups if a fresh training ranks its genomes as the table does. ``validate`` draws
``genomes`` distinct networks of the table (one genome each, with a fixed seed), trains them at the table's own task
and rungs (from its provenance) with training seed ``seed``, through the search loop as the build does (strategy
``enumerate`` over the drawn indices, experiment ``validate-seed<seed>`` in the build's store, so a stopped
validation resumes), and writes Kendall tau between the fresh top-rung validation top-1 and the table's replicate
mean, with a 95% bootstrap interval over genomes, to ``validation.json`` beside the table. The tau between the
table's own first two replicates on the same genomes is the ceiling the fresh training can reach.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

import numpy

from videonas.bench import rungs as rung_bench
from videonas.checks import check_int
from videonas.search import loop
from videonas.table.tables import Table, TableRow, load_table, replicate_of


def validation_path(table_path: str | os.PathLike) -> Path:
    """The validation file, beside the table."""
    return Path(table_path).with_name("validation.json")


def draw(table: Table, *, genomes: int, seed: int) -> list[TableRow]:
    """``genomes`` rows of ``table`` with a top-rung result, one per network, drawn with ``seed`` (index order)."""
    check_int("genomes", genomes, 3, 10_000)
    first_of_network: dict[str, TableRow] = {}
    for row in table.rows:
        if row.done():
            first_of_network.setdefault(row.network, row)
    candidates = list(first_of_network.values())
    if len(candidates) < 3:
        raise ValueError(f"the table has {len(candidates)} trained networks; validation needs at least 3")
    picks = numpy.random.default_rng(seed).choice(len(candidates), size=min(genomes, len(candidates)), replace=False)
    return sorted((candidates[int(i)] for i in picks), key=lambda row: row.index)


def search_config(table: Table, rows: list[TableRow], *, store: str | os.PathLike, seed: int,
                  executor: Any) -> dict[str, Any]:
    """The run configuration of the validation's experiment: the table's task and rungs, a new training seed."""
    task = dict(table.provenance.get("task") or {})
    if not task:
        raise ValueError("the table's provenance records no task; export it again with this version")
    epochs = list(table.rung_epochs)
    return {"name": f"validate-seed{seed}", "store": str(store),
            "space": {"family": "tvn", "options": {"table": dict(table.menu)}},
            "strategy": {"name": "enumerate", "options": {"indices": [row.index for row in rows]}},
            "seed": seed, "num_trials": len(rows), "batch_size": len(rows), "task": task,
            "budget": {"epochs": epochs[-1], "score_epochs": epochs[:-1]}, "executor": executor}


def validate(table_path: str | os.PathLike, *, store: str | os.PathLike, genomes: int = 20, seed: int = 7,
             executor: Any = None, progress: bool = True) -> dict[str, Any]:
    """Train the drawn genomes (or continue), write ``validation.json`` beside the table and return its contents."""
    table = load_table(table_path)
    replicates = int(table.provenance.get("replicates") or max((len(row.replicates) for row in table.rows), default=0))
    if seed < replicates:
        raise ValueError(f"seed {seed} trained the table's replicate {seed}; validation needs a new seed, at least "
                         f"{replicates}")
    rows = draw(table, genomes=genomes, seed=seed)
    executor = executor or {"kind": "subprocess", "options": {"max_workers": 2}}
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    experiment = loop.run_search(search_config(table, rows, store=store, seed=seed, executor=executor),
                                 progress=progress)
    fresh = {trial.genome_key: replicate_of(trial, table.rung_epochs, seed) for trial in experiment.trials()
             if trial.status in ("done", "failed", "rejected")}
    result = summary(rows, fresh, seed=seed, store=store)
    path = validation_path(table_path)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(result, indent=1, sort_keys=True))
    os.replace(temporary, path)
    return result


def summary(rows: list[TableRow], fresh: Mapping[str, Any], *, seed: int, store: str | os.PathLike) -> dict[str, Any]:
    """Tau of the fresh training against the table's replicate mean (and of the table's replicates 0 and 1)."""
    genomes, table_mean, again, first, second = [], [], [], [], []
    for row in rows:
        new = fresh.get(row.key)
        done = row.done()
        entry = {"index": row.index, "key": row.key, "table_val": [r.val[-1] for r in done],
                 "status": None if new is None else new.status}
        if new is not None and new.status == "done":
            entry["val"], entry["test"] = new.val[-1], new.test
            table_mean.append(float(numpy.mean(entry["table_val"])))
            again.append(new.val[-1])
            if len(done) >= 2:
                first.append(done[0].val[-1])
                second.append(done[1].val[-1])
        genomes.append(entry)
    result: dict[str, Any] = {"seed": seed, "store": str(store), "experiment": f"validate-seed{seed}",
                              "drawn": len(rows), "trained": len(again), "genomes": genomes}
    if len(again) >= 3:
        result["tau"] = {"tau": rung_bench.kendall_tau(table_mean, again),
                         "interval": list(rung_bench.tau_interval(table_mean, again))}
    if len(first) >= 3:
        result["ceiling"] = {"tau": rung_bench.kendall_tau(first, second),
                             "interval": list(rung_bench.tau_interval(first, second))}
    return result


def read(table_path: str | os.PathLike, table: Table | None = None) -> dict[str, Any] | None:
    """The validation written beside ``table_path`` (``None``: none was run). With ``table``, a validation of genomes
    the table does not hold (a table rebuilt on another menu since) is a ``ValueError``, not a tau about another
    table."""
    path = validation_path(table_path)
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    if table is not None:
        keys = {row.key for row in table.rows}
        missing = [entry["key"] for entry in result.get("genomes", []) if entry.get("key") not in keys]
        if missing:
            raise ValueError(f"{path}: {len(missing)} validated genomes are not in the table {table_path} (first "
                             f"{missing[0]!r}); validate this table again with 'python -m videonas table validate'")
    return result


def describe(result: Mapping[str, Any] | None) -> str:
    """The validation in one sentence for a report: tau with its interval, and the table's own replicate tau (the
    most a fresh training could reach)."""
    if result is None:
        return ("Not validated yet: 'python -m videonas table validate' trains genomes drawn from the table afresh "
                "and ranks them against it.")
    drawn = (f"{result['trained']} of {result['drawn']} genomes drawn from the table trained afresh "
             f"(seed {result['seed']})")
    if "tau" not in result:
        return f"{drawn}: too few for a Kendall tau."
    tau = result["tau"]
    text = (f"{drawn}: Kendall tau {tau['tau']:.2f} (95% bootstrap interval {tau['interval'][0]:.2f} to "
            f"{tau['interval'][1]:.2f}) between their top-rung validation top-1 and the table's replicate mean")
    ceiling = result.get("ceiling")
    if ceiling:
        text += (f"; the table's own two replicates agree at tau {ceiling['tau']:.2f} ({ceiling['interval'][0]:.2f} "
                 f"to {ceiling['interval'][1]:.2f}) on the same genomes, the most a fresh training could reach")
    return text + "."


__all__ = ["describe", "draw", "read", "search_config", "summary", "validate", "validation_path"]
