"""Search benchmarks with real training at smoke size: evolution vs random search, framework overhead, scale-out.

- Efficiency: for each seed, random search and TVN-style evolution ("mutate-best": mutate the best so far) each run
  ``num_trials`` candidates on a small TVN space (32 px, 1-4 frames, <= 3 blocks of <= 32 filters) trained for one
  epoch on the embedded smoke dataset (sized so that ``make bench`` fits in 30 minutes on 2 shared cores, where one
  candidate costs 30-90 s including a fresh Keras and graph tracing: 3 seeds x 2 strategies x 6 candidates).
  The figure is how many evaluations evolution needs to reach the best fitness random search found in all its trials
  (the TVN paper: evolution finds good networks more efficiently
  than random search). With the same seed both strategies draw the same ``population_size`` random candidates first
  (same generator), so they differ only in what follows: more random samples, or mutations of the best so far.
  At this size the fitness is noisy (78 validation clips, 13 classes): read the median, not one seed.
- Overhead: the share of a candidate's wall time (store timestamps: started -> finished) spent outside ``model.fit``,
  and outside steady training (``fit`` minus its first step, which is mostly graph tracing), from the timings
  ``videonas.train.train_candidate`` records, per executor.
- Scale: the same few candidates through the subprocess pool and a local Ray with 1 and 2 workers; throughput in
  candidates per minute. Each worker gets ``cores // workers`` BLAS threads, so 2 workers do not oversubscribe.
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config
from videonas.search import run_search
from videonas.search.loop import space_config, space_from_config
from videonas.search.strategies import make_strategy
from videonas.task import TrainTask

SPACE: dict[str, Any] = {"family": "tvn", "image_sizes": [32], "frame_counts": [1, 2, 4], "frame_strides": [1, 2],
                         "min_blocks": 2, "max_blocks": 3, "filters": [16, 32], "max_repeats": 2,
                         "max_non_local_positions": 256}
TASK: dict[str, Any] = {"dataset": "embedded:smoke", "batch_size": 16}
BUDGET: dict[str, Any] = {"epochs": 1}
EVALUATE = "videonas.train:evaluate_trial"


def trial_options(evaluate_options: Mapping[str, Any] | None, *, task: Mapping[str, Any],
                  budget: Mapping[str, Any], workers: int) -> dict[str, Any]:
    """``evaluate_options`` as given, or real training of ``task`` for ``budget`` with ``cores // workers`` threads
    per worker, so that parallel candidates do not oversubscribe the cores."""
    if evaluate_options is not None:
        return dict(evaluate_options)
    threads = max(1, (os.cpu_count() or 1) // workers)
    return {"task": {**task, "threads": threads}, "budget": dict(budget)}


def efficiency(*, seeds: Sequence[int] = (0, 1, 2), num_trials: int = 6, batch_size: int = 2,
               population_size: int = 2, space: Any = SPACE, task: Mapping[str, Any] = TASK,
               budget: Mapping[str, Any] = BUDGET, evaluate: str = EVALUATE,
               evaluate_options: Mapping[str, Any] | None = None, executor: str = "subprocess",
               max_workers: int | None = None, store_dir: str | Path) -> dict[str, Any]:
    """Random search vs evolution on ``space``; per seed the fitness curves and the evaluations needed.

    ``evaluate``/``evaluate_options`` default to real training of ``task`` for ``budget`` (any trial function of the
    search loop works, e.g. ``videonas.search.synthetic:evaluate`` with its toy space). Candidates run on ``executor``
    with ``max_workers`` (default: one per core, each with ``cores // max_workers`` threads): a tiny candidate spends
    most of its time in single-threaded Python (graph tracing), so parallel candidates use the cores better.
    """
    space = space_config(space_from_config(space))
    cores = os.cpu_count() or 1
    max_workers = max_workers or cores
    per_seed = []
    options = trial_options(evaluate_options, task=task, budget=budget, workers=max_workers)
    executor_options = {} if executor == "inprocess" else {"max_workers": max_workers}
    for seed in seeds:
        curves = {}
        trials_by_strategy = {}
        for strategy, strategy_options in (("random", {}), ("mutate-best", {"population_size": population_size})):
            store = Path(store_dir) / "efficiency.sqlite"
            experiment = run_search(f"{strategy}-{seed}", space=space, store=str(store), num_trials=num_trials,
                                    strategy={"name": strategy, "options": strategy_options},
                                    batch_size=batch_size, seed=seed, **config.evaluate_fields(evaluate, options),
                                    executor={"kind": executor, "options": executor_options}, progress=False)
            trials = experiment.trials()
            curves[strategy] = [t.fitness if t.status == "done" else None for t in trials]
            trials_by_strategy[strategy] = trials
        random_best = max((f for f in curves["random"] if f is not None), default=None)
        per_seed.append({
            "seed": seed, "random_best": random_best,
            "evolution_best": max((f for f in curves["mutate-best"] if f is not None), default=None),
            "evolution_needed": evaluations_to_reach(curves["mutate-best"], random_best),
            "random_needed": evaluations_to_reach(curves["random"], random_best),
            "random_curve": curves["random"], "evolution_curve": curves["mutate-best"],
            "failed_or_rejected": {s: sum(t.status != "done" for t in ts) for s, ts in trials_by_strategy.items()},
            "overhead": overhead([t for ts in trials_by_strategy.values() for t in ts]),
        })
    return {"seeds": list(seeds), "num_trials": num_trials, "batch_size": batch_size,
            "population_size": population_size, "executor": executor, "max_workers": max_workers,
            "space": space,
            "evaluate": evaluate, "evaluate_options": options, "per_seed": per_seed,
            "median_evolution_needed": _median_needed([s["evolution_needed"] for s in per_seed]),
            "median_random_needed": _median_needed([s["random_needed"] for s in per_seed]),
            "median_random_best": _median([s["random_best"] for s in per_seed]),
            "median_evolution_best": _median([s["evolution_best"] for s in per_seed])}


def evaluations_to_reach(curve: Sequence[float | None], target: float | None) -> int | None:
    """1-based count of evaluations until a fitness >= ``target`` appears (``None``: never, or no target)."""
    if target is None:
        return None
    for position, fitness in enumerate(curve):
        if fitness is not None and fitness >= target - 1e-12:
            return position + 1
    return None


def overhead(trials: Sequence[Any]) -> dict[str, Any]:
    """Median share of wall time outside ``model.fit`` (and outside fit minus its first, graph-tracing step).

    Trials whose result was copied from a duplicate (``reused_from``), or that were not trained, are left out.
    """
    shares, shares_no_tracing, walls, parts = [], [], [], {}
    for trial in trials:
        timings = (trial.metrics or {}).get("timings") or {}
        if trial.status != "done" or "reused_from" in trial.metrics or "fit_s" not in timings:
            continue
        if trial.started is None or trial.finished is None:
            continue
        wall = trial.finished - trial.started
        if wall <= 0:
            continue
        walls.append(wall)
        shares.append(1 - min(timings["fit_s"], wall) / wall)
        steady = timings["fit_s"] - timings.get("first_step_s", 0.0)
        shares_no_tracing.append(1 - min(steady, wall) / wall)
        for key, value in timings.items():
            parts.setdefault(key, []).append(float(value))
    return {"trials": len(walls), "median_wall_s": _median(walls), "median_share_outside_fit": _median(shares),
            "median_share_outside_steady_fit": _median(shares_no_tracing),
            "median_timings_s": {key: statistics.median(values) for key, values in parts.items()}}


def scale(*, workers: Sequence[int] = (1, 2), executors: Sequence[str] = ("subprocess", "ray"),
          num_candidates: int = 2, seed: int = 0, space: Mapping[str, Any] = SPACE,
          task: Mapping[str, Any] = TASK, budget: Mapping[str, Any] = BUDGET, evaluate: str = EVALUATE,
          evaluate_options: Mapping[str, Any] | None = None, store_dir: str | Path) -> dict[str, Any]:
    """Throughput of the same ``num_candidates`` (one random round) per executor and worker count.

    With the default (real training) the clip cache is filled first and each worker's ``task.threads`` is
    ``cores // workers``; a custom ``evaluate`` gets ``evaluate_options`` unchanged.
    """
    cores = os.cpu_count() or 1
    if evaluate_options is None:
        warm_clip_cache(space=space, task=task, seed=seed, count=num_candidates)
    runs = []
    ray_init_s = None
    try:
        if "ray" in executors:  # started before the clock: cluster start-up is paid once, not per search
            import ray  # Ray: deferred

            if not ray.is_initialized():
                started = time.perf_counter()
                ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
                ray_init_s = time.perf_counter() - started
        for kind in executors:
            for count in workers:
                threads = max(1, cores // count)
                options = trial_options(evaluate_options, task=task, budget=budget, workers=count)
                executor_options: dict[str, Any] = {"max_workers": count}
                started = time.perf_counter()
                experiment = run_search(f"scale-{kind}-{count}", space=space_config(space_from_config(space)),
                                        store=str(Path(store_dir) / "scale.sqlite"), num_trials=num_candidates,
                                        strategy="random", batch_size=num_candidates, seed=seed,
                                        **config.evaluate_fields(evaluate, options),
                                        executor={"kind": kind, "options": executor_options}, progress=False)
                wall = time.perf_counter() - started
                trials = experiment.trials()
                runs.append({"executor": kind, "workers": count, "threads_per_worker": threads,
                             "wall_s": wall, "candidates": len(trials),
                             "done": sum(t.status == "done" for t in trials),
                             "candidates_per_min": 60 * len(trials) / wall, "overhead": overhead(trials)})
    finally:
        if "ray" in executors:
            import ray  # Ray: deferred

            if ray.is_initialized():
                ray.shutdown()
    return {"num_candidates": num_candidates, "cores": cores, "runs": runs, "ray_init_s": ray_init_s}


def warm_clip_cache(*, space: Mapping[str, Any], task: Mapping[str, Any], seed: int, count: int) -> None:
    """Decode the clips the scale candidates need once, so no executor pays the first decode in its timing."""
    from videonas import data  # PyAV/OpenCV: deferred

    train_task = TrainTask.from_dict(task)
    dataset = train_task.open_dataset()
    for genome in make_strategy("random", space_from_config(dict(space)), seed=seed, batch_size=count).ask():
        clip_spec = train_task.clip_spec(inputs=("rgb",), genome=genome)
        for split in ("train", "val"):
            data.load_clips(dataset, split, clip_spec)


def run(*, quick: bool = False) -> dict[str, Any]:
    """Both benchmarks; ``quick``: one seed, 4 trials, 2 candidates, subprocess only (figures not meaningful)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="videonas-bench-search-") as folder:
        if quick:
            eff = efficiency(seeds=(0,), num_trials=4, batch_size=2, population_size=2, budget={"epochs": 1},
                             store_dir=folder)
            scl = scale(executors=("subprocess",), num_candidates=2, budget={"epochs": 1}, store_dir=folder)
        else:
            eff = efficiency(store_dir=folder)
            scl = scale(store_dir=folder)
    payload = _summary(eff, scl, quick=quick)
    payload["extra"].update(efficiency=eff, scale=scl, load_average=os.getloadavg(),
                            wall_seconds=time.perf_counter() - started)
    return payload


def _summary(eff: dict[str, Any], scl: dict[str, Any], *, quick: bool) -> dict[str, Any]:
    n, seeds = eff["num_trials"], len(eff["seeds"])
    needed = eff["median_evolution_needed"] if eff["median_evolution_needed"] is not None else math.inf
    own = eff["median_random_needed"] if eff["median_random_needed"] is not None else math.inf
    where = f"{eff['executor']}, {eff['max_workers']} workers"
    in_search = _median([s["overhead"]["median_share_outside_fit"] for s in eff["per_seed"]])
    in_search_steady = _median([s["overhead"]["median_share_outside_steady_fit"] for s in eff["per_seed"]])
    headline: list[dict[str, Any]] = [
        {"label": f"evaluations evolution needs to reach random search's best of {n} (median of {seeds} seeds)",
         "value": needed if math.isfinite(needed) else f"not reached in {n}",
         "paper": "evolution finds good networks more efficiently than random search (TVN)"},
        {"label": f"evaluations random search needed to find its own best (median of {seeds} seeds)",
         "value": own if math.isfinite(own) else f"not reached in {n}", "paper": ""},
        {"label": f"best top-1 after {n} trials: random / evolution (median)",
         "value": f"{_fmt(eff['median_random_best'])} / {_fmt(eff['median_evolution_best'])}", "paper": ""},
        {"label": f"framework overhead per candidate in these searches ({where}): share of wall time outside "
                  f"model.fit (median)", "value": _round(in_search), "paper": ""},
        {"label": "... counting model.fit's first step (graph tracing) as overhead too (median)",
         "value": _round(in_search_steady), "paper": ""},
    ]
    by_run = {(r["executor"], r["workers"]): r for r in scl["runs"]}
    for (kind, count), record in sorted(by_run.items()):
        headline.append({"label": f"throughput, {kind}, {count} worker(s) x {record['threads_per_worker']} threads "
                                  f"(candidates/min)", "value": round(record["candidates_per_min"], 2), "paper": ""})
    speedups = {}
    for kind in sorted({k for k, _ in by_run}):
        if (kind, 1) in by_run and (kind, 2) in by_run:
            speedups[kind] = by_run[(kind, 2)]["candidates_per_min"] / by_run[(kind, 1)]["candidates_per_min"]
            headline.append({"label": f"speed-up 2 vs 1 workers, {kind}", "value": round(speedups[kind], 2),
                             "paper": "the population trains in parallel"})
    if scl.get("ray_init_s") is not None:
        headline.append({"label": "local Ray start-up, paid once per driver (s)", "value": round(scl["ray_init_s"], 1),
                         "paper": ""})
    verdict = ("evolution reached random search's best in fewer evaluations than random search itself needed"
               if needed < own else "evolution did not reach random search's best sooner than random search did"
               if math.isfinite(needed) else "evolution did not reach random search's best within the budget")
    conclusion = (
        f"Over {seeds} seed(s) x {n} candidates each, {verdict} (median {_fmt(needed)} vs {_fmt(own)}); "
        f"best top-1 random {_fmt(eff['median_random_best'])}, evolution {_fmt(eff['median_evolution_best'])}. "
        f"At smoke size ({_epochs(eff)} on 208 training clips, scored on 78 validation clips of 13 classes) "
        f"fitness differences of a few points are noise, so this is a weak test of the paper's claim. Time outside "
        f"model.fit is {_fmt(in_search)} of a candidate's wall time ({where}; {_fmt(in_search_steady)} when fit's "
        f"first step, mostly graph tracing, "
        f"counts as overhead too): at smoke size a fresh Python + Keras per candidate, tracing, clip loading and "
        f"evaluation cost as much as training. "
        + "; ".join(f"{kind}: 2 workers give {s:.2f}x the throughput of 1" for kind, s in speedups.items())
        + f" on {scl['cores']} shared cores.")
    if quick:
        conclusion = "Quick run (tiny, for tests). " + conclusion
    return {"title": "Search: evolution vs random search, overhead, scale-out", "headline": headline,
            "conclusion": conclusion, "extra": {}}


def _epochs(eff: dict[str, Any]) -> str:
    epochs = (eff.get("evaluate_options") or {}).get("budget", {}).get("epochs")
    return f"{epochs} epoch(s)" if epochs is not None else "a custom budget"


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _median_needed(values: Sequence[int | None]) -> float | None:
    """Median where ``None`` (never reached) counts as infinitely many; ``None`` if that median is infinite."""
    middle = statistics.median([math.inf if v is None else v for v in values]) if values else math.inf
    return None if math.isinf(middle) else middle


def _round(value: float | None) -> float | str:
    return "n/a" if value is None else round(value, 3)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not math.isfinite(value):
        return "never"
    return f"{value:.3g}"
