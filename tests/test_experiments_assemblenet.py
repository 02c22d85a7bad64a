"""AssembleNet's search experiment on AssembleNet genomes with a synthetic trial function (no training)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from videonas.config import SpaceConfig  # noqa: E402
from videonas.experiments import assemblenet_search, prose, protocol  # noqa: E402
from videonas.experiments.arms import run_arms  # noqa: E402
from videonas.genome.assemblenet import edges  # noqa: E402
from videonas.search.store import TrialResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {"nodes_per_level": [1, 1, 1, 1], "filters_per_level": [[8], [8, 16], [16], [16, 32]], "dilations": [1, 2]}
CONFIG = {
    "search": {"space": {"family": "assemblenet", "options": OPTIONS}, "num_trials": 6, "max_epochs": 6, "batch_size": 1,
               "evaluate": "test_experiments_assemblenet:evaluate", "executor": "inprocess"},
    "arms": {label: {"name": "guided-tournament", "options": {"population_size": 2, "tournament_size": 2, "guided": guided}}
             for label, guided in (("guided", True), ("unguided", False))},
    "seeds": [0, 1],
}


def evaluate(genome, *, seed, **options):
    """Fitness from the genome; learned edge weights rising with the edge's position (so guided pruning has a
    clear weakest edge)."""
    fitness = int(genome.key[:6], 16) % 1000 / 1000
    weights = [[s, t, 0.1 + i / 100] for i, (s, t) in enumerate(edges(genome))]
    return TrialResult(fitness=fitness, params=1, flops=1_000_000 + len(weights),
                       metrics={"test": {"mAP": fitness - (seed % 3) / 100, "num_clips": 10}},
                       learned={"edge_weights": weights})


def config_with(**changes):
    return assemblenet_search.Config.from_dict({**copy.deepcopy(CONFIG), **changes})


def _runs(tmp_path, seeds=(0, 1)):
    config = config_with(seeds=list(seeds))
    return run_arms(arms=config.arms, seeds=config.seeds, search=config.search, store=tmp_path / "s.sqlite",
                    progress=False)


def _experiment(runs, baseline_scores, *, seeds=None):
    seeds = list(runs.seeds if seeds is None else seeds)
    evolved = {seed: TrialResult(fitness=0.5, metrics={"steps": 30, "test": {"mAP": 0.5 + seed / 100}})
               for seed in seeds}
    base = {seed: TrialResult(fitness=0.5, metrics={"steps": 30, "test": {"mAP": baseline_scores[seed]}})
            for seed in seeds}
    choices = {name: protocol.LearningRateChoice(0.01, {0.003: 0.4, 0.01: 0.5}, seeds[0])
               for name in ("evolved", "late fusion")}
    matches = {seed: protocol.FlopsMatch(0.1, 1_050_000, 1_000_018.0) for seed in seeds}
    fixed = assemblenet_search.Fixed(evolved, base, choices, matches, {"late fusion": 30})
    seed, trial, _ = runs.overall_best("guided")
    result = assemblenet_search.AssembleNetSearch(runs, (seed, trial), fixed, [], "mAP")
    result.verdicts = assemblenet_search.verdicts(result)
    return result


def test_arms_differ_only_in_guidance():
    guided, unguided = config_with().arms
    assert guided.strategy == unguided.strategy == "guided-tournament"
    assert guided.strategy_options == {**unguided.strategy_options, "guided": True}
    assert unguided.strategy_options["guided"] is False


def test_verdicts_pair_search_seeds_and_training_seeds_with_a_noise_floor(tmp_path):
    runs = _runs(tmp_path, seeds=range(6))
    result = _experiment(runs, {seed: 0.2 for seed in range(10)}, seeds=range(10))
    guided_vs, versus_baseline = result.verdicts
    assert guided_vs.n == 6 and versus_baseline.n == 10 and guided_vs.unit == "points"
    children = {label: runs.scores(label, children=True) for label in ("guided", "unguided")}
    assert guided_vs.estimate == pytest.approx(sum(100 * (children["guided"][s] - children["unguided"][s])
                                                   for s in range(6)) / 6)  # the mutated candidates only
    assert versus_baseline.estimate == pytest.approx(sum(100 * (0.5 + s / 100 - 0.2) for s in range(10)) / 10)
    assert versus_baseline.noise_floor == pytest.approx(100 * 0.0302765035, rel=1e-6)  # the evolved net's spread
    assert versus_baseline.verdict == "supported"


def test_guided_pruning_removes_the_weakest_edges(tmp_path):
    ranks = assemblenet_search.pruned_ranks(_runs(tmp_path, seeds=range(4)))
    assert set(ranks) == {"guided", "unguided"} and ranks["guided"] and ranks["unguided"]
    mean = {label: sum(values) / len(values) for label, values in ranks.items()}
    assert mean["guided"] < 0.4 < mean["unguided"]


def test_panels_are_distinct_graphs_with_weights(tmp_path):
    runs = _runs(tmp_path)
    root, child = assemblenet_search.panels(runs, metric="mAP")
    assert root["genome"].key != child["genome"].key
    assert "random start" in root["title"] and "mutated" in child["title"]
    assert set(child["edge_weights"]) == set(edges(child["genome"]))


def test_conclusion_never_claims_agreement_when_inconclusive(tmp_path):
    runs = _runs(tmp_path)
    result = _experiment(runs, {0: 0.2, 1: 0.2})
    assert [v.verdict for v in result.verdicts] == ["inconclusive", "inconclusive"]  # two seeds cannot decide
    text = prose.conclusion(result.verdicts, notes=assemblenet_search.notes(result))
    assert "supports" not in text and "cannot tell" in text
    assert "seeds 0, 1: evolved 1.00 vs x0.1 1.05 MFLOPs (+5.0%)" in text and "late fusion: 30" in text
    rows = assemblenet_search.headline(result)
    assert [row["paper"] for row in rows] == [""] * len(rows)
    forced = [dataclasses.replace(v, verdict="contradicted") for v in result.verdicts]
    assert "contradicts the paper's claim" in prose.conclusion(forced)


def test_deterministic_facts_repeat():
    facts = assemblenet_search.deterministic_facts(config_with())
    assert facts == assemblenet_search.deterministic_facts(config_with())
    assert facts[2].split(":", 1)[1] == facts[3].split(":", 1)[1]  # both arms start from the same graphs
    assert facts[2].count("', '") == 1  # the whole first population: population_size graphs
    assert "rank [0.0" in facts[-1]  # the weakest edge goes first


def test_report_writes_the_figures_and_results_the_index_reads(tmp_path):
    result = _experiment(_runs(tmp_path), {0: 0.2, 1: 0.2})
    written = assemblenet_search.report(result, folder=tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["figures"] == ["verdicts.png", "best_graph.png"]
    assert all((tmp_path / name).is_file() for name in data["figures"])
    assert data["title"] == assemblenet_search.TITLE and data["conclusion"] == written.conclusion
    assert set(data["extra"]) == {"summary", "pruned_edge_ranks", "evolved", "baseline", "learning_rates",
                                  "steps_allowed", "still_improving", "store"}
    assert data["extra"]["still_improving"] == {}  # these trainings had no patience: only their budget stopped them
    assert data["extra"]["baseline"]["unmatched"] == {}
    assert data["extra"]["baseline"]["per_seed"]["1"] == {"width_multiplier": 0.1, "flops": 1_050_000,
                                                          "target_flops": 1_000_018.0}
    assert data["extra"]["learning_rates"]["late fusion"]["learning_rate"] == 0.01
    assert written.details is result and written.verdicts == result.verdicts


def test_the_default_profile_parses():
    with open(ROOT / "notebooks/params/default/assemblenet_search.yaml", encoding="utf-8") as handle:
        config = assemblenet_search.Config.from_dict(yaml.safe_load(handle)["config"])
    assert 2.0 ** -len(config.seeds) < 0.025 and [arm.label for arm in config.arms] == ["guided", "unguided"]
    assert len(config.comparison_seeds) >= 10 and config.budget.patience and config.learning_rates
    assert config.arms[0].strategy_options == {"population_size": 2, "tournament_size": 2, "guided": True}
    assert config.search["task"]["dataset"] == "embedded:default"


@pytest.mark.parametrize("where, dotted", [
    ((), "config.nmu"),
    (("search",), "config.search.nmu"),
    (("search", "space"), "config.search.space.nmu"),
    (("search", "space", "options"), "config.search.space.options.nmu"),
    (("arms",), "config.arms.nmu"),
    (("arms", "guided"), "config.arms.guided.nmu"),
    (("arms", "unguided", "options"), "config.arms.unguided.options.nmu"),
])
def test_a_misspelled_key_names_its_dotted_path(where, dotted):
    data = copy.deepcopy(CONFIG)
    level = data
    for key in where:
        level = level[key]
    level["nmu"] = 1
    with pytest.raises(ValueError, match=dotted.replace(".", r"\.")):
        assemblenet_search.Config.from_dict(data)


def test_a_misspelled_task_or_budget_key_names_its_dotted_path():
    for field in ("task", "budget"):
        data = copy.deepcopy(CONFIG)
        del data["search"]["evaluate"]
        data["search"][field] = {"epoch": 1}
        with pytest.raises(ValueError, match=rf"config\.search\.{field}"):
            assemblenet_search.Config.from_dict(data)


def test_the_arms_must_be_guided_and_unguided():
    with pytest.raises(ValueError, match=r"config\.arms is missing"):
        config_with(arms={"guided": "assemblenet"})
    with pytest.raises(ValueError, match=r"config\.search\.space\.family must be 'assemblenet'"):
        config_with(search={**CONFIG["search"], "space": {"family": "evanet"}})


STEPS = {"evolved": 30, "late fusion": 30}


def evaluate_fixed(genome, *, seed, task, budget):
    """The evolved net, trained outside the search: validation is best at learning rate 0.003."""
    return TrialResult(fitness=0.5 if task["learning_rate"] == 0.003 else 0.3, metrics={
        "steps": STEPS["evolved"], "learning_rate": task["learning_rate"], "test": {"mAP": 0.5}})


def evaluate_late_fusion(genome, *, seed, task, budget, model, model_options):
    """The late-fusion baseline: validation is best at 0.01 (not the candidates' 0.003); its width is kept."""
    return TrialResult(fitness=0.5 if task["learning_rate"] == 0.01 else 0.3, metrics={
        "steps": STEPS["late fusion"], "learning_rate": task["learning_rate"],
        "width": model_options["width_multiplier"], "test": {"mAP": 0.4}})


def _train_fixed(seeds, *, widths=None):
    widths = widths or {seed: 0.1 for seed in seeds}
    matches = {seed: protocol.FlopsMatch(widths[seed], 1_000_000, 1_050_000.0) for seed in seeds}
    sample = SpaceConfig.from_value(CONFIG["search"]["space"]).build().sample(numpy.random.default_rng(0))
    return assemblenet_search.train_fixed(
        sample, seeds=seeds, matches=matches, executor="inprocess", learning_rates=(0.003, 0.01),
        options={"task": {"learning_rate": 0.003}, "budget": {"epochs": 3, "patience": 1}},
        function="test_experiments_assemblenet:evaluate_fixed",
        baseline_function="test_experiments_assemblenet:evaluate_late_fusion")


def test_the_baseline_gets_its_own_learning_rate_and_each_seed_its_matched_width():
    seeds = list(range(10))
    fixed = _train_fixed(seeds, widths={seed: 0.1 + seed / 1000 for seed in seeds})
    assert {name: choice.rate for name, choice in fixed.choices.items()} == {"evolved": 0.003, "late fusion": 0.01}
    assert {r.metrics["learning_rate"] for r in fixed.baseline.values()} == {0.01}
    assert {seed: r.metrics["width"] for seed, r in fixed.baseline.items()} == {s: 0.1 + s / 1000 for s in seeds}
    assert list(fixed.evolved) == seeds and fixed.steps == {"late fusion": 30}
    for match in fixed.matches.values():
        protocol.check_flops(match.flops, match.target_flops)


def test_without_a_matched_width_the_baseline_is_not_trained_and_the_evolved_net_still_is():
    fixed = assemblenet_search.train_fixed(
        SpaceConfig.from_value(CONFIG["search"]["space"]).build().sample(numpy.random.default_rng(0)), seeds=[0, 1],
        matches={}, unmatched={0: "too wide", 1: "too wide"}, executor="inprocess", learning_rates=None,
        options={"task": {"learning_rate": 0.003}, "budget": {"epochs": 3}},
        function="test_experiments_assemblenet:evaluate_fixed",
        baseline_function="test_experiments_assemblenet:evaluate_late_fusion")
    assert list(fixed.evolved) == [0, 1] and fixed.baseline == {} and list(fixed.choices) == ["evolved"]
    assert fixed.unmatched == {0: "too wide", 1: "too wide"}


def test_a_late_fusion_baseline_that_trains_fewer_steps_is_refused(monkeypatch):
    monkeypatch.setitem(STEPS, "late fusion", 29)
    with pytest.raises(ValueError, match=r"arm 'late fusion' seed 0: its budget allowed 29 training steps, fewer "
                                         r"than the 30 that 'evolved' trained"):
        _train_fixed([0, 1])


def test_training_seeds_budget_and_rates_are_checked_fields():
    parsed = config_with(training_seeds=list(range(10)), budget={"epochs": 6, "patience": 2}, learning_rates=[0.01])
    assert parsed.comparison_seeds == tuple(range(10)) and parsed.budget.epochs == 6
    assert config_with().comparison_seeds == (0, 1)
    with pytest.raises(ValueError, match=r"config\.learning_rates must hold distinct"):
        config_with(learning_rates=[0.01, 0.01])
    with pytest.raises(ValueError, match=r"config\.budget\.epoch"):
        config_with(budget={"epoch": 3})
