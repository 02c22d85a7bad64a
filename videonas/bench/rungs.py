"""Rank fidelity: can the top rung tell candidates apart, and do the lower rungs rank them as the top rung does?

A multi-fidelity search is only as good as two rankings: the top rung's (candidates trained with another seed must
come out in about the same order, or no strategy can climb the landscape), and each lower rung's against the top
rung's (or successive halving stops the wrong candidates). This section measures both on the default ``tvn_search``
space and task:

- ``num_genomes`` random genomes (one ``sample_seed``, so every replicate trains the same genomes; proposals over P
  are rejected before building and cost nothing) are trained for the top rung's epochs under ``replicates`` training
  seeds, scoring validation after each lower rung's epochs on the way (``budget.score_epochs``: the fitness a
  shorter training would have given, without a second training);
- Kendall tau between the two replicates at the top rung is the noise ceiling; tau between each rung and the top rung
  (replicate 0) is the rung's fidelity, with 95% bootstrap intervals over genomes;
- every genome is also scored on the test split at the top rung, so that the table can replay searches (best found
  test accuracy of a strategy with and without rungs, at equal training epochs) without training again;
- a hand-picked 8-frame TVN (``tvn_common.FRAMES_TVN`` at 8 frames, 1 s of video) trained at the top rung's budget on
  all 13 classes shows whether the budget lets a network learn the motion classes (test top-1 against chance).

The searches live in ``reports/bench/rungs/search.sqlite`` and resume: an interrupted run, committed, continues on
any machine. Validation uses all 520 clips of the default split (``max_val_clips``) to halve the binomial noise of
the 260 the searches use.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import report
from videonas.bench import replay
from videonas.experiments import tvn_common

SPACE: dict[str, Any] = {"family": "tvn", "options": {
    "image_sizes": [32, 48], "frame_counts": [1, 2, 4, 8], "frame_strides": [2], "max_blocks": 4,
    "filters": [16, 32, 48, 64], "max_repeats": 2, "allow_non_local": True}}
# All 1950 training clips: on a 520-clip subset (the default searches' until now) even a hand-picked 8-frame TVN
# stays at chance on the motion classes after 9 epochs (297 steps; motion test top-1 0.15, chance 0.14), while on
# all clips 6 epochs (732 steps) take it to 0.55 (2026-12-06, seed 0): a top rung below that ranks scene learning only.
TASK: dict[str, Any] = {"dataset": "embedded:default", "data_seed": 0, "batch_size": 16, "learning_rate": 0.003,
                        "max_val_clips": 520, "threads": 1}
RUNG_EPOCHS = (1, 2, 6)
SAMPLE_SEED = 2026
KEEP, ROUND_SIZE = 1 / 3, 9  # successive halving as the default searches run it: 9 candidates, 3, then 1


def run(*, quick: bool = False, reports_dir: str | Path | None = None, num_genomes: int = 50,
        rung_epochs: Sequence[int] = RUNG_EPOCHS, replicates: int = 2, workers: int | None = None) -> dict[str, Any]:
    """The section's payload; ``quick`` trains 4 genomes for (1, 2) epochs on 64 clips (a smoke test of the code)."""
    folder = Path(reports_dir or report.project_root() / "reports") / "bench" / "rungs"
    task = dict(TASK)
    if quick:
        num_genomes, rung_epochs, task = 4, (1, 2), {**task, "max_train_clips": 64, "max_val_clips": 64}
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    runs = [_replicate(seed, folder=folder, num_genomes=num_genomes, rung_epochs=rung_epochs, task=task,
                       workers=workers) for seed in range(replicates)]
    table = fitness_table(runs, rung_epochs=rung_epochs)
    fidelity = rank_fidelity(table, rung_epochs=rung_epochs)
    motion = motion_check(task={**task, "max_val_clips": None}, epochs=rung_epochs[-1],
                          seeds=range(replicates))
    cost = replay.costs(table, rung_epochs=rung_epochs, keep=KEEP, round_size=ROUND_SIZE)
    replays = [replay.replay(table, rung_epochs=rung_epochs, keep=KEEP, round_size=ROUND_SIZE,
                             budget_epochs=rounds * ROUND_SIZE * rung_epochs[-1]) for rounds in (1, 2)]
    return {"title": "Rungs: rank fidelity, cost, and what rungs find at equal training epochs",
            "headline": headline(fidelity, motion) + cost_rows(cost, replays),
            "conclusion": conclusion(fidelity, motion, rung_epochs=rung_epochs) + cost_text(cost, replays),
            "extra": {"rung_epochs": list(rung_epochs), "task": task, "space": SPACE, "sample_seed": SAMPLE_SEED,
                      "fitness": {str(key): value for key, value in table.items()}, "tau": fidelity,
                      "motion": motion, "costs": cost, "replays": replays, "store": str(folder / "search.sqlite")}}


def _replicate(seed: int, *, folder: Path, num_genomes: int, rung_epochs: Sequence[int], task: Mapping[str, Any],
               workers: int):
    from videonas.search import run_search  # the search loop pulls in the store and executors

    folder.mkdir(parents=True, exist_ok=True)
    return run_search(
        space=SPACE, strategy={"name": "random", "options": {"sample_seed": SAMPLE_SEED}}, seed=seed,
        name=f"replicate-{seed}", store=str(folder / "search.sqlite"), num_trials=20 * num_genomes, batch_size=10,
        max_epochs=num_genomes * rung_epochs[-1], task=dict(task),
        budget={"epochs": rung_epochs[-1], "score_epochs": list(rung_epochs[:-1])},
        constraints={"max_params": 200_000}, executor={"kind": "subprocess", "options": {"max_workers": workers}})


def fitness_table(runs: Sequence[Any], *, rung_epochs: Sequence[int]) -> dict[str, dict[str, dict[str, Any]]]:
    """``{genome key: {"r<replicate>": {"val": [fitness after each rung's epochs], "test": top-rung test top-1,
    "motion": its motion-class top-1, "timings": {...}, "wall_s": seconds on its worker}}}`` for the genomes every
    replicate trained to the top rung."""
    by_replicate = []
    for experiment in runs:
        rows = {}
        for trial in experiment.trials():
            metrics = trial.metrics or {}
            curve = metrics.get("val_by_epoch") or {}
            if trial.status == "done" and all(str(epochs) in curve for epochs in rung_epochs):
                test = metrics.get("test") or {}
                rows[trial.genome_key] = {
                    "val": [float(curve[str(epochs)]) for epochs in rung_epochs], "test": test.get("accuracy"),
                    "motion": (test.get("accuracy_by_kind") or {}).get("motion"), "timings": metrics.get("timings", {}),
                    "wall_s": None if trial.started is None else trial.finished - trial.started}
        by_replicate.append(rows)
    shared = [key for key in by_replicate[0] if all(key in rows for rows in by_replicate)]
    return {key: {f"r{index}": rows[key] for index, rows in enumerate(by_replicate)} for key in shared}


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    """Kendall's tau-b (ties counted as SciPy does)."""
    from scipy import stats  # SciPy only for this measurement

    return float(stats.kendalltau(first, second).statistic)


def tau_interval(first: Sequence[float], second: Sequence[float], *, resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of tau over genomes (resampled in pairs)."""
    first, second = numpy.asarray(first), numpy.asarray(second)
    rng = numpy.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        picks = rng.integers(len(first), size=len(first))
        if len(set(first[picks])) > 1 and len(set(second[picks])) > 1:
            values.append(kendall_tau(first[picks], second[picks]))
    low, high = numpy.percentile(values, [2.5, 97.5]) if values else (float("nan"), float("nan"))
    return float(low), float(high)


def rank_fidelity(table: Mapping[str, Mapping[str, Sequence[float]]], *,
                  rung_epochs: Sequence[int]) -> dict[str, Any]:
    """tau of each rung against the top rung (replicate 0), and of the top rung against replicate 1 (the ceiling)."""
    keys = list(table)
    result: dict[str, Any] = {"num_genomes": len(keys)}
    if len(keys) < 3:
        return result
    top = [table[key]["r0"]["val"][-1] for key in keys]
    for index, epochs in enumerate(rung_epochs[:-1]):
        rung = [table[key]["r0"]["val"][index] for key in keys]
        result[f"rung {epochs} vs top"] = {"tau": kendall_tau(rung, top), "interval": tau_interval(rung, top)}
    if all("r1" in table[key] for key in keys):
        for index, epochs in enumerate(rung_epochs[:-1]):  # the ceiling of a shorter budget, to choose the top rung
            once, twice = ([table[key][name]["val"][index] for key in keys] for name in ("r0", "r1"))
            result[f"rung {epochs} vs itself, other seed"] = {"tau": kendall_tau(once, twice),
                                                             "interval": tau_interval(once, twice)}
        again = [table[key]["r1"]["val"][-1] for key in keys]
        result["top vs top, other seed"] = {"tau": kendall_tau(top, again), "interval": tau_interval(top, again),
                                            "mean_abs_change": float(numpy.mean(numpy.abs(numpy.subtract(top, again)))),
                                            "spread": float(numpy.percentile(top, 90) - numpy.percentile(top, 10))}
    return result


def motion_check(*, task: Mapping[str, Any], epochs: int, seeds: Sequence[int]) -> dict[str, Any]:
    """Test top-1 on motion and scene classes of the hand-picked 8-frame TVN after ``epochs``, per seed."""
    from videonas import train  # Keras and the data layer
    from videonas.task import Budget, TrainTask, TrialOptions

    genome = dataclasses.replace(tvn_common.FRAMES_TVN, num_frames=8, frame_stride=2)
    options = TrialOptions(task=TrainTask.from_dict(task), budget=Budget(epochs=epochs))
    per_seed = {}
    for seed in seeds:
        result = train.evaluate_trial(genome, seed=int(seed), options=options)
        test = (result.metrics or {}).get("test") or {}
        per_seed[str(seed)] = {"status": result.status, "test": test.get("accuracy"),
                               "by_kind": test.get("accuracy_by_kind") or {}, "steps": (result.metrics or {}).get("steps")}
    motion = [row["by_kind"].get("motion") for row in per_seed.values() if row["by_kind"].get("motion") is not None]
    return {"genome": genome.to_json(), "epochs": epochs, "per_seed": per_seed,
            "motion_mean": float(numpy.mean(motion)) if motion else None, "motion_chance": 1 / 7}


def headline(fidelity: Mapping[str, Any], motion: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = [{"label": "genomes trained at every rung under both seeds", "value": fidelity.get("num_genomes"),
             "paper": ""}]
    for label, entry in fidelity.items():
        if isinstance(entry, Mapping):
            low, high = entry["interval"]
            rows.append({"label": f"Kendall tau, {label}", "value": f"{entry['tau']:.2f} ({low:.2f} to {high:.2f})",
                         "paper": "aim >= 0.6" if "other seed" in label else ""})
    if motion.get("motion_mean") is not None:
        rows.append({"label": f"hand-picked 8-frame TVN, motion test top-1 after {motion['epochs']} epochs "
                              f"(mean of {len(motion['per_seed'])} seeds; chance {motion['motion_chance']:.2f})",
                     "value": round(motion["motion_mean"], 3), "paper": ""})
    return rows


def conclusion(fidelity: Mapping[str, Any], motion: Mapping[str, Any], *, rung_epochs: Sequence[int]) -> str:
    ceiling = fidelity.get("top vs top, other seed")
    if not ceiling:
        return f"Too few genomes trained to rank ({fidelity.get('num_genomes', 0)})."
    met = "met" if ceiling["tau"] >= 0.6 else "missed"
    lowest = fidelity.get(f"rung {rung_epochs[0]} vs top")
    share = "" if not lowest else (f" The lowest rung ({rung_epochs[0]} epoch(s)) ranks with tau {lowest['tau']:.2f}, "
                                   f"{lowest['tau'] / ceiling['tau']:.2f} of the ceiling (aim 0.7)."
                                   if ceiling["tau"] > 0 else "")
    learnt = ("" if motion.get("motion_mean") is None else
              f" The hand-picked 8-frame TVN reaches {motion['motion_mean']:.2f} motion test top-1 (chance "
              f"{motion['motion_chance']:.2f}) after {motion['epochs']} epochs.")
    return (f"Top rung ({rung_epochs[-1]} epochs) against itself under another training seed: tau "
            f"{ceiling['tau']:.2f} over {fidelity['num_genomes']} genomes (aim 0.6: {met}); the same genome moves "
            f"{100 * ceiling['mean_abs_change']:.1f} points on average while the middle 80% of genomes spread over "
            f"{100 * ceiling['spread']:.1f}.{share}{learnt}")


def cost_rows(cost: Mapping[str, Any], replays: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Headline rows of the cost model and the replayed searches."""
    if not cost:
        return []
    rows = [{"label": "CPU per evaluated candidate: top rung for all / with rungs (9 -> 3 -> 1 per round)",
             "value": f"{cost['cpu_s_per_candidate_top_rung']:.1f} s / {cost['cpu_s_per_candidate_with_rungs']:.1f} s"
                      f" = {cost['cpu_ratio']:.2f}x", "paper": "aim >= 3x"},
            {"label": "share of a top-rung candidate's time outside steady training (median)",
             "value": f"{cost['share_outside_steady_training']:.0%}", "paper": "aim <= 10%"}]
    for entry in replays:
        if entry:
            low, high = entry["mean_interval"]
            rows.append({"label": f"replayed random search, {entry['budget_epochs']} training epochs: best found test "
                                  f"top-1 with rungs - without ({entry['candidates_with_rungs']:.0f} vs "
                                  f"{entry['candidates_without']:.0f} candidates, {entry['simulations']} replays)",
                         "value": f"{100 * entry['difference']:+.1f} points ({100 * low:+.1f} to {100 * high:+.1f})",
                         "paper": ""})
    return rows


def cost_text(cost: Mapping[str, Any], replays: Sequence[Mapping[str, Any]]) -> str:
    if not cost:
        return ""
    text = (f" Per evaluation {cost['overhead_s']:.1f} s go to building, constraints, the first step (tracing) and "
            f"scoring, and each epoch trains for {cost['epoch_s']:.1f} s, so a candidate stopped by successive halving "
            f"costs {cost['cpu_s_per_candidate_with_rungs']:.1f} s against {cost['cpu_s_per_candidate_top_rung']:.1f} "
            f"s at the top rung ({cost['cpu_ratio']:.2f}x; aim 3x: {'met' if cost['cpu_ratio'] >= 3 else 'missed'}, "
            f"as every rung pays the per-evaluation overhead again), and "
            f"{cost['share_outside_steady_training']:.0%} of a top-rung candidate's time is outside steady training "
            f"(aim 10%: {'met' if cost['share_outside_steady_training'] <= 0.1 else 'missed'}).")
    for entry in replays:
        if entry:
            low, high = entry["mean_interval"]
            text += (f" Replayed on the table at {entry['budget_epochs']} epochs, rungs change the best found test top-1 "
                     f"by {100 * entry['difference']:+.1f} points (95% interval of the mean {100 * low:+.1f} to "
                     f"{100 * high:+.1f}).")
    return text
