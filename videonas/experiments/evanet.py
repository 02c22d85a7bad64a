"""EvaNet's search experiment: evolution against random search at equal budgets over seeds, how diverse the evolved
nets are, and the verdicts, so that ``notebooks/evanet_search.ipynb`` only sets parameters, calls and draws.

Both arms share the seed, so their first ``population_size`` candidates are the same random samples (a paired
design: the arms differ only in what they propose afterwards). Selection is on validation; every reported score is
the held-out test split's.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy

from videonas import ensemble
from videonas.experiments import answers, claims, retrain
from videonas.experiments.arms import Arm, ArmRuns, held_out_score, run_arms
from videonas.genome.evanet import distance

EVOLUTION, RANDOM = "evolution", "random"


def search_arms(*, num_trials: int, population_size: int, tournament_size: int, num_changes_start: int,
                num_changes_end: int) -> list[Arm]:
    """Evolution with EvaNet's diversity schedule (large mutations early, small ones by the last candidate) and
    random search."""
    schedule = {"population_size": population_size, "tournament_size": tournament_size,
                "num_changes_start": num_changes_start, "num_changes_end": num_changes_end,
                "decay_trials": max(1, num_trials - 1)}
    return [Arm(EVOLUTION, "decaying-tournament", schedule), Arm(RANDOM, "random")]


def first_round(*, space: Any, arm: Arm, seed: int, batch_size: int, num_trials: int) -> dict[str, list]:
    """What repeats exactly for a seed: the first round's genome keys and the mutation sizes by candidate index."""
    from videonas import search

    strategy = search.make_strategy(arm.strategy, space, seed=seed, batch_size=batch_size, **arm.strategy_options)
    return {"keys": [genome.key for genome in strategy.ask()],
            "changes": [strategy.num_changes(index) for index in range(num_trials)]}


@dataclasses.dataclass
class SearchExperiment:
    """The arms' searches, the noise floor's retrained runs and the verdicts."""

    runs: ArmRuns
    noise_trial: Any
    noise_runs: dict[int, Any]
    verdicts: list
    min_distance: int


def run(*, space: Any, store: Any, seeds: Sequence[int], num_trials: int, batch_size: int, arms: Sequence[Arm],
        evaluate_options: Mapping[str, Any], min_distance: int, executor: str = "subprocess",
        executor_options: Mapping[str, Any] | None = None, evaluate: str = "videonas.train:evaluate_trial",
        progress: bool = True) -> SearchExperiment:
    """Run the arms over ``seeds`` and retrain evolution's first-seed best over the seeds (the noise floor), all on
    one executor; judge the questions."""
    from videonas import config
    from videonas.search import make_executor

    runner = make_executor(executor, **dict(executor_options or {}))
    try:
        search = {"space": space, "num_trials": num_trials, "batch_size": batch_size,
                  **config.evaluate_fields(evaluate, evaluate_options)}
        runs = run_arms(arms=arms, seeds=seeds, search=search, store=store, executor=runner, progress=progress)
        noise_trial, noise_runs = retrain.retrain_best(runs, label=EVOLUTION, executor=runner,
                                                       options=evaluate_options, function=evaluate)
    finally:
        runner.close()
    return SearchExperiment(runs, noise_trial, noise_runs,
                            verdicts(runs, noise_floor=retrain.noise_floor(noise_runs), min_distance=min_distance),
                            min_distance)


def diverse_pair(experiment: Any, *, min_distance: int) -> tuple[Any, Any]:
    """``(best, runner-up)``: the validation-best trial and the best one at least ``min_distance`` module components
    from it (``None`` when the search found none that far)."""
    ranked = ensemble.ranked_trials(experiment)
    if not ranked:
        return None, None
    best = experiment.genome(ranked[0])
    far = [t for t in ranked[1:] if distance(best, experiment.genome(t)) >= min_distance]
    return ranked[0], far[0] if far else None


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


def notes(result: SearchExperiment) -> list[str]:
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


def headline(result: SearchExperiment) -> list[dict[str, Any]]:
    """The verdicts, then each arm's test score over seeds and the noise floor's net."""
    scores = {f"{label} (best of each search)": result.runs.scores(label) for label in result.runs.labels}
    scores[f"evolution's seed-{result.runs.seeds[0]} best, retrained"] = retrain.held_out_scores(result.noise_runs)
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric="top-1")]
