"""AssembleNet's search experiment on AssembleNet genomes with a synthetic trial function (no training)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import yaml  # noqa: E402

from videonas.experiments import assemblenet_search, prose, retrain  # noqa: E402
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


def _experiment(runs, baseline_scores):
    noise = {seed: TrialResult(fitness=0.5, metrics={"test": {"mAP": 0.5 + seed / 100}}) for seed in runs.seeds}
    base = {seed: TrialResult(fitness=0.5, metrics={"test": {"mAP": baseline_scores[seed]}}) for seed in runs.seeds}
    result = assemblenet_search.AssembleNetSearch(runs, noise, retrain.Baseline("two-stream", 0.1), 1_000_000,
                                                  assemblenet_search.best_flops(runs), base, [], "mAP")
    result.verdicts = assemblenet_search.verdicts(result)
    return result


def test_arms_differ_only_in_guidance():
    guided, unguided = config_with().arms
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
    assert "supports" not in text and "cannot tell" in text and "two-stream x0.1" in text
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
    assert set(data["extra"]) == {"summary", "pruned_edge_ranks", "baseline", "store"}
    assert data["extra"]["baseline"] == {"model": "two-stream x0.1", "flops": 1_000_000,
                                         "target_flops": result.target_flops}
    assert written.details is result and written.verdicts == result.verdicts


def test_the_default_profile_parses():
    with open(ROOT / "notebooks/params/default/assemblenet_search.yaml", encoding="utf-8") as handle:
        config = assemblenet_search.Config.from_dict(yaml.safe_load(handle)["config"])
    assert config.seeds == (0, 1, 2, 3, 4, 5) and [arm.label for arm in config.arms] == ["guided", "unguided"]
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
