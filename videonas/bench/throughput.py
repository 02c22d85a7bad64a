"""Search throughput: candidates per hour, and how much of a candidate's wall time is not training.

Two budgets: ``smoke`` (the search benchmark's small TVN space, one epoch on the embedded smoke data: 13 steps) and
``default`` (``tvn_search``'s default space and budget: three epochs on 520 clips of the embedded default data, 99
steps). For each,
the same random candidates (same seed) run through:

- a fresh process per candidate (``trials_per_worker=1``, the executor before persistent workers) and persistent
  workers, at 1 worker x all cores and at 2 workers x one thread each;
- with persistent workers, the three ways of running a candidate: TensorFlow graph (the default), TensorFlow eager
  (``task.run_eagerly``) and the torch backend (workers started with ``KERAS_BACKEND=torch``).

"Outside steady training" is a candidate's wall time (store timestamps, sent to a worker -> result stored) minus its
training steps after the first (the first one is mostly graph tracing), over the wall time. The clip cache is filled
before the clock starts. Wall-clock figures: they depend on the machine and on what else runs on it.

What 2 workers can give is bounded by the machine: ``machine_ceiling`` runs one fixed single-thread kernel in 1 and
then 2 processes at once, so the 2-worker figures can be read against what the 2 cores deliver to two processes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas.bench.search import SPACE, overhead, warm_clip_cache
from videonas.search import run_search
from videonas.search.loop import space_config, space_from_config

# tvn_search's default profile (notebooks/params/default/tvn_search.yaml).
DEFAULT_SPACE: dict[str, Any] = {"family": "tvn", "image_sizes": [32, 48], "frame_counts": [1, 2, 4, 8],
                                 "frame_strides": [2], "max_blocks": 4, "filters": [16, 32, 48, 64], "max_repeats": 2}
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"space": SPACE, "task": {"dataset": "embedded:smoke", "batch_size": 16}, "budget": {"epochs": 1},
              "candidates": 16},  # a search's many candidates: a worker's start-up is shared by 8 of them
    "default": {"space": DEFAULT_SPACE, "budget": {"epochs": 3}, "candidates": 6,
                "task": {"dataset": "embedded:default", "batch_size": 16, "learning_rate": 0.003,
                         "max_train_clips": 520}},
}
EXECUTORS = {"process per candidate": {"trials_per_worker": 1}, "persistent workers": {}}
MODES = {"graph": ({}, {}), "eager": ({}, {"run_eagerly": True}), "torch": ({"env": {"KERAS_BACKEND": "torch"}}, {})}


# One fixed single-thread kernel (float32 matmuls), timed inside the process so start-up does not count.
_KERNEL = """
import time, numpy
a = numpy.random.default_rng(0).random((384, 384), dtype=numpy.float32)
start = time.perf_counter()
for _ in range({repeats}):
    a = numpy.tanh(a @ a)
print(time.perf_counter() - start)
"""
_ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def machine_ceiling(*, repeats: int = 1500, trials: int = 3) -> dict[str, Any]:
    """How much more work 2 processes get done than 1 on this machine: the same single-thread kernel alone, then two
    copies at once; ``speedup`` = 2 x (time alone) / (slower time of the pair), medians over ``trials``."""
    env = {**os.environ, **_ONE_THREAD}
    code = _KERNEL.format(repeats=int(repeats))

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)

    alone, pairs = [], []
    for _ in range(trials):
        alone.append(float(start().communicate()[0]))
        both = [start(), start()]
        pairs.append(max(float(process.communicate()[0]) for process in both))
    speedup = 2 * statistics.median(alone) / statistics.median(pairs)
    return {"alone_s": alone, "pair_s": pairs, "speedup": speedup, "cpu_count": os.cpu_count()}


def measure(*, space: Mapping[str, Any], task: Mapping[str, Any], budget: Mapping[str, Any], candidates: int,
            workers: int, executor_options: Mapping[str, Any], store: Path, name: str, seed: int = 0,
            threads: int | None = None) -> dict[str, Any]:
    """One arm: ``candidates`` random candidates (one round) on a subprocess pool of ``workers``, each with
    ``threads`` threads (default: the cores shared out)."""
    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    started = time.perf_counter()
    experiment = run_search(name, space=space_config(space_from_config(space)), store=store, num_trials=candidates,
                            strategy="random", batch_size=candidates, seed=seed,
                            task={**task, "threads": threads}, budget=dict(budget),
                            executor={"kind": "subprocess", "options": {**executor_options, "max_workers": workers}},
                            progress=False)
    wall = time.perf_counter() - started
    trials = experiment.trials()
    split = overhead(trials)
    return {"workers": workers, "threads_per_worker": threads, "candidates": len(trials),
            "done": sum(t.status == "done" for t in trials), "wall_s": wall,
            "candidates_per_hour": 3600 * len(trials) / wall,
            "share_outside_steady_training": split["median_share_outside_steady_fit"],
            "median_candidate_s": split["median_wall_s"], "median_timings_s": split["median_timings_s"],
            "fitness": [t.fitness for t in trials]}


def run_profile(profile: str, *, store_dir: Path, candidates: int | None = None,
                workers: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Every executor x worker count, then every mode on persistent workers at the largest worker count."""
    settings = PROFILES[profile]
    count = candidates or settings["candidates"]
    common = dict(space=settings["space"], task=settings["task"], budget=settings["budget"], candidates=count,
                  store=store_dir / f"{profile}.sqlite")
    warm_clip_cache(space=settings["space"], task=settings["task"], seed=0, count=count)
    runs = []
    for executor, options in EXECUTORS.items():
        for number in workers:
            row = measure(workers=number, executor_options=options, name=f"{executor}-{number}", **common)
            runs.append({"executor": executor, "mode": "graph", **row})
    if 1 in workers and max(workers) > 1:  # one worker on one thread: what a second worker is compared with
        row = measure(workers=1, threads=1, executor_options={}, name="persistent workers-1x1", **common)
        runs.append({"executor": "persistent workers", "mode": "graph", **row})
    for mode, (options, task) in MODES.items():
        if mode == "graph":
            continue
        row = measure(workers=max(workers), executor_options=options, name=f"{mode}-{max(workers)}",
                      **{**common, "task": {**settings["task"], **task}})
        runs.append({"executor": "persistent workers", "mode": mode, **row})
    return {"profile": profile, "candidates": count, "budget": settings["budget"], "runs": runs}


def run(*, quick: bool = False) -> dict[str, Any]:
    """Both budgets (``quick``: the smoke budget only, 2 candidates, 1 worker count; figures not meaningful)."""
    with tempfile.TemporaryDirectory(prefix="videonas-bench-throughput-") as folder:
        if quick:
            results = [run_profile("smoke", store_dir=Path(folder), candidates=2, workers=(1,))]
            ceiling = machine_ceiling(repeats=50, trials=1)
        else:
            ceiling = machine_ceiling()
            results = [run_profile(profile, store_dir=Path(folder)) for profile in PROFILES]
    return summary(results, quick=quick, ceiling=ceiling)


def find_run(runs: Sequence[Mapping[str, Any]], executor: str, mode: str, workers: int,
             threads: int | None = None) -> Mapping[str, Any] | None:
    """The run of ``executor`` in ``mode`` at ``workers`` (and ``threads`` per worker, when given), or ``None``."""
    return next((r for r in runs if (r["executor"], r["mode"], r["workers"]) == (executor, mode, workers)
                 and threads in (None, r["threads_per_worker"])), None)


def summary(results: Sequence[Mapping[str, Any]], *, quick: bool = False,
            ceiling: Mapping[str, Any] | None = None) -> dict[str, Any]:
    headline, notes = [], []
    if ceiling:
        headline.append({"label": "machine: one single-thread kernel in 2 processes at once vs 1 (work per second)",
                         "value": f"{ceiling['speedup']:.2f}x", "paper": ""})
        notes.append(f"this machine gives 2 processes {ceiling['speedup']:.2f}x the work of 1 on a fixed "
                     "single-thread kernel, the bound on what a second worker can add")
    for result in results:
        profile = result["profile"]
        for row in result["runs"]:
            share = row["share_outside_steady_training"]
            headline.append({
                "label": f"{profile}: {row['executor']}, {row['mode']}, {row['workers']} worker(s) x "
                         f"{row['threads_per_worker']} thread(s): candidates per hour (share of a candidate's time "
                         f"outside steady training)",
                "value": f"{row['candidates_per_hour']:.0f} ({'n/a' if share is None else f'{share:.0%}'})",
                "paper": ""})
        most = max(r["workers"] for r in result["runs"])
        fresh, warm = (find_run(result["runs"], executor, "graph", most) for executor in EXECUTORS)
        fastest = max((r for r in result["runs"] if r["executor"] == "persistent workers" and r["workers"] == most),
                      key=lambda r: r["candidates_per_hour"])
        if fresh and fastest:
            gain = fastest["candidates_per_hour"] / fresh["candidates_per_hour"]
            headline.append({"label": f"{profile}: persistent workers ({fastest['mode']}) vs a process per candidate, "
                                      f"{most} worker(s): candidates per hour", "value": f"{gain:.1f}x", "paper": ""})
            notes.append(f"{profile} budget: the fastest way ({fastest['mode']} on persistent workers) gives "
                         f"{gain:.1f}x the candidates per hour of a fresh process per candidate")
        two = find_run(result["runs"], "persistent workers", "graph", 2)
        for threads in (2, 1):
            one = find_run(result["runs"], "persistent workers", "graph", 1, threads)
            if one and two and one is not two:
                speedup = two["candidates_per_hour"] / one["candidates_per_hour"]
                headline.append({"label": f"{profile}: 2 workers x 1 thread vs 1 worker x {threads} thread(s) "
                                          "(persistent, graph)", "value": f"{speedup:.2f}x", "paper": ""})
                notes.append(f"2 workers give {speedup:.2f}x the throughput of 1 worker on {threads} thread(s)")
        if warm and warm["share_outside_steady_training"] is not None:
            notes.append(f"{warm['share_outside_steady_training']:.0%} of a graph-mode candidate's time is outside "
                         f"steady training on persistent workers")
    conclusion = ("Quick run (tiny, for tests). " if quick else "") + "; ".join(notes) + (
        ". Candidates are the same random genomes in every arm (seed 0), so the arms differ only in how they run; "
        "times are wall-clock on this machine and vary with its load.")
    return {"title": "Search throughput: workers, execution mode, backend", "headline": headline,
            "conclusion": conclusion, "extra": {"profiles": list(results), "machine_ceiling": dict(ceiling or {}),
                                                "load_average": os.getloadavg()}}
