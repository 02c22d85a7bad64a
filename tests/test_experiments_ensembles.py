"""EvaNet's ensemble experiment: per-seed ensembles against the member chosen on validation, and the verdicts."""

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

import test_experiments_evanet  # noqa: E402
from videonas.ensemble import Member  # noqa: E402
from videonas.experiments import evanet_ensembles as ensembles, evanet_search, prose, retrain  # noqa: E402
from videonas.search.store import TrialResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"search": test_experiments_evanet.CONFIG["search"],
          "arms": {"evolution": test_experiments_evanet.CONFIG["arms"]["evolution"]},
          "seeds": [0, 1], "ensemble_size": 2, "min_distance": 2, "reuse_search": True}

# Member "b" (listed first: best on validation) is right on two of four clips, "a" on three, their mean on all four.
LOGITS_A = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
LOGITS_B = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]]
LABELS = [0, 1, 2, 0]


def test_gain_is_over_the_member_chosen_on_validation():
    members = [Member("b", numpy.array(LOGITS_B), flops=50), Member("a", numpy.array(LOGITS_A), flops=100)]
    seed = ensembles.score_members(3, members, LABELS)
    assert seed.seed == 3 and seed.flops == 150
    assert seed.scores["single"] == [0.5, 0.75]
    assert seed.scores["selected_single"] == 0.5  # the first member, not the best on test
    assert seed.scores["ensemble"] == 1.0 and seed.scores["gain_over_selected"] == pytest.approx(0.5)


def _verdicts(n, *, gain=0.02, spread=0.01):
    rng = numpy.random.default_rng(0)
    best = {seed: 0.6 + spread * rng.standard_normal() for seed in range(n)}
    return ensembles.verdicts(ensembles={s: v + gain for s, v in best.items()}, best_members=best,
                              ensemble_flops={s: 300 + s for s in range(n)},
                              width_scores={s: 0.5 + 0.01 * s for s in range(n)}, width_flops=200,
                              flops_scores={s: 0.55 for s in range(n)})


def test_four_questions_paired_by_seed_in_points_and_flop_ratios():
    single, cost, width, flops = _verdicts(6, gain=0.02, spread=0.001)
    assert single.question.startswith("Does an ensemble") and single.unit == "points"
    assert single.estimate == pytest.approx(2.0) and single.verdict == "supported"
    assert single.paper_figure == 0.8 and single.noise_floor == pytest.approx(100 * numpy.std(
        [0.5 + 0.01 * s for s in range(6)], ddof=1))
    assert cost.unit == "x" and cost.verdict == "contradicted"  # 200 / ~302 FLOPs: the ensemble costs more
    assert width.n == flops.n == 6


def test_conclusion_never_claims_agreement_when_inconclusive():
    verdicts = _verdicts(2)
    assert all(v.verdict == "inconclusive" for v in verdicts if v.unit == "points")
    text = prose.conclusion([v for v in verdicts if v.unit == "points"])
    assert "supports" not in text and "cannot tell" in text
    assert "supports" in prose.conclusion([dataclasses.replace(verdicts[0], verdict="supported")])


def config_with(**changes):
    return ensembles.Config.from_dict({**copy.deepcopy(CONFIG), **changes})


def test_the_reused_searches_are_evanet_search_s_declared_input(tmp_path):
    searched = evanet_search.run_searches(test_experiments_evanet.config_with(seeds=[0, 1]),
                                          folder=tmp_path / "evanet_search", progress=False)
    runs = ensembles.reused_searches(tmp_path / "evanet_ensembles", config_with())
    assert list(runs.experiments) == [("evolution", 0), ("evolution", 1)]
    assert [t.index for t in runs.experiments["evolution", 1].trials()] == [
        t.index for t in searched.runs.experiments["evolution", 1].trials()]
    with pytest.raises(ValueError, match=r"evolution-seed7.*run evanet_search with seeds \[0, 7\] first"):
        ensembles.reused_searches(tmp_path / "evanet_ensembles", config_with(seeds=[0, 7]))


def test_a_missing_input_says_which_experiment_to_run_first(tmp_path):
    with pytest.raises(ValueError, match="run evanet_search first"):
        ensembles.reused_searches(tmp_path / "evanet_ensembles", config_with())


def test_the_arm_is_evanet_search_s_evolution_arm_with_its_schedule():
    (arm,) = config_with().arms
    assert arm == evanet_search.Config.from_dict(test_experiments_evanet.CONFIG).arms[0]
    with pytest.raises(ValueError, match=r"config\.arms has unknown keys \['random'\]"):
        config_with(arms=test_experiments_evanet.CONFIG["arms"])


def test_the_default_profile_parses_and_reuses_evanet_search():
    with open(ROOT / "notebooks/params/default/evanet_ensembles.yaml", encoding="utf-8") as handle:
        config = ensembles.Config.from_dict(yaml.safe_load(handle)["config"])
    assert config.reuse_search and config.ensemble_size == 3 and config.seeds == (0, 1, 2, 3, 4, 5)
    with open(ROOT / "notebooks/params/default/evanet_search.yaml", encoding="utf-8") as handle:
        searched = evanet_search.Config.from_dict(yaml.safe_load(handle)["config"])
    assert config.search == searched.search and config.arms[0] == searched.arms[0]  # standalone: the same searches


@pytest.mark.parametrize("where, dotted", [
    ((), "config.ensemble_sise"),
    (("search",), "config.search.ensemble_sise"),
    (("search", "space", "options"), "config.search.space.options.ensemble_sise"),
    (("arms", "evolution", "options"), "config.arms.evolution.options.ensemble_sise"),
])
def test_a_misspelled_key_names_its_dotted_path(where, dotted):
    data = copy.deepcopy(CONFIG)
    level = data
    for key in where:
        level = level[key]
    level["ensemble_sise"] = 1
    with pytest.raises(ValueError, match=dotted.replace(".", r"\.")):
        ensembles.Config.from_dict(data)


def test_report_writes_the_figure_and_results_the_index_reads(tmp_path):
    members = [Member("b", numpy.array(LOGITS_B), flops=50), Member("a", numpy.array(LOGITS_A), flops=100)]
    seeds = {seed: ensembles.score_members(seed, members, LABELS) for seed in (0, 1)}
    baselines = {"width": retrain.Baseline("r2plus1d-18", 0.0625), "flops": retrain.Baseline("r2plus1d-18", 0.1)}
    runs = {key: {seed: TrialResult(fitness=0.5, metrics={"test": {"accuracy": 0.4 + seed / 10}}) for seed in (0, 1)}
            for key in baselines}
    result = ensembles.EnsembleExperiment(None, seeds, baselines, {"width": 120, "flops": 160}, runs, [])
    result.verdicts = ensembles.verdicts(
        ensembles={s: e.scores["ensemble"] for s, e in seeds.items()},
        best_members={s: e.scores["selected_single"] for s, e in seeds.items()},
        ensemble_flops={s: e.flops for s, e in seeds.items()}, width_scores=retrain.held_out_scores(runs["width"]),
        width_flops=120, flops_scores=retrain.held_out_scores(runs["flops"]))
    written = ensembles.report(result, folder=tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["figures"] == ["verdicts.png"] and (tmp_path / "verdicts.png").is_file()
    assert data["title"] == ensembles.TITLE and data["conclusion"] == written.conclusion
    assert data["extra"]["ensembles"]["0"]["member_names"] == ["b", "a"] and data["extra"]["ensembles"]["0"]["flops"] == 150
    assert data["extra"]["baselines"] == {"width": {"model": "r2plus1d-18 x0.0625", "flops": 120},
                                          "flops": {"model": "r2plus1d-18 x0.1", "flops": 160}}
    assert len(data["verdicts"]) == 4


def test_notes_say_when_the_flops_could_not_be_matched():
    seeds = {s: ensembles.SeedEnsemble(s, [Member("a", numpy.zeros((1, 2)), flops=50)] * 2, {}, 100) for s in (0, 1)}
    baselines = {"width": ensembles.retrain.Baseline("r2plus1d-18", 0.0625),
                 "flops": ensembles.retrain.Baseline("r2plus1d-18", 1 / 64)}
    result = ensembles.EnsembleExperiment(None, seeds, baselines, {"width": 160, "flops": 130}, {}, [])
    text = " ".join(ensembles.notes(result))
    assert "top 2 diverse" in text and "+30% off" in text
    result.baseline_flops["flops"] = 104
    assert "off" not in " ".join(ensembles.notes(result))
