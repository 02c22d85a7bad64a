"""EvaNet's ensemble experiment (``notebooks/evanet_ensembles.ipynb``): per seed, that seed's search, its top diverse
members and their averaged logits on the held-out test split against the best member (chosen on validation), and
against R(2+1)D-18 trained with the members' recipe and epochs at the members' width and at the ensemble's FLOPs; the
verdicts paired over seeds.

The searches are ``evanet_search``'s when the config says to reuse them (its store is this experiment's declared
input: the folder beside this one's), else the same evolution arm run here. The noise floor is the matched-width
R(2+1)D retrained over the seeds: the spread of its test scores.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import ensemble, search
from videonas.experiments import (answers, fields, claims, evanet_search, experiment, prose, retrain, stats,
                                  summaries)
from videonas.experiments.arms import Arm, ArmRuns, run_arms
from videonas.genome import published

NAME = "evanet_ensembles"
STORE = "search.sqlite"  # the searches run here when evanet_search's are not reused
BASELINE = "r2plus1d-18"
TITLE = "EvaNet: ensembles of diverse evolved networks"
QUESTION = ("Does an ensemble of diverse evolved nets beat its best member, and a (2+1)D ResNet of the same width or "
            "the same FLOPs?")
DETERMINISTIC = ("Deterministic: parameter counts and FLOPs (checked above). Not exactly repeatable: the searches' "
                 "later rounds and every accuracy (CPU training), hence which nets are chosen and the gains.")


@dataclasses.dataclass
class SeedEnsemble:
    """One seed's members (test logits, best on validation first), their ensemble's scores and total FLOPs."""

    seed: int
    members: list
    scores: dict[str, Any]
    flops: int | None


@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields of the searches run here (an EvaNet space; its task is also the one
    ``published_costs`` measures at); ``arms``: the ``evolution`` arm, as in ``evanet_search``; one search and one
    ensemble per seed; ``ensemble_size`` members at least ``min_distance`` module components apart; with
    ``reuse_search``, the searches are ``evanet_search``'s (run it first) instead of run here."""

    search: Mapping[str, Any]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    ensemble_size: int
    min_distance: int
    reuse_search: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        parsed = experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: fields.parse_search(value, where, family="evanet"),
            "arms": lambda value, where: fields.parse_arms(value, where, labels=(evanet_search.EVOLUTION,)),
            "seeds": fields.parse_seeds, "ensemble_size": fields.parse_count,
            "min_distance": fields.parse_count, "reuse_search": fields.parse_flag})
        return dataclasses.replace(parsed, arms=evanet_search.with_schedule(parsed.arms,
                                                                            num_trials=parsed.search["num_trials"]))


def reused_searches(folder: str | os.PathLike, config: Config) -> ArmRuns:
    """The evolution searches that ``evanet_search`` wrote beside ``folder``, one per seed of ``config``; a
    ``ValueError`` says what to run first when its store or one of the searches is missing."""
    store = experiment.input_path(folder, evanet_search.NAME, evanet_search.STORE)
    label = config.arms[0].label
    try:
        return ArmRuns({(label, seed): search.Experiment(f"{label}-seed{seed}", store) for seed in config.seeds})
    except ValueError as error:
        raise ValueError(f"config.reuse_search: {error}; run evanet_search with seeds {list(config.seeds)} first, or "
                         f"set reuse_search to false to search here") from None


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


def run(config: Config, *, output_dir: str | os.PathLike | None = None, progress: bool = True) -> experiment.Result:
    """The searches (reused or run here), each seed's ensemble, the two matched R(2+1)D baselines trained once per seed
    with the members' task and budget, the verdicts, the figure and ``results.json``."""
    # A search run here starts afresh (a store of an earlier run is removed, as the other experiments do unless
    # they resume); a reused one is evanet_search's, beside this folder.
    folder = summaries.output_folder(NAME, output_dir=output_dir, store=None if config.reuse_search else STORE)
    runs = reused_searches(folder, config) if config.reuse_search else None
    return report(run_ensembles(config, runs=runs, folder=folder, progress=progress), folder=folder)


def run_ensembles(config: Config, *, runs: ArmRuns | None, folder: Path, progress: bool = True
                  ) -> EnsembleExperiment:
    """Run the search arm over the seeds into ``folder`` unless ``runs`` are given, ensemble each seed's members
    (retrained into ``folder`` where their weights are gone), train the baselines and judge, on one executor this
    owns."""
    shared = fields.shared_search(config.search)
    arm = config.arms[0]
    runner = shared.executor.build()
    try:
        if runs is None:
            runs = run_arms(arms=[arm], seeds=config.seeds, search={**config.search,
                                                                   "save_weights": str(folder / "weights")},
                            store=folder / STORE, executor=runner, progress=progress)
        ensembles = seed_ensembles(runs, label=arm.label, size=config.ensemble_size,
                                   min_distance=config.min_distance, retrain_dir=folder / "retrained")
        task, budget = ensemble.trial_task(runs.experiments[arm.label, runs.seeds[0]])
        baselines, flops = matched_baselines(task, target_flops=float(numpy.median([e.flops for e in
                                                                                   ensembles.values()])))
        baseline_runs = {key: retrain.train_baselines(model, seeds=runs.seeds, executor=runner, task=task.to_dict(),
                                                      budget=budget.to_dict())
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


def report(result: EnsembleExperiment, *, folder: Path) -> experiment.Result:
    """The figure, conclusion and ``results.json`` in ``folder``."""
    from matplotlib import pyplot  # deferred: matplotlib

    from videonas.plots import evanet as evanet_plots  # deferred: matplotlib

    figure = evanet_plots.ensembles_figure(points(result), result.verdicts)
    pyplot.close(figure)  # shown by Result.show, not again by a notebook's inline backend
    return experiment.finish(
        folder, title=TITLE, question=QUESTION, headline=headline(result),
        conclusion=prose.conclusion(result.verdicts, notes=notes(result)), verdicts=result.verdicts,
        figures={"verdicts.png": figure}, deterministic=DETERMINISTIC,
        extra={"ensembles": {seed: {**e.scores, "member_names": [m.name for m in e.members], "flops": e.flops}
                             for seed, e in result.ensembles.items()},
               "baselines": {key: {"model": m.label, "flops": result.baseline_flops[key]}
                             for key, m in result.baselines.items()}},
        dataset=None if result.runs is None else result.runs.dataset(), details=result)


def matched_baselines(task: Any, *, target_flops: float) -> tuple[dict[str, retrain.Baseline], dict[str, int]]:
    """R(2+1)D-18 at the members' width and at the width whose FLOPs match ``target_flops``, with their FLOPs."""
    import keras  # deferred: Keras starts TensorFlow

    from videonas import measure  # deferred: TensorFlow

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


def published_costs(config: Config) -> list[str]:
    """Parameters and FLOPs (batch 1) of the paper's EvaNet-A and -B on RGB and flow and of R(2+1)D-18, all at the
    width multiplier and input of the config's task: the figures repeat exactly (nbval checks them)."""
    import keras  # deferred: Keras starts TensorFlow

    from videonas import measure, models  # deferred: TensorFlow

    typed = fields.shared_search(config.search).task
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
