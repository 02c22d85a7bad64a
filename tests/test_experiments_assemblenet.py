"""AssembleNet's search experiment on AssembleNet genomes with a synthetic trial function (no training)."""

from __future__ import annotations

import dataclasses

import pytest

from videonas.experiments import assemblenet, prose, retrain
from videonas.experiments.arms import run_arms
from videonas.genome.assemblenet import AssembleNetSpace, edges
from videonas.search.store import TrialResult

OPTIONS = {"nodes_per_level": [1, 1, 1, 1], "filters_per_level": [[8], [8, 16], [16], [16, 32]], "dilations": [1, 2]}


def evaluate(genome, *, seed, **options):
    """Fitness from the genome; learned edge weights rising with the edge's position (so guided pruning has a
    clear weakest edge)."""
    fitness = int(genome.key[:6], 16) % 1000 / 1000
    weights = [[s, t, 0.1 + i / 100] for i, (s, t) in enumerate(edges(genome))]
    return TrialResult(fitness=fitness, params=1, flops=1_000_000 + len(weights),
                       metrics={"test": {"mAP": fitness - (seed % 3) / 100, "num_clips": 10}},
                       learned={"edge_weights": weights})


def _runs(tmp_path, seeds=(0, 1)):
    search = {"space": AssembleNetSpace(**OPTIONS), "num_trials": 6, "batch_size": 1,
              "evaluate": "test_experiments_assemblenet:evaluate", "executor": "inprocess"}
    return run_arms(arms=assemblenet.search_arms(population_size=2, tournament_size=2), seeds=list(seeds),
                    search=search, store=tmp_path / "s.sqlite", progress=False)


def _experiment(runs, baseline_scores):
    noise = {seed: TrialResult(fitness=0.5, metrics={"test": {"mAP": 0.5 + seed / 100}}) for seed in runs.seeds}
    base = {seed: TrialResult(fitness=0.5, metrics={"test": {"mAP": baseline_scores[seed]}}) for seed in runs.seeds}
    result = assemblenet.SearchExperiment(runs, noise, retrain.Baseline("two-stream", 0.1), 1_000_000,
                                          assemblenet.best_flops(runs), base, [], "mAP")
    result.verdicts = assemblenet.verdicts(result)
    return result


def test_arms_differ_only_in_guidance():
    guided, unguided = assemblenet.search_arms(population_size=3, tournament_size=2)
    assert guided.strategy == unguided.strategy == "guided-tournament"
    assert guided.strategy_options == {**unguided.strategy_options, "guided": True}
    assert unguided.strategy_options["guided"] is False


def test_verdicts_pair_test_points_by_seed_with_a_noise_floor(tmp_path):
    runs = _runs(tmp_path, seeds=range(6))
    result = _experiment(runs, {seed: 0.2 for seed in range(6)})
    guided_vs, versus_baseline = result.verdicts
    assert guided_vs.n == versus_baseline.n == 6 and guided_vs.unit == "points"
    scores = runs.scores("guided")
    assert versus_baseline.estimate == pytest.approx(sum(100 * (scores[s] - 0.2) for s in range(6)) / 6)
    assert versus_baseline.noise_floor == pytest.approx(100 * 0.0187082869, rel=1e-6)
    assert versus_baseline.verdict == "supported"  # every seed's best is far above 0.2 mAP


def test_guided_pruning_removes_the_weakest_edges(tmp_path):
    ranks = assemblenet.pruned_ranks(_runs(tmp_path, seeds=range(4)))
    assert set(ranks) == {"guided", "unguided"} and ranks["guided"] and ranks["unguided"]
    mean = {label: sum(values) / len(values) for label, values in ranks.items()}
    assert mean["guided"] < 0.4 < mean["unguided"]


def test_panels_are_distinct_graphs_with_weights(tmp_path):
    runs = _runs(tmp_path)
    root, child = assemblenet.panels(runs, metric="mAP")
    assert root["genome"].key != child["genome"].key
    assert "random start" in root["title"] and "mutated" in child["title"]
    assert set(child["edge_weights"]) == set(edges(child["genome"]))


def test_conclusion_never_claims_agreement_when_inconclusive(tmp_path):
    runs = _runs(tmp_path)
    result = _experiment(runs, {0: 0.2, 1: 0.2})
    assert [v.verdict for v in result.verdicts] == ["inconclusive", "inconclusive"]  # two seeds cannot decide
    text = prose.conclusion(result.verdicts, notes=assemblenet.notes(result))
    assert "supports" not in text and "cannot tell" in text and "two-stream x0.1" in text
    rows = assemblenet.headline(result)
    assert [row["paper"] for row in rows] == [""] * len(rows)
    forced = [dataclasses.replace(v, verdict="contradicted") for v in result.verdicts]
    assert "contradicts the paper's claim" in prose.conclusion(forced)


def test_deterministic_facts_repeat():
    arms = assemblenet.search_arms(population_size=2, tournament_size=2)
    facts = assemblenet.deterministic_facts(space_options=OPTIONS, arms=arms, seed=0, population_size=2)
    assert facts == assemblenet.deterministic_facts(space_options=OPTIONS, arms=arms, seed=0, population_size=2)
    assert facts[2].split(":", 1)[1] == facts[3].split(":", 1)[1]  # both arms start from the same graphs
    assert "rank [0.0" in facts[-1]  # the weakest edge goes first
