"""EvaNet's ensemble experiment (``notebooks/evanet_ensembles.ipynb``): does an ensemble of diverse evolved nets beat
its best member, and R(2+1)D-18 at the members' width and at the ensemble's FLOPs?

**Fixed networks over training seeds.** The members are the top diverse nets (on validation) of one search: the
search whose best net is best on validation. They and both baselines are retrained over ``training_seeds`` (at least
10 in the default profile) by the comparison protocol (``videonas.experiments.protocol``): each network's learning
rate chosen once on validation from ``learning_rates``, the same ``budget`` (patience, when it has one) for all, and
``check_steps`` refuses a baseline that could train fewer steps than a member. Per training seed, the ensemble
averages the test logits of the members retrained with that seed; its best member is the one best on validation in
that seed; the R(2+1)D of the same FLOPs is matched to that seed's ensemble within 10% (``comparison.match_reachable``;
both counts are reported per seed; a seed no width can match is left out of that comparison, with the reason). The
verdicts pair these over the training seeds.

Why not one ensemble per search seed: ``evanet_search`` runs 6 searches, and a verdict needs at least 10 paired units;
running 10 searches costs far more than retraining 3 members 10 times, and treating (search, training seed) pairs as
independent units would overstate the evidence. The ensembles of all searches, from their own saved weights, stay as
a description (how the gain varies across searches), with no verdict. So the verdicts say what the ensemble of one
search's diverse nets buys over training noise, not how that varies from search to search.

The searches are ``evanet_search``'s when the config says to reuse them (its store is this experiment's declared
input: the folder beside this one's), else the same evolution arm run here. The noise floor is the matched-width
R(2+1)D's spread over the training seeds.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

from videonas import ensemble, search
from videonas.experiments import (answers, claims, comparison, ensemble_runs, evanet_search, experiment, fields,
                                  prose, protocol, retrain, stats, summaries)
from videonas.experiments.arms import Arm, ArmRuns, run_arms
from videonas.genome import published
from videonas.task import Budget

NAME = "evanet_ensembles"
STORE = "search.sqlite"  # the searches run here when evanet_search's are not reused
BASELINE = "r2plus1d-18"
TITLE = "EvaNet: ensembles of diverse evolved networks"
QUESTION = ("Does an ensemble of diverse evolved nets beat its best member, and a (2+1)D ResNet of the same width or "
            "the same FLOPs?")
DETERMINISTIC = ("Deterministic: parameter counts and FLOPs (checked above). Not exactly repeatable: the searches' "
                 "later rounds and every accuracy (CPU training), hence which nets are chosen and the gains.")


@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields of the searches run here (an EvaNet space; its task is also the one
    ``published_costs`` measures at); ``arms``: the ``evolution`` arm, as in ``evanet_search``; one search per seed
    of ``seeds``; ``ensemble_size`` members at least ``min_distance`` module components apart; with
    ``reuse_search``, the searches are ``evanet_search``'s (run it first) instead of run here.

    The fixed-network comparisons: ``training_seeds`` (``None``: ``seeds``) retrain the members and the baselines;
    ``budget`` (``None``: the members' search budget, its top rung) trains them all; ``learning_rates`` (``None``:
    the task's rate for every network) is the grid each network's rate is chosen from on validation, with the first
    training seed. ``resume`` keeps the finished trainings (and a search store) of an unfinished earlier run."""

    search: Mapping[str, Any]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    ensemble_size: int
    min_distance: int
    reuse_search: bool = False
    training_seeds: tuple[int, ...] | None = None
    budget: Budget | None = None
    learning_rates: tuple[float, ...] | None = None
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        parsed = experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: fields.parse_search(value, where, family="evanet"),
            "arms": lambda value, where: fields.parse_arms(value, where, labels=(evanet_search.EVOLUTION,)),
            "seeds": fields.parse_seeds, "ensemble_size": fields.parse_count,
            "min_distance": fields.parse_count, "reuse_search": fields.parse_flag,
            "training_seeds": lambda value, where: None if value is None else fields.parse_seeds(value, where),
            "budget": fields.parse_budget, "learning_rates": fields.parse_learning_rates, "resume": fields.parse_flag})
        return dataclasses.replace(parsed, arms=evanet_search.with_schedule(parsed.arms,
                                                                            num_trials=parsed.search["num_trials"]))

    @property
    def comparison_seeds(self) -> tuple[int, ...]:
        """The training seeds of the fixed-network comparisons."""
        return self.seeds if self.training_seeds is None else self.training_seeds


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


def seed_ensembles(runs: ArmRuns, *, label: str, size: int, min_distance: int,
                   retrain_dir: str | Path | None = None) -> dict[int, ensemble_runs.SeedEnsemble]:
    """Per search seed (a description, no verdict): the top-``size`` diverse trials of that seed's search (on
    validation) and their test-split ensemble, from the weights the search saved (retrained where those are gone)."""
    result = {}
    for seed in runs.seeds:
        experiment = runs.experiments[label, seed]
        trials = ensemble.select_diverse_trials(experiment, size, min_distance=min_distance)
        members, labels = ensemble.trial_members(experiment, trials, retrain_dir=retrain_dir, split="test")
        task, _ = ensemble.trial_task(experiment)
        result[seed] = ensemble_runs.score_members(seed, members, labels, multi_label=task.multi_label)
    return result


def chosen_members(runs: ArmRuns, *, label: str, size: int, min_distance: int) -> tuple[int, dict[str, Any], int]:
    """``(search seed, {member name: genome}, their total FLOPs)``: the top-``size`` diverse nets of the search whose
    best net is best on validation (names ``"seed S trial I"``, best on validation first)."""
    seed, _, _ = runs.overall_best(label)
    experiment = runs.experiments[label, seed]
    trials = ensemble.select_diverse_trials(experiment, size, min_distance=min_distance)
    if any(not trial.flops for trial in trials):
        raise ValueError(f"search {experiment.name!r}: a member has no FLOPs count; nothing to match the baseline to")
    return (seed, {f"seed {seed} trial {trial.index}": experiment.genome(trial) for trial in trials},
            sum(int(trial.flops) for trial in trials))


@dataclasses.dataclass
class EnsembleExperiment:
    """The searches, the per-search ensembles (a description), the member search's seed, the training seeds'
    ensembles, the fixed runs (members, baselines ``"width"`` and ``"flops"``), the baselines' FLOPs at the members'
    width and the verdicts."""

    runs: ArmRuns | None
    ensembles: dict[int, ensemble_runs.SeedEnsemble]
    member_seed: int
    fixed: dict[int, ensemble_runs.SeedEnsemble | None]
    fixed_runs: ensemble_runs.FixedRuns
    width: retrain.Baseline
    width_flops: int
    verdicts: list


def run(config: Config, *, output_dir: str | os.PathLike | None = None, progress: bool = True) -> experiment.Result:
    """The searches (reused or run here), each search's ensemble, the members and baselines retrained over the
    training seeds, the verdicts, the figure and ``results.json``."""
    # A search run here starts afresh unless ``resume`` (as in the other experiments); a reused one is
    # evanet_search's, beside this folder.
    folder = summaries.output_folder(NAME, output_dir=output_dir, store=None if config.reuse_search else STORE,
                                     resume=config.resume)
    runs = reused_searches(folder, config) if config.reuse_search else None
    return report(run_ensembles(config, runs=runs, folder=folder, progress=progress), folder=folder)


def run_ensembles(config: Config, *, runs: ArmRuns | None, folder: Path, progress: bool = True
                  ) -> EnsembleExperiment:
    """Run the search arm over the seeds into ``folder`` unless ``runs`` are given, ensemble each search's members,
    retrain the chosen members and the matched baselines over the training seeds, and judge, on one executor this
    owns."""
    shared = fields.shared_search(config.search)
    summaries.require_test_split(shared.task.open_dataset(), experiment=NAME)
    arm = config.arms[0]
    runner = shared.executor.build()
    try:
        if runs is None:
            runs = run_arms(arms=[arm], seeds=config.seeds, search={**config.search,
                                                                   "save_weights": str(folder / "weights")},
                            store=folder / STORE, executor=runner, progress=progress)
        ensembles = seed_ensembles(runs, label=arm.label, size=config.ensemble_size,
                                   min_distance=config.min_distance, retrain_dir=folder / "retrained")
        member_seed, members, members_flops = chosen_members(runs, label=arm.label, size=config.ensemble_size,
                                                             min_distance=config.min_distance)
        task, budget = ensemble.trial_task(runs.experiments[arm.label, member_seed])
        options = {"task": task.to_dict(), "budget": (config.budget or budget).to_dict()}
        width_flops, matches, unmatched = matched_baselines(
            task, targets={seed: members_flops for seed in config.comparison_seeds})
        fixed_runs = ensemble_runs.train_fixed(members, baseline=BASELINE, width=task.width_multiplier,
                                               seeds=config.comparison_seeds, matches=matches, unmatched=unmatched,
                                               executor=summaries.stored_trainings(runner, folder), options=options,
                                               learning_rates=config.learning_rates, save_weights=folder / "members")
    finally:
        runner.close()
    dataset = task.open_dataset()
    fixed = ensemble_runs.fixed_ensembles(
        fixed_runs.members, lambda name, trial: ensemble_runs.member_logits(members[name], trial, task=task,
                                                                           dataset=dataset),
        multi_label=task.multi_label)
    result = EnsembleExperiment(runs, ensembles, member_seed, fixed, fixed_runs,
                                retrain.Baseline(BASELINE, task.width_multiplier), width_flops, [])
    result.verdicts = experiment_verdicts(result)
    return result


def matched_baselines(task: Any, *, targets: Mapping[int, float]
                      ) -> tuple[int, dict[int, protocol.FlopsMatch], dict[int, str]]:
    """The FLOPs of R(2+1)D-18 at the members' width, and per training seed its width matched to that seed's
    ensemble FLOPs (``targets``) within 10%, with the seeds no width matches that closely and why
    (``comparison.match_reachable``: those are not compared)."""
    import keras  # deferred: Keras starts TensorFlow

    from videonas import measure  # deferred: TensorFlow

    num_classes = len(task.open_dataset().class_names)

    def build(width: float):
        return retrain.Baseline(BASELINE, width).build(num_classes=num_classes, num_frames=task.num_frames,
                                                      image_size=task.image_size, multi_label=task.multi_label)

    keras.backend.clear_session()
    width_flops = measure.count_flops(build(task.width_multiplier))
    return (width_flops, *comparison.match_reachable(build, targets, label=f"{BASELINE} at the ensemble's FLOPs"))


def fixed_networks(fixed: ensemble_runs.FixedRuns) -> dict[str, dict[int, Any]]:
    """The members' and the baselines' trainings by the names the report gives them."""
    return {**fixed.members, f"{BASELINE} at the members' width": fixed.baselines["width"],
            f"{BASELINE} at the ensemble's FLOPs": fixed.baselines["flops"]}


def experiment_verdicts(result: EnsembleExperiment) -> list:
    """``verdicts`` over the training seeds (a seed without an ensemble counts as a dropped pair)."""
    fixed = result.fixed
    return verdicts(
        ensembles={s: None if e is None else e.scores["ensemble"] for s, e in fixed.items()},
        best_members={s: None if e is None else e.scores["selected_single"] for s, e in fixed.items()},
        ensemble_flops={s: None if e is None else e.flops for s, e in fixed.items()},
        width_scores=retrain.held_out_scores(result.fixed_runs.baselines["width"]), width_flops=result.width_flops,
        flops_scores=retrain.held_out_scores(result.fixed_runs.baselines["flops"]))


def verdicts(*, ensembles: Mapping[int, float | None], best_members: Mapping[int, float | None],
             ensemble_flops: Mapping[int, int | None], width_scores: Mapping[int, float | None], width_flops: int,
             flops_scores: Mapping[int, float | None]) -> list:
    """The four questions, paired by seed, in points (test top-1 x 100) and FLOP ratios; the noise floor is the
    matched-width R(2+1)D's spread over seeds."""
    def points(values: Mapping[int, float | None]) -> dict[int, float | None]:
        return {seed: None if v is None else 100 * v for seed, v in values.items()}

    floor = stats.spread(list(points(width_scores).values()))
    # The members' FLOPs do not change with the training seed: one count against another is an exact figure, not a
    # test over seeds (whose p would only count how many seeds repeat the same numbers).
    counted = {flops for flops in ensemble_flops.values() if flops is not None}
    cost = (claims.ask_exact("evanet_ensemble_cost", a=float(width_flops), b=float(next(iter(counted))))
            if len(counted) == 1 else
            claims.ask("evanet_ensemble_cost", a={seed: width_flops for seed in ensemble_flops}, b=dict(ensemble_flops)))
    return [claims.ask("evanet_ensemble_vs_single", a=points(ensembles), b=points(best_members), noise_floor=floor),
            cost,
            claims.ask("evanet_ensemble_vs_r2plus1d_width", a=points(ensembles), b=points(width_scores),
                       noise_floor=floor),
            claims.ask("evanet_ensemble_vs_r2plus1d_flops", a=points(ensembles), b=points(flops_scores),
                       noise_floor=floor)]


def flops_pairs(result: EnsembleExperiment) -> dict[int, dict[str, Any]]:
    """Per training seed, both FLOP counts of the same-FLOPs comparison: the ensemble's and its matched R(2+1)D's."""
    return {seed: {"ensemble_flops": None if e is None else e.flops, "target_flops": match.target_flops,
                   "baseline_flops": match.flops, "width_multiplier": match.width}
            for seed, e, match in ((s, result.fixed.get(s), m) for s, m in result.fixed_runs.matches.items())}


def report(result: EnsembleExperiment, *, folder: Path) -> experiment.Result:
    """The figure, conclusion and ``results.json`` in ``folder``."""
    from matplotlib import pyplot  # deferred: matplotlib

    from videonas.plots import evanet as evanet_plots  # deferred: matplotlib

    figure = evanet_plots.ensembles_figure(points(result), result.verdicts)
    pyplot.close(figure)  # shown by Result.show, not again by a notebook's inline backend
    fixed = result.fixed_runs
    return experiment.finish(
        folder, title=TITLE, question=QUESTION, headline=headline(result),
        conclusion=prose.conclusion(result.verdicts, notes=notes(result)), verdicts=result.verdicts,
        figures={"verdicts.png": figure},
        deterministic=summaries.repeatability(DETERMINISTIC, (
            r for runs in (*fixed.members.values(), *fixed.baselines.values()) for r in runs.values())),
        extra={"search_ensembles": {seed: {**e.scores, "member_names": [m.name for m in e.members], "flops": e.flops}
                                    for seed, e in result.ensembles.items()},
               "member_search_seed": result.member_seed, "members": list(fixed.members),
               "training_ensembles": {seed: None if e is None else {**e.scores, "flops": e.flops,
                                                                    "member_names": [m.name for m in e.members]}
                                      for seed, e in result.fixed.items()},
               "learning_rates": {name: choice.to_dict() for name, choice in fixed.choices.items()},
               "steps_allowed": fixed.steps, "still_improving": comparison.still_improving(fixed_networks(fixed)),
               "baselines": {"width": {"model": result.width.label, "flops": result.width_flops},
                             "flops": {"model": BASELINE, "per_seed": flops_pairs(result),
                                       "unmatched": fixed.unmatched}}},
        dataset=None if result.runs is None else result.runs.dataset(), details=result)


def points(result: EnsembleExperiment) -> list[dict[str, Any]]:
    """Accuracy-vs-MFLOPs points (``videonas.plots.curves.plot_runtime_accuracy``), all on test, per training seed:
    the members, their ensemble and both baselines."""
    rows = []
    for e in (e for e in result.fixed.values() if e is not None):
        rows += [{"label": "", "runtime_ms": m.flops / 1e6, "accuracy": m.fitness, "group": "members (per seed)"}
                 for m in e.members if m.flops]
        rows.append({"label": "", "runtime_ms": e.flops / 1e6, "accuracy": e.scores["ensemble"],
                     "group": f"ensemble of {len(e.members)} (per seed)"})
    width_scores = retrain.held_out_scores(result.fixed_runs.baselines["width"])
    rows += [{"label": "", "runtime_ms": result.width_flops / 1e6, "accuracy": score,
              "group": f"R(2+1)D-18 x{result.width.width_multiplier:.3g} (same width)"}
             for score in width_scores.values() if score is not None]
    flops_scores = retrain.held_out_scores(result.fixed_runs.baselines["flops"])
    rows += [{"label": "", "runtime_ms": result.fixed_runs.matches[seed].flops / 1e6, "accuracy": score,
              "group": "R(2+1)D-18 (same FLOPs, per seed)"}
             for seed, score in flops_scores.items() if score is not None]
    return rows


def headline(result: EnsembleExperiment) -> list[dict[str, Any]]:
    """The verdicts, then test top-1 over the training seeds of the ensembles, their best members and both baselines,
    and over the searches of each search's own ensemble (a description)."""
    fixed = {s: e for s, e in result.fixed.items() if e is not None}
    scores = {"ensemble": {s: e.scores["ensemble"] for s, e in fixed.items()},
              "best member (chosen on validation)": {s: e.scores["selected_single"] for s, e in fixed.items()},
              f"{result.width.label} ({result.width_flops / 1e6:.1f} MFLOPs)": retrain.held_out_scores(
                  result.fixed_runs.baselines["width"]),
              f"{BASELINE} at each seed's ensemble FLOPs": retrain.held_out_scores(
                  result.fixed_runs.baselines["flops"]),
              "each search's own ensemble (not retrained; no verdict)": {
                  s: e.scores["ensemble"] for s, e in result.ensembles.items()},
              "each search's own best member (not retrained; no verdict)": {
                  s: e.scores["selected_single"] for s, e in result.ensembles.items()}}
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric="top-1")]


def notes(result: EnsembleExperiment) -> list[str]:
    """What the verdicts do not say: which members, how they and the baselines were trained, both FLOP counts per
    seed, and how the ensembles of the other searches did."""
    fixed = result.fixed_runs
    runs = result.runs
    searched = runs.experiments[next(iter(runs.experiments))] if runs else None
    trained = {s: e.scores["ensemble"] for s, e in result.fixed.items() if e is not None}
    chance = "" if searched is None else answers.chance_text(searched, trained)
    gains = [e.scores["gain_over_selected"] for e in result.ensembles.values()]
    return [*([chance] if chance else []),
            f"The ensemble averages the logits of the top {len(fixed.members)} diverse RGB nets of search seed "
            f"{result.member_seed} (the search whose best is best on validation), each retrained over "
            f"{len(result.fixed)} training seeds; the paper's four-model ensemble also uses optical flow, ours does "
            "not.",
            f"Members and baselines trained with the same budget and {comparison.rates_text(fixed.choices)}; every "
            f"baseline's budget allowed at least as many steps as a member trained "
            f"({comparison.steps_text(fixed.steps)}).",
            *filter(None, [comparison.still_improving_text(fixed_networks(fixed))]),
            f"R(2+1)D-18 at the members' width is {result.width.label} ({result.width_flops / 1e6:.2f} MFLOPs); at the "
            f"ensemble's FLOPs, matched per seed within 10%: "
            f"{comparison.matches_text(fixed.matches, target='ensemble') or 'no seed'}.",
            *([f"Not compared at equal FLOPs (no width within 10%): {comparison.unmatched_text(fixed.unmatched)}."]
              if fixed.unmatched else []),
            *([f"Each search's own ensemble (its saved weights, one per search seed, no verdict) gained "
               f"{min(gains) * 100:+.1f} to {max(gains) * 100:+.1f} test points over its member chosen on validation, "
               f"over {len(gains)} searches."] if gains else [])]


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
