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
from videonas.config import SpaceConfig  # noqa: E402
from videonas.ensemble import Member  # noqa: E402
from videonas.experiments import comparison, ensemble_runs, evanet_search, prose, protocol, retrain  # noqa: E402
from videonas.experiments import evanet_ensembles as ensembles  # noqa: E402
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
    seed = ensemble_runs.score_members(3, members, LABELS)
    assert seed.seed == 3 and seed.flops == 150
    assert seed.scores["single"] == [0.5, 0.75]
    assert seed.scores["selected_single"] == 0.5  # the first member, not the best on test
    assert seed.scores["ensemble"] == 1.0 and seed.scores["gain_over_selected"] == pytest.approx(0.5)


def _verdicts(n, *, gain=0.02, spread=0.01, ensemble_flops=None):
    rng = numpy.random.default_rng(0)
    best = {seed: 0.6 + spread * rng.standard_normal() for seed in range(n)}
    return ensembles.verdicts(ensembles={s: v + gain for s, v in best.items()}, best_members=best,
                              ensemble_flops=ensemble_flops or {s: 300 + s for s in range(n)},
                              width_scores={s: 0.5 + 0.01 * s for s in range(n)}, width_flops=200,
                              flops_scores={s: 0.55 for s in range(n)})


def test_four_questions_paired_by_seed_in_points_and_flop_ratios():
    single, cost, width, flops = _verdicts(6, gain=0.02, spread=0.001)
    assert single.question.startswith("Does an ensemble") and single.unit == "points"
    assert single.estimate == pytest.approx(2.0) and single.verdict == "supported" and single.paper_figure is None
    assert single.noise_floor == pytest.approx(100 * numpy.std(
        [0.5 + 0.01 * s for s in range(6)], ddof=1))
    assert cost.unit == "x" and cost.verdict == "contradicted"  # 200 / ~302 FLOPs: the ensemble costs more
    assert width.n == flops.n == 6


def test_one_flops_count_for_every_training_seed_is_an_exact_figure_not_a_test_over_seeds():
    _, cost, _, _ = _verdicts(10, ensemble_flops={s: 170 for s in range(10)} | {3: None})
    assert cost.method == "exact" and cost.p_value is None and cost.estimate == pytest.approx(200 / 170)
    assert cost.verdict == "supported" and cost.values_a == {"figure": 200.0}
    _, cost, _, _ = _verdicts(10, ensemble_flops={s: 230 for s in range(10)})
    assert cost.method == "exact" and cost.verdict == "contradicted"


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
    assert len(config.comparison_seeds) >= 10 and config.budget.patience and config.learning_rates
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


STEPS = {"member": 40, "baseline": 40}


def evaluate_member(genome, *, seed, task, budget, save_weights=None):
    """A stand-in member: validation is best at learning rate 0.003; the weights path names genome and seed."""
    return TrialResult(fitness=0.6 if task["learning_rate"] == 0.003 else 0.5, flops=100,
                       metrics={"steps": STEPS["member"], "weights_path": f"{save_weights}/{genome.key}-{seed}",
                                "learning_rate": task["learning_rate"], "test": {"accuracy": 0.5}})


def evaluate_baseline(genome, *, seed, task, budget, model, model_options):
    """A stand-in R(2+1)D: validation is best at 0.01; the width it was built at is kept in the metrics."""
    return TrialResult(fitness=0.6 if task["learning_rate"] == 0.01 else 0.4, flops=100,
                       metrics={"steps": STEPS["baseline"], "width": model_options["width_multiplier"],
                                "learning_rate": task["learning_rate"], "test": {"accuracy": 0.4 + seed / 100}})


def dense(width):
    import keras

    inputs = keras.Input((16,))
    return keras.Model(inputs, keras.layers.Dense(max(1, round(64 * width)))(inputs))


def _members():
    built = SpaceConfig.from_value(test_experiments_evanet.SPACE).build()
    rng = numpy.random.default_rng(0)
    return {f"m{i}": built.sample(rng) for i in range(2)}


def _train(seeds, targets, *, rates=(0.003, 0.01)):
    matches, unmatched = comparison.match_reachable(dense, dict(zip(seeds, targets)), label="dense")
    return ensemble_runs.train_fixed(
        _members(), baseline="r2plus1d-18", width=0.0625, seeds=seeds, matches=matches, unmatched=unmatched,
        executor="inprocess",
        options={"task": {"learning_rate": 0.001}, "budget": {"epochs": 2}}, learning_rates=rates,
        save_weights="/weights", member_function="test_experiments_ensembles:evaluate_member",
        baseline_function="test_experiments_ensembles:evaluate_baseline")


def test_each_network_gets_its_rate_and_each_seed_its_matched_width():
    seeds = list(range(10))
    fixed = _train(seeds, [16 * (10 + 10 * (s % 2)) for s in seeds])  # two ensembles' FLOPs
    assert {name: c.rate for name, c in fixed.choices.items()} == {"m0": 0.003, "m1": 0.003, "width": 0.01,
                                                                   "flops": 0.01}
    assert all(r.metrics["learning_rate"] == 0.003 for runs in fixed.members.values() for r in runs.values())
    assert fixed.members["m0"][3].metrics["weights_path"].startswith("/weights/")
    widths = {seed: r.metrics["width"] for seed, r in fixed.baselines["flops"].items()}
    assert widths == {seed: fixed.matches[seed].width for seed in seeds} and len(set(widths.values())) == 2
    assert {r.metrics["width"] for r in fixed.baselines["width"].values()} == {0.0625}
    for match in fixed.matches.values():  # every same-FLOPs pair within 10%, by construction
        protocol.check_flops(match.flops, match.target_flops)
    assert fixed.steps == {"width": 40, "flops": 40}
    assert {c.rate for c in _train(seeds[:2], [160, 160], rates=None).choices.values()} == {0.001}


def test_a_baseline_that_trains_fewer_steps_than_a_member_is_refused(monkeypatch):
    monkeypatch.setitem(STEPS, "baseline", 39)
    with pytest.raises(ValueError, match=r"arm 'width' seed 0: its budget allowed 39 training steps, fewer than "
                                         r"the 40 that 'm0' trained"):
        _train([0, 1], [160, 160], rates=None)


def test_a_seed_out_of_the_baseline_s_reach_is_left_out_not_compared_at_unequal_flops():
    fixed = _train([0, 1, 2], [160, 16 * 1000, 160], rates=None)  # 64 units at most: 16 x 1000 is out of reach
    assert list(fixed.matches) == [0, 2] and list(fixed.baselines["flops"]) == [0, 2]
    assert list(fixed.baselines["width"]) == [0, 1, 2] and list(fixed.members["m0"]) == [0, 1, 2]
    assert "dense x1 has 1024 FLOPs and target 1.6e+04 FLOPs" in fixed.unmatched[1]
    assert "seed 1: dense x1" in comparison.unmatched_text(fixed.unmatched)
    none = _train([0, 1], [16 * 1000, 16 * 1000], rates=None)
    assert none.baselines["flops"] == {} and "flops" not in none.choices and none.steps == {"width": 40}


def test_each_training_seed_ensembles_its_own_members_best_on_validation_first():
    def run(fitness):
        return TrialResult(fitness=fitness, flops=50)

    members = {"a": {0: run(0.4), 1: run(0.7), 2: run(0.5)},
               "b": {0: run(0.6), 1: run(0.7), 2: TrialResult.failed("x")}}
    logits = {"a": numpy.array(LOGITS_A), "b": numpy.array(LOGITS_B)}
    result = ensemble_runs.fixed_ensembles(members, lambda name, trial: (logits[name], numpy.array(LABELS)))
    assert [m.name for m in result[0].members] == ["b", "a"] and result[0].scores["selected_single"] == 0.5
    assert [m.name for m in result[1].members] == ["a", "b"]  # a tie keeps the search's ranking
    assert result[0].scores["ensemble"] == 1.0 and result[0].flops == 100
    assert result[2] is None  # a failed member: no ensemble of fewer members


def _experiment(seeds=(0, 1)):
    members = [Member("b", numpy.array(LOGITS_B), flops=50), Member("a", numpy.array(LOGITS_A), flops=100)]
    fixed = {seed: ensemble_runs.score_members(seed, members, LABELS) for seed in seeds}
    runs = {key: {seed: TrialResult(fitness=0.5, metrics={"steps": 40, "test": {"accuracy": 0.4 + seed / 10}})
                  for seed in seeds} for key in ("width", "flops")}
    capped = {"steps": 40, "max_steps": 40, "epochs_trained": 4, "patience": 2}
    runs["flops"] = {seed: TrialResult(fitness=0.5, metrics={**capped, "best_epoch": 4 - seed,  # seed 0 still improved
                                                             "test": {"accuracy": 0.4 + seed / 10}}) for seed in seeds}
    matches = {0: protocol.FlopsMatch(0.1, 145, 150.0), 1: protocol.FlopsMatch(0.11, 160, 150.0)}
    fixed_runs = ensemble_runs.FixedRuns({"b": runs["width"], "a": runs["width"]}, runs,
                                         {name: protocol.LearningRateChoice(0.003, {0.003: 0.5, 0.01: 0.4}, 0)
                                          for name in ("b", "a", "width", "flops")}, matches,
                                         {"width": 40, "flops": 40})
    result = ensembles.EnsembleExperiment(None, {3: fixed[0]}, 3, fixed, fixed_runs,
                                          retrain.Baseline("r2plus1d-18", 0.0625), 120, [])
    result.verdicts = ensembles.experiment_verdicts(result)
    return result


def test_report_writes_both_flop_counts_per_seed_and_the_protocol(tmp_path):
    result = _experiment()
    written = ensembles.report(result, folder=tmp_path)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["figures"] == ["verdicts.png"] and (tmp_path / "verdicts.png").is_file()
    assert data["title"] == ensembles.TITLE and data["conclusion"] == written.conclusion
    assert data["extra"]["training_ensembles"]["0"]["member_names"] == ["b", "a"]
    assert data["extra"]["baselines"]["flops"]["per_seed"]["1"] == {
        "ensemble_flops": 150, "target_flops": 150.0, "baseline_flops": 160, "width_multiplier": 0.11}
    assert data["extra"]["learning_rates"]["width"]["learning_rate"] == 0.003
    assert len(data["verdicts"]) == 4 and data["verdicts"][0]["n"] == 2
    text = " ".join(ensembles.notes(result))
    assert ("seed 0: ensemble 0.00 vs x0.1 0.00 MFLOPs (-3.3%); "
            "seed 1: ensemble 0.00 vs x0.11 0.00 MFLOPs (+6.7%)") in text
    assert "width: 40, flops: 40" in text and "chosen on validation" in text
    assert "still improving when the epoch cap stopped them" in text.lower()
    assert f"{ensembles.BASELINE} at the ensemble's FLOPs 1 of 2." in text
    assert data["extra"]["still_improving"] == {f"{ensembles.BASELINE} at the ensemble's FLOPs": {
        "still_improving": 1, "trainings": 2}}


def test_training_seeds_budget_and_rates_are_checked_fields():
    parsed = config_with(training_seeds=list(range(10)), budget={"epochs": 6, "patience": 2},
                         learning_rates=[0.001, 0.01])
    assert parsed.comparison_seeds == tuple(range(10)) and parsed.budget.patience == 2
    assert config_with().comparison_seeds == (0, 1) and config_with().learning_rates is None
    for field, value, message in (("learning_rates", [0.01, 0.01], "config.learning_rates must hold distinct"),
                                  ("learning_rates", "0.01", "config.learning_rates must be null or"),
                                  ("learning_rates", [0.0], r"config.learning_rates\[0\]"),
                                  ("training_seeds", [1, 1], "config.training_seeds"),
                                  ("budget", {"patience": 0}, "config.budget.patience")):
        with pytest.raises(ValueError, match=message):
            config_with(**{field: value})
