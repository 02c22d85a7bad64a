"""Memory over a long search: do the driver (store, strategy) and a worker (candidate after candidate) grow?

Real candidates (the search benchmark's small TVN space, one epoch on the embedded smoke data) on the subprocess
pool, with workers never recycled (``trials_per_worker`` above the count), so one worker process trains every
candidate its slot gets: resident memory of the driver after the first ``checkpoints[0]`` candidates and again after
``checkpoints[-1]``, and each worker's own figure after each candidate (it reports it with the result). The search
is one experiment resumed at each checkpoint, exactly as a user grows ``num_trials``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas.bench.search import BUDGET, EVALUATE, SPACE, TASK, overhead, trial_options
from videonas import config
from videonas.search import run_search
from videonas.search.worker import rss_mib


def driver_rss(*, checkpoints: Sequence[int] = (10, 200), space: Mapping[str, Any] = SPACE,
               evaluate: str = EVALUATE, evaluate_options: Mapping[str, Any] | None = None,
               strategy: str = "mutate-best", executor: str = "subprocess", max_workers: int | None = None,
               store_dir: str | Path) -> dict[str, Any]:
    """Driver RSS before the search and after each checkpoint (candidates stored so far), plus the overhead split."""
    if not checkpoints or any(b <= a for a, b in zip(checkpoints, checkpoints[1:])) or checkpoints[0] < 1:
        raise ValueError(f"checkpoints must be increasing positive counts, got {list(checkpoints)!r}")
    max_workers = max_workers or os.cpu_count() or 1
    options = trial_options(evaluate_options, task=TASK, budget=BUDGET, workers=max_workers)
    common = dict(space=space, store=Path(store_dir) / "memory.sqlite",
                  strategy={"name": strategy, "options": {"population_size": 4}}, batch_size=2, seed=0,
                  **config.evaluate_fields(evaluate, options),
                  executor={"kind": executor, "options": {} if executor == "inprocess" else
                            {"max_workers": max_workers, "trials_per_worker": 10**6}}, progress=False)
    rows = [{"candidates": 0, "rss_mib": rss_mib(), "wall_s": 0.0}]
    started = time.perf_counter()
    experiment = None
    for count in checkpoints:
        experiment = run_search("memory", num_trials=count, **common)
        rows.append({"candidates": count, "rss_mib": rss_mib(), "wall_s": time.perf_counter() - started})
    trials = experiment.trials()
    worker_rss = [(t.index, (t.metrics.get("worker") or {}).get("rss_mib")) for t in trials]
    return {"executor": executor, "max_workers": max_workers, "rows": rows,
            "worker_rss_mib": [[index, value] for index, value in worker_rss if value is not None],
            "statuses": {s: sum(t.status == s for t in trials) for s in ("done", "failed", "rejected")},
            "overhead": overhead(trials)}


def run(*, quick: bool = False) -> dict[str, Any]:
    """10 and 200 real candidates; ``quick``: 2 and 4 toy candidates in-process (figures not meaningful)."""
    with tempfile.TemporaryDirectory(prefix="videonas-bench-memory-") as folder:
        if quick:
            result = driver_rss(checkpoints=(2, 4), space={"family": "toy", "options": {"length": 6, "choices": 3}},
                                evaluate="videonas.search.synthetic:evaluate", evaluate_options={},
                                strategy="regularized", executor="inprocess", store_dir=folder)
        else:
            result = driver_rss(store_dir=folder)
    first, last = result["rows"][1], result["rows"][-1]
    growth = last["rss_mib"] - first["rss_mib"]
    where = f"{result['executor']}, {result['max_workers']} workers"
    headline = [
        {"label": f"driver RSS before the search ({where})", "value": round(result["rows"][0]["rss_mib"], 1),
         "paper": ""},
        {"label": f"driver RSS after {first['candidates']} candidates (MiB)", "value": round(first["rss_mib"], 1),
         "paper": ""},
        {"label": f"driver RSS after {last['candidates']} candidates (MiB)", "value": round(last["rss_mib"], 1),
         "paper": "the population trains in parallel for ~1000 rounds (TVN): the driver must not grow"},
    ]
    workers = result["worker_rss_mib"]
    early = [value for index, value in workers if index < first["candidates"]]
    late = [value for index, value in workers if index >= len(workers) - first["candidates"]]
    worker_text = ""
    if early and late:
        headline.append({"label": f"worker RSS over its first / last {first['candidates']} candidates (MiB, median)",
                         "value": f"{statistics.median(early):.0f} / {statistics.median(late):.0f}", "paper": ""})
        worker_text = (f" A worker training candidate after candidate went from {statistics.median(early):.0f} to "
                       f"{statistics.median(late):.0f} MiB (medians of the first and last {first['candidates']}).")
    statuses = ", ".join(f"{count} {status}" for status, count in result["statuses"].items())
    conclusion = (f"The driver grew by {growth:+.1f} MiB between {first['candidates']} and {last['candidates']} "
                  f"candidates ({statuses}); what it keeps is the strategy's history and the store connection."
                  + worker_text)
    return {"title": "Driver memory over a search", "headline": headline, "conclusion": conclusion,
            "extra": result}
