"""Building the table: train every genome of the sub-space through the search loop, time them, export the file.

Training runs the ordinary search machinery: one experiment per replicate (``replicate-<r>``, seed ``r``) in one
trial store, strategy ``enumerate`` (every genome once, in index order), the default trial function at the top rung's
epochs with the lower rungs scored on the way (``budget.score_epochs``) and test scored. So the store's resume, the
executors, the rejection before training and the network dedupe (genomes that build the same network train once)
all apply, and a build stopped anywhere continues where it stopped, on this machine or on another one that has the
committed store. Replicates advance together, ``CHUNK`` genomes at a time, so a partial build has every replicate of
the genomes it holds.

Latency is a second pass, after training: every network of the table converted to ONNX and timed at batch 1 on
ONNX Runtime (one thread) on this machine, written after each network to ``latency.json`` beside the store (a
stopped pass resumes; a pass on another machine starts over, so every figure of a table comes from one machine).
The task and rungs are those of the rank-fidelity bench (``videonas.bench.rungs``): all training clips of the
default embedded dataset, 520 validation clips, rungs of 1, 2 and 6 epochs.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config as config_module, report
from videonas.bench import rungs as rung_bench
from videonas.genome import tvn
from videonas.genome.tvn_genome import network_key
from videonas.search import loop
from videonas.table import provenance as provenance_module
from videonas.table.tables import Table, export_table, write_table

log = logging.getLogger(__name__)

FOLDER = report.project_root() / "reports" / "bench" / "table"
STORE = FOLDER / "search.sqlite"
TABLE = FOLDER / "tvn_table.json.gz"
CHUNK = 8  # genomes per round and per step of every replicate (fixed: the stored configuration must not change)
LATENCY = {"runtime": "onnxruntime", "threads": 1, "runs": 20, "warmup": 3}


def latency_path(store: str | os.PathLike) -> Path:
    """The latency pass's file, beside the build's store."""
    return Path(store).with_name("latency.json")


def search_config(replicate: int, *, store: str | os.PathLike, menu: Mapping[str, Any], num_trials: int,
                  task: Mapping[str, Any], rung_epochs: Sequence[int], executor: Any) -> dict[str, Any]:
    """The run configuration of one replicate's experiment."""
    return {"name": f"replicate-{replicate}", "store": str(store), "space": {"family": "tvn", "options": {"table":
            dict(menu)}}, "strategy": "enumerate", "seed": replicate, "num_trials": num_trials, "batch_size": CHUNK,
            "task": dict(task), "budget": {"epochs": rung_epochs[-1], "score_epochs": list(rung_epochs[:-1])},
            "executor": executor}


def train(*, store: str | os.PathLike, menu: Mapping[str, Any], genomes: int | None, replicates: int,
          task: Mapping[str, Any], rung_epochs: Sequence[int], executor: Any, progress: bool = True) -> int:
    """Train the first ``genomes`` genomes (all: ``None``) under every replicate; returns how many genomes."""
    space = tvn.TVNSpace(table=dict(menu))
    total = len(space) if genomes is None else min(genomes, len(space))
    Path(store).parent.mkdir(parents=True, exist_ok=True)
    first = config_module.SearchConfig.from_dict(search_config(0, store=store, menu=menu, num_trials=total,
                                                               task=task, rung_epochs=rung_epochs, executor=executor))
    if first.evaluate.default:
        first.task.open_dataset()  # generated once here, not by several workers at once
    runner = first.executor.build()
    try:
        for stop in range(min(CHUNK, total), total + CHUNK, CHUNK):
            stop = min(stop, total)
            for replicate in range(replicates):
                loop.run_search(search_config(replicate, store=store, menu=menu, num_trials=stop, task=task,
                                              rung_epochs=rung_epochs, executor=executor),
                                executor=runner, progress=progress)
            if stop == total:
                break
    finally:
        runner.close()
    return total


def measure_latencies(table: Table, path: str | os.PathLike, *, setup: Mapping[str, Any] = LATENCY,
                      num_classes: int = provenance_module.NUM_CLASSES) -> dict[str, Any]:
    """Time every network of ``table`` not yet in the latency file ``path`` (this machine's only; another
    machine's file is replaced), writing the file after each; returns its contents."""
    from videonas import families  # Keras: deferred to the pass that builds models
    from videonas.deploy import runtimes

    path = Path(path)
    here = provenance_module.machine()
    state = json.loads(path.read_text()) if path.is_file() else {}
    if state.get("machine") != here or state.get("setup") != dict(setup):
        if state:
            log.warning("latency file %s was measured on %s with %s; measuring every network again here", path,
                        state.get("machine"), state.get("setup"))
        state = {"machine": here, "setup": dict(setup), "by_network": {}}
    family = families.get("tvn")
    for row in table.rows:
        if row.network in state["by_network"] or not row.done():
            continue
        genome = tvn.TVNGenome.from_dict(row.genome)
        model = family.build(genome, num_classes=num_classes)
        timing = runtimes.measure_latency(model, runtime=setup["runtime"], threads=setup["threads"],
                                          runs=setup["runs"], warmup=setup["warmup"])
        state["by_network"][network_key(genome)] = {"median_ms": float(timing["median_ms"]),
                                                    "cv": float(timing["cv"])}
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(state, indent=1, sort_keys=True))
        os.replace(temporary, path)
    return state


def export(*, store: str | os.PathLike, out: str | os.PathLike, menu: Mapping[str, Any], replicates: int,
           task: Mapping[str, Any], rung_epochs: Sequence[int], latency_file: str | os.PathLike | None) -> Table:
    """Write the table of what ``store`` (and the latency file, where given) holds to ``out``."""
    latency = None
    if latency_file is not None and Path(latency_file).is_file():
        latency = json.loads(Path(latency_file).read_text())
    space = tvn.TVNSpace(table=dict(menu))
    recorded = provenance_module.provenance(space, task=task, rung_epochs=rung_epochs, replicates=replicates,
                                            latency=latency)
    table = export_table(store, menu=menu, rung_epochs=rung_epochs, replicates=replicates, provenance=recorded,
                         latency=latency)
    write_table(table, out)
    return table


def build(*, out: str | os.PathLike = TABLE, store: str | os.PathLike = STORE, menu: Mapping[str, Any] | None = None,
          genomes: int | None = None, replicates: int = 2, task: Mapping[str, Any] | None = None,
          rung_epochs: Sequence[int] = rung_bench.RUNG_EPOCHS, executor: Any = None, latency: bool = True,
          latency_setup: Mapping[str, Any] = LATENCY, progress: bool = True) -> Table:
    """Train (or continue training) the table, time its networks, and write the file ``out``."""
    menu = tvn.TVNSpace(table=dict(menu or {})).menu
    task = dict(rung_bench.TASK if task is None else task)
    executor = executor or {"kind": "subprocess", "options": {"max_workers": 2}}
    train(store=store, menu=menu, genomes=genomes, replicates=replicates, task=task, rung_epochs=rung_epochs,
          executor=executor, progress=progress)
    latency_file = latency_path(store)
    if latency:
        trained = export_table(store, menu=menu, rung_epochs=rung_epochs, replicates=replicates, provenance={})
        measure_latencies(trained, latency_file, setup=latency_setup)
    return export(store=store, out=out, menu=menu, replicates=replicates, task=task, rung_epochs=rung_epochs,
                  latency_file=latency_file if latency else None)


__all__ = ["CHUNK", "FOLDER", "LATENCY", "STORE", "TABLE", "build", "export", "latency_path", "measure_latencies",
           "search_config", "train"]
