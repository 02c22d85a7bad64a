"""EvaNet's ensemble experiment: per seed, that seed's search, its top diverse members and their averaged logits on
the held-out test split against the best member (chosen on validation), and against R(2+1)D-18 trained with the
members' recipe and epochs at the members' width and at the ensemble's FLOPs; the verdicts paired over seeds, so that
``notebooks/evanet_ensembles.ipynb`` only sets parameters, calls and draws.

The noise floor is the matched-width R(2+1)D retrained over the seeds: the spread of its test scores.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import ensemble
from videonas.experiments import answers, claims, retrain, stats
from videonas.experiments.arms import Arm, ArmRuns, run_arms

BASELINE = "r2plus1d-18"


@dataclasses.dataclass
class SeedEnsemble:
    """One seed's members (test logits, best on validation first), their ensemble's scores and total FLOPs."""

    seed: int
    members: list
    scores: dict[str, Any]
    flops: int | None


def reuse_runs(store: str | Path | None, *, label: str, seeds: Sequence[int]) -> ArmRuns | None:
    """The searches of arm ``label`` for every seed in the trial store that evanet_search wrote, or ``None`` when the
    store or one of the searches is missing."""
    from videonas import search

    if store is None or not Path(store).is_file():
        return None
    try:
        return ArmRuns({(label, seed): search.Experiment(f"{label}-seed{seed}", store) for seed in seeds})
    except ValueError:
        return None


def score_members(seed: int, members: Sequence[Any], labels: Any, *, multi_label: bool = False) -> SeedEnsemble:
    """The ensemble of ``members`` (best on validation first) on the labels; its ``gain`` is over that first member,
    the one a user would otherwise pick."""
    scores = ensemble.evaluate_ensemble([m.logits for m in members], labels, multi_label=multi_label)
    scores["selected_single"] = scores["single"][0]
    scores["gain_over_selected"] = scores["ensemble"] - scores["single"][0]
    return SeedEnsemble(seed, list(members), scores, ensemble.ensemble_cost(members)["flops"])


def seed_ensembles(runs: ArmRuns, *, label: str, size: int, min_distance: int,
                   retrain_dir: str | Path | None = None) -> dict[int, SeedEnsemble]:
    """Per seed: the top-``size`` diverse trials of that seed's search (on validation) and their test-split ensemble.
    Members are loaded from the weights the search saved, or retrained where those are gone."""
    result = {}
    for seed in runs.seeds:
        experiment = runs.experiments[label, seed]
        trials = ensemble.select_diverse_trials(experiment, size, min_distance=min_distance)
        members, labels = ensemble.trial_members(experiment, trials, retrain_dir=retrain_dir, split="test")
        task, _ = ensemble.trial_task(experiment)
        result[seed] = score_members(seed, members, labels, multi_label=task.multi_label)
    return result


@dataclasses.dataclass
class EnsembleExperiment:
    """The searches, each seed's ensemble, the two R(2+1)D baselines (keys "width" and "flops": matched width, matched
    FLOPs) with their FLOPs and per-seed runs, and the verdicts."""

    runs: ArmRuns
    ensembles: dict[int, SeedEnsemble]
    baselines: dict[str, retrain.Baseline]
    baseline_flops: dict[str, int]
    baseline_runs: dict[str, dict[int, Any]]
    verdicts: list


def run(*, runs: ArmRuns | None, arm: Arm, space: Any, store: Any, seeds: Sequence[int], num_trials: int,
        batch_size: int, evaluate_options: Mapping[str, Any], size: int, min_distance: int,
        executor: str = "subprocess", executor_options: Mapping[str, Any] | None = None,
        retrain_dir: str | Path | None = None, progress: bool = True) -> EnsembleExperiment:
    """Run the search arm over ``seeds`` unless ``runs`` are given (reused), ensemble each seed's members, train the
    two matched R(2+1)D baselines once per seed with the members' task and budget, and judge the questions."""
    from videonas import search

    runner = search.make_executor(executor, **dict(executor_options or {}))
    try:
        if runs is None:
            runs = run_arms(arms=[arm], seeds=seeds, search={"space": space, "num_trials": num_trials,
                                                             "batch_size": batch_size, **evaluate_options},
                            store=store, executor=runner, progress=progress)
        ensembles = seed_ensembles(runs, label=arm.label, size=size, min_distance=min_distance,
                                   retrain_dir=retrain_dir)
        task, budget = ensemble.trial_task(runs.experiments[arm.label, runs.seeds[0]])
        baselines, flops = matched_baselines(task, target_flops=float(numpy.median([e.flops for e in
                                                                                   ensembles.values()])))
        task_options = {**dataclasses.asdict(task), "classes": None if task.classes is None else list(task.classes)}
        baseline_runs = {key: retrain.train_baselines(model, seeds=runs.seeds, executor=runner, task=task_options,
                                                      budget=dataclasses.asdict(budget))
                         for key, model in baselines.items()}
    finally:
        runner.close()
    result = EnsembleExperiment(runs, ensembles, baselines, flops, baseline_runs, [])
    result.verdicts = verdicts(
        ensembles={seed: e.scores["ensemble"] for seed, e in ensembles.items()},
        best_members={seed: e.scores["selected_single"] for seed, e in ensembles.items()},
        ensemble_flops={seed: e.flops for seed, e in ensembles.items()},
        width_scores=retrain.held_out_scores(baseline_runs["width"]), width_flops=flops["width"],
        flops_scores=retrain.held_out_scores(baseline_runs["flops"]))
    return result


def matched_baselines(task: Any, *, target_flops: float) -> tuple[dict[str, retrain.Baseline], dict[str, int]]:
    """R(2+1)D-18 at the members' width and at the width whose FLOPs match ``target_flops``, with their FLOPs."""
    import keras

    from videonas import measure

    num_classes = len(task.open_dataset().class_names)

    def build(width: float):
        return retrain.Baseline(BASELINE, width).build(num_classes=num_classes, num_frames=task.num_frames,
                                                      image_size=task.image_size, multi_label=task.multi_label)

    keras.backend.clear_session()
    width_flops = measure.count_flops(build(task.width_multiplier))
    matched, matched_flops = retrain.match_width(build, target_flops=target_flops)
    return ({"width": retrain.Baseline(BASELINE, task.width_multiplier), "flops": retrain.Baseline(BASELINE, matched)},
            {"width": width_flops, "flops": matched_flops})


def verdicts(*, ensembles: Mapping[int, float | None], best_members: Mapping[int, float | None],
             ensemble_flops: Mapping[int, int | None], width_scores: Mapping[int, float | None], width_flops: int,
             flops_scores: Mapping[int, float | None]) -> list:
    """The four questions, paired by seed, in points (test top-1 x 100) and FLOP ratios; the noise floor is the
    matched-width R(2+1)D's spread over seeds."""
    def points(values: Mapping[int, float | None]) -> dict[int, float | None]:
        return {seed: None if v is None else 100 * v for seed, v in values.items()}

    floor = stats.spread(list(points(width_scores).values()))
    return [claims.ask("evanet_ensemble_vs_single", a=points(ensembles), b=points(best_members), noise_floor=floor),
            claims.ask("evanet_ensemble_cost", a={seed: width_flops for seed in ensemble_flops},
                       b=dict(ensemble_flops)),
            claims.ask("evanet_ensemble_vs_r2plus1d_width", a=points(ensembles), b=points(width_scores),
                       noise_floor=floor),
            claims.ask("evanet_ensemble_vs_r2plus1d_flops", a=points(ensembles), b=points(flops_scores),
                       noise_floor=floor)]


def points(result: EnsembleExperiment) -> list[dict[str, Any]]:
    """Accuracy-vs-MFLOPs points (``videonas.plots.curves.plot_runtime_accuracy``): every member and ensemble per
    seed, and each baseline per seed, all on test."""
    rows = []
    for e in result.ensembles.values():
        rows += [{"label": "", "runtime_ms": m.flops / 1e6, "accuracy": m.fitness, "group": "members (per seed)"}
                 for m in e.members]
        rows.append({"label": "", "runtime_ms": e.flops / 1e6, "accuracy": e.scores["ensemble"],
                     "group": f"ensemble of {len(e.members)} (per seed)"})
    for key, runs in result.baseline_runs.items():
        name = f"R(2+1)D-18 x{result.baselines[key].width_multiplier:.3g} ({'same width' if key == 'width' else 'same FLOPs'})"
        rows += [{"label": "", "runtime_ms": result.baseline_flops[key] / 1e6, "accuracy": score, "group": name}
                 for score in retrain.held_out_scores(runs).values() if score is not None]
    return rows


def headline(result: EnsembleExperiment) -> list[dict[str, Any]]:
    """The verdicts, then test top-1 over seeds of the ensembles, their best members and both baselines."""
    scores = {"ensemble": {s: e.scores["ensemble"] for s, e in result.ensembles.items()},
              "best member (chosen on validation)": {s: e.scores["selected_single"]
                                                     for s, e in result.ensembles.items()}}
    for key, model in result.baselines.items():
        scores[f"{model.label} ({result.baseline_flops[key] / 1e6:.1f} MFLOPs)"] = retrain.held_out_scores(
            result.baseline_runs[key])
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric="top-1")]


def notes(result: EnsembleExperiment) -> list[str]:
    """What the verdicts do not say: the members, the costs and the baselines' widths."""
    sizes = sorted({len(e.members) for e in result.ensembles.values()})
    flops = answers.median_score({s: e.flops for s, e in result.ensembles.items()})
    off = result.baseline_flops["flops"] / flops - 1
    matched = "" if abs(off) <= 0.1 else f", {off:+.0%} off: the closest its widths allow"
    experiment = result.runs.experiments[next(iter(result.runs.experiments))] if result.runs else None
    chance = "" if experiment is None else answers.chance_text(
        experiment, {s: e.scores["ensemble"] for s, e in result.ensembles.items()})
    return [*([chance] if chance else []),
            f"Each seed's ensemble averages the logits of its search's top {'/'.join(map(str, sizes))} diverse "
            f"RGB nets (median {flops / 1e6:.1f} MFLOPs in all); the paper's four-model ensemble also uses optical "
            "flow, ours does not.",
            f"R(2+1)D-18 at the members' width is {result.baselines['width'].label} "
            f"({result.baseline_flops['width'] / 1e6:.1f} MFLOPs); at the ensemble's FLOPs it is "
            f"{result.baselines['flops'].label} ({result.baseline_flops['flops'] / 1e6:.1f} MFLOPs{matched}); "
            "both trained "
            "with the members' recipe and epochs, once per seed."]


def published_costs(task: Mapping[str, Any]) -> list[str]:
    """Parameters and FLOPs (batch 1) of the paper's EvaNet-A and -B on RGB and flow and of R(2+1)D-18, all at the
    task's width multiplier and input: the figures repeat exactly (nbval checks them)."""
    import keras

    from videonas import measure, models, train
    from videonas.genome import published

    typed = train.TrainTask.from_dict(task)
    num_classes, num_frames, image_size = (len(typed.open_dataset().class_names), typed.num_frames,
                                           typed.image_size)
    width_multiplier = typed.width_multiplier

    lines = []
    for name in ("EvaNet-A", "EvaNet-B"):
        for modality in ("rgb", "flow"):
            keras.backend.clear_session()
            model = models.build_model(published.load(name), num_classes=num_classes, num_frames=num_frames,
                                       image_size=image_size, width_multiplier=width_multiplier, modality=modality)
            lines.append((f"{name} {modality}", measure.count_params(model), measure.count_flops(model)))
    keras.backend.clear_session()
    model = retrain.Baseline(BASELINE, width_multiplier).build(num_classes=num_classes, num_frames=num_frames,
                                                               image_size=image_size)
    lines.append((BASELINE, measure.count_params(model), measure.count_flops(model)))
    return [f"{name:14s} x{width_multiplier:g}: {params:>9,} params {flops / 1e6:9.2f} MFLOPs"
            for name, params, flops in lines]
