"""EvaNet's search experiment (``notebooks/evanet_search.ipynb``): evolution against random search at equal budgets
over seeds, how diverse the evolved nets are, and the verdicts.

Both arms share the seed, so their first ``population_size`` candidates are the same random samples (a paired
design: the arms differ only in what they propose afterwards). Selection is on validation; every reported score is
the held-out test split's. Every trial's weights are saved beside the store, so that ``evanet_ensembles`` can reuse
the searches (its declared input) without retraining them.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import ensemble, selected
from videonas.experiments import answers, fields, claims, experiment, prose, retrain, summaries
from videonas.experiments.arms import Arm, ArmRuns, arm_config, held_out_score, run_arms
from videonas.genome.evanet import distance

NAME = "evanet_search"
STORE, WEIGHTS = "search.sqlite", "weights"
EVOLUTION, RANDOM = "evolution", "random"
TITLE = "EvaNet: evolving space-time modules"
QUESTION = ("Does evolution find better video modules than random search at the same budget, and several diverse ones "
            "of similar accuracy?")
DETERMINISTIC = ("Deterministic for a fixed seed: the first round's genomes and the mutation schedule (checked above), "
                 "parameter counts and FLOPs. Not exactly repeatable: accuracies (CPU training), hence later rounds.")


def with_schedule(arms: Sequence[Arm], *, num_trials: int) -> tuple[Arm, ...]:
    """The evolution arm's diversity schedule spans the whole search (large mutations early, small ones by the last
    candidate) unless its options give ``decay_trials``."""
    return tuple(dataclasses.replace(arm, strategy_options={"decay_trials": max(1, num_trials - 1),
                                                            **arm.strategy_options})
                 if arm.label == EVOLUTION else arm for arm in arms)


@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields both arms share (an EvaNet space); ``arms``: ``evolution`` and
    ``random``, each a strategy; one search per arm and seed; ``top_k`` architectures drawn; "diverse" means at least
    ``min_distance`` module components apart; ``resume`` keeps the store of a previous run."""

    search: Mapping[str, Any]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    top_k: int
    min_distance: int
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        parsed = experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: fields.parse_search(value, where, family="evanet", compared=True),
            "arms": lambda value, where: fields.parse_arms(value, where, labels=(EVOLUTION, RANDOM)),
            "seeds": fields.parse_seeds, "top_k": fields.parse_count,
            "min_distance": fields.parse_count, "resume": fields.parse_flag})
        return dataclasses.replace(parsed, arms=with_schedule(parsed.arms, num_trials=parsed.search["num_trials"]))


def first_round(config: Config) -> dict[str, list]:
    """What repeats exactly for the first seed: evolution's first-round genome keys and its mutation sizes by
    candidate index (nbval checks them)."""
    first = arm_config(config.search, config.arms[0], seed=config.seeds[0], store=STORE)
    strategy = first.build_strategy()
    return {"keys": [genome.key for genome in strategy.ask()],
            "changes": [strategy.num_changes(index) for index in range(first.num_trials)]}


@dataclasses.dataclass
class EvaNetSearch:
    """The arms' searches, the noise floor's retrained runs and the verdicts."""

    runs: ArmRuns
    noise_trial: Any
    noise_runs: dict[int, Any]
    verdicts: list
    min_distance: int


def run(config: Config, *, output_dir: str | os.PathLike | None = None, progress: bool = True) -> experiment.Result:
    """Run the arms over the seeds and retrain evolution's first-seed best over the seeds (the noise floor), all on
    the configured executor; judge the questions, draw the figures and write ``results.json``."""
    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    return report(run_searches(config, folder=folder, progress=progress), config=config, folder=folder)


def run_searches(config: Config, *, folder: Path, progress: bool = True) -> EvaNetSearch:
    """The searches (store and weights in ``folder``) and the noise floor's runs, on one executor this owns."""
    shared = fields.shared_search(config.search)
    shared_fields = {**config.search, **({"save_weights": str(folder / WEIGHTS)} if shared.evaluate.default else {})}
    runner = shared.executor.build()
    try:
        runs = run_arms(arms=config.arms, seeds=config.seeds, search=shared_fields, store=folder / STORE,
                        executor=runner, progress=progress)
        noise_trial, noise_runs = retrain.retrain_best(runs, label=EVOLUTION,
                                                       executor=summaries.stored_trainings(runner, folder),
                                                       options=fields.trial_fields(shared),
                                                       function=shared.evaluate.function)
    finally:
        runner.close()
    return EvaNetSearch(runs, noise_trial, noise_runs,
                        verdicts(runs, noise_floor=retrain.noise_floor(noise_runs), min_distance=config.min_distance),
                        config.min_distance)


def figures(result: EvaNetSearch, *, config: Config) -> dict[str, Any]:
    """The verdicts beside the best-so-far curves, the first seed's top diverse architectures and the diversity."""
    from videonas.plots import evanet as evanet_plots  # deferred: matplotlib

    runs, seed = result.runs, result.runs.seeds[0]
    evolved = runs.experiments[EVOLUTION, seed]
    top = [selected.score_test(evolved, trial)
           for trial in ensemble.select_diverse_trials(evolved, config.top_k, min_distance=config.min_distance)]
    width = fields.shared_search(config.search).task.width_multiplier
    return {"verdicts.png": evanet_plots.search_figure({label: runs.curves(label) for label in runs.labels},
                                                       result.verdicts),
            "top_architectures.png": evanet_plots.draw_evanets(
                [evolved.genome(t) for t in top], width_multiplier=width,
                titles=[f"trial {t.index}: val {t.fitness:.3f}, test {held_out_score(t):.3f}" for t in top]),
            "diversity.png": evanet_plots.plot_diversity(diversity(runs, seed=seed, top_k=config.top_k))}


def report(result: EvaNetSearch, *, config: Config, folder: Path) -> experiment.Result:
    """Figures, conclusion and ``results.json`` in ``folder``."""
    from matplotlib import pyplot  # deferred: matplotlib

    drawn = figures(result, config=config)
    for figure in drawn.values():  # shown by Result.show, not again by a notebook's inline backend
        pyplot.close(figure)
    return experiment.finish(
        folder, title=TITLE, question=QUESTION, headline=headline(result),
        conclusion=prose.conclusion(result.verdicts, notes=notes(result)), verdicts=result.verdicts, figures=drawn,
        deterministic=summaries.repeatability(DETERMINISTIC, (t for ts in result.runs.trials().values() for t in ts)),
        extra={"summary": result.runs.summary(), "store": str(folder / STORE)},
        outputs={"store": folder / STORE}, dataset=result.runs.dataset(), details=result)


def diverse_pair(experiment: Any, *, min_distance: int) -> tuple[Any, Any]:
    """``(best, runner-up)``: the validation-best trial and the best one at least ``min_distance`` module components
    from it (``None`` when the search found none that far)."""
    ranked = ensemble.ranked_trials(experiment)
    if not ranked:
        return None, None
    best = experiment.genome(ranked[0])
    far = [t for t in ranked[1:] if distance(best, experiment.genome(t)) >= min_distance]
    return selected.score_test(experiment, ranked[0]), selected.score_test(experiment, far[0] if far else None)


def verdicts(runs: ArmRuns, *, noise_floor: float | None, min_distance: int) -> list:
    """Evolution against random search, and whether the best diverse pair of each evolution seed is of similar
    accuracy (test points, paired by seed)."""
    pairs = {seed: diverse_pair(runs.experiments[EVOLUTION, seed], min_distance=min_distance) for seed in runs.seeds}

    def points(trial: Any) -> float | None:
        score = held_out_score(trial)
        return None if score is None else 100 * score

    floor = None if noise_floor is None else 100 * noise_floor
    return [runs.verdict("evanet_evolution_vs_random", a=EVOLUTION, b=RANDOM, noise_floor=noise_floor),
            claims.ask("evanet_diverse_similar", a={s: points(p[0]) for s, p in pairs.items()},
                       b={s: points(p[1]) for s, p in pairs.items()}, noise_floor=floor)]


def diversity(runs: ArmRuns, *, seed: int, top_k: int) -> dict[str, Any]:
    """The data of the diversity figure: distances between seed ``seed``'s best evolved nets (``matrix``, labelled by
    trial index), all pairwise distances among each arm's finished candidates over every seed (``pairwise``), and
    each evolved child's distance to its parent by candidate index over every seed (``steps``)."""
    experiment = runs.experiments[EVOLUTION, seed]
    best = ensemble.ranked_trials(experiment)[: max(top_k, 6)]
    pairwise = {}
    for label in runs.labels:
        values = []
        for key in [(label, s) for s in runs.seeds]:
            matrix = ensemble.distance_matrix([runs.experiments[key].genome(t)
                                               for t in ensemble.ranked_trials(runs.experiments[key])])
            values.extend(matrix[numpy.triu_indices(len(matrix), 1)].tolist())
        pairwise[label] = values
    steps = []
    for s in runs.seeds:
        evolved = runs.experiments[EVOLUTION, s]
        by_index = {t.index: t for t in evolved.trials()}
        steps += [(t.index, distance(evolved.genome(t), evolved.genome(by_index[t.parent])))
                  for t in evolved.trials() if t.parent is not None]
    return {"matrix": ensemble.distance_matrix([experiment.genome(t) for t in best]),
            "labels": [str(t.index) for t in best], "pairwise": pairwise, "steps": steps, "seed": seed}


def notes(result: EvaNetSearch) -> list[str]:
    """Sentences for the conclusion that the verdicts do not say: where the bests came from, the mutation sizes."""
    runs, total = result.runs, len(result.runs.seeds)
    start = {label: answers.unmutated_bests(runs, label=label) for label in runs.labels}
    steps = diversity(runs, seed=runs.seeds[0], top_k=2)["steps"]
    half = max(index for index, _ in steps) / 2 if steps else 0
    early = [d for index, d in steps if index <= half]
    late = [d for index, d in steps if index > half]
    text = [f"Each seed's best was one of the starting random samples (which both arms share) in "
            f"{answers.seeds_text(start[EVOLUTION], total)} for evolution and "
            f"{answers.seeds_text(start[RANDOM], total)} for random search."]
    chance = answers.chance_text(runs.experiments[EVOLUTION, runs.seeds[0]], runs.scores(EVOLUTION))
    if chance:
        text.append(chance)
    if early and late:
        text.append(f"The diversity schedule shows in the mutation sizes: children were on average "
                    f"{numpy.mean(early):.1f} module components from their parent in the first half of the search "
                    f"and {numpy.mean(late):.1f} in the second.")
    return text


def headline(result: EvaNetSearch) -> list[dict[str, Any]]:
    """The verdicts, then each arm's test score over seeds and the noise floor's net."""
    scores = {f"{label} (best of each search)": result.runs.scores(label) for label in result.runs.labels}
    scores[f"evolution's seed-{result.runs.seeds[0]} best, retrained"] = retrain.held_out_scores(result.noise_runs)
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric="top-1")]
