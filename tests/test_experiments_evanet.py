"""EvaNet's search experiment on EvaNet genomes with a synthetic trial function (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from videonas.experiments import evanet, prose
from videonas.genome.evanet import EvaNetSpace, distance
from videonas.search.store import TrialResult

SPACE = EvaNetSpace(max_branches=2, max_repeats=1, temporal_sizes=[1, 3, 5])


def evaluate(genome, *, seed, **options):
    """Fitness from the genome alone; the test score adds a seed-dependent wobble (the noise floor)."""
    fitness = int(genome.key[:6], 16) % 1000 / 1000
    test = fitness + (seed % 5) / 100
    return TrialResult(fitness=fitness, params=1, flops=1000,
                       metrics={"test": {"accuracy": test, "num_clips": 10}})


def _experiment(tmp_path, seeds=(0, 1, 2, 3, 4, 5)):
    arms = evanet.search_arms(num_trials=6, population_size=2, tournament_size=2, num_changes_start=3,
                              num_changes_end=1)
    return evanet.run(space=SPACE, store=tmp_path / "s.sqlite", seeds=list(seeds), num_trials=6, batch_size=2,
                      arms=arms, evaluate_options={"task": {}, "budget": {}}, min_distance=2, executor="inprocess",
                      evaluate="test_experiments_evanet:evaluate", progress=False)


def test_equal_budgets_paired_verdicts_and_a_measured_noise_floor(tmp_path):
    result = _experiment(tmp_path)
    assert all(len(trials) == 6 for trials in result.runs.trials().values())
    assert [v.n for v in result.verdicts] == [6, 6]
    first = result.verdicts[0]
    expected = [100 * (result.runs.scores("evolution")[s] - result.runs.scores("random")[s]) for s in range(6)]
    assert first.estimate == pytest.approx(sum(expected) / 6)
    # The retrained genome's test scores move by seed only: their spread is the noise floor, in points.
    assert first.noise_floor is not None and first.noise_floor > 0
    assert {r.fitness for r in result.noise_runs.values()} == {result.noise_trial.fitness}


def test_diverse_pair_is_far_enough_apart(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    for seed in (0, 1):
        experiment = result.runs.experiments["evolution", seed]
        best, runner_up = evanet.diverse_pair(experiment, min_distance=2)
        assert best.fitness == max(t.fitness for t in experiment.trials())
        if runner_up is not None:
            assert distance(experiment.genome(best), experiment.genome(runner_up)) >= 2
    assert evanet.diverse_pair(experiment, min_distance=10**6)[1] is None


def test_diversity_data_and_notes(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    data = evanet.diversity(result.runs, seed=0, top_k=2)
    assert data["matrix"].shape == (len(data["labels"]),) * 2
    assert set(data["pairwise"]) == {"evolution", "random"}
    assert all(index >= 2 for index, _ in data["steps"])  # only children have a parent
    notes = " ".join(evanet.notes(result))
    assert "starting random samples" in notes and "of 2 seeds" in notes
    rows = evanet.headline(result)
    assert rows[0]["label"] == result.verdicts[0].question and rows[0]["paper"] == ""


def test_conclusion_never_claims_agreement_when_inconclusive(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    assert all(v.verdict == "inconclusive" for v in result.verdicts)  # two seeds cannot decide
    text = prose.conclusion(result.verdicts, notes=evanet.notes(result))
    assert "supports" not in text and "cannot tell" in text
    forced = [dataclasses.replace(v, verdict="supported") for v in result.verdicts]
    assert "supports the paper's claim" in prose.conclusion(forced)


def test_first_round_repeats_for_a_seed():
    arm = evanet.search_arms(num_trials=4, population_size=2, tournament_size=2, num_changes_start=3,
                             num_changes_end=1)[0]
    first = evanet.first_round(space=SPACE, arm=arm, seed=0, batch_size=2, num_trials=4)
    assert first == evanet.first_round(space=SPACE, arm=arm, seed=0, batch_size=2, num_trials=4)
    assert first["changes"] == sorted(first["changes"], reverse=True) and first["changes"][0] == 3
    assert len(first["keys"]) == 2
