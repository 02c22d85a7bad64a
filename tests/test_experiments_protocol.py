"""The comparison protocol: a learning rate chosen on validation once per network and reused over seeds, baselines
never trained fewer steps than their rival, FLOPs-matched pairs within 10% by construction."""

from __future__ import annotations

import types

import pytest

from videonas import search
from videonas.experiments import comparison, protocol, retrain
from videonas.search import trainings
from videonas.search.store import TrialResult

VAL_BY_RATE = {0.001: 0.40, 0.003: 0.55, 0.01: 0.55, 0.03: 0.10}  # 0.003 and 0.01 tie: the smaller wins


def evaluate(genome, *, seed, task, budget, **model):
    """A stand-in trial function: the validation score is a function of the learning rate; the options it got are
    kept in the metrics so that the test can see them."""
    rate = task["learning_rate"]
    if rate == 0.03:
        return TrialResult.failed("NaN loss: training diverged")
    test = {"test": {"accuracy": 0.5}} if task.get("score_test", True) else {}
    return TrialResult(fitness=VAL_BY_RATE[rate], metrics={"learning_rate": rate, "seed": seed, "model": model,
                                                           **test})


FUNCTION = "test_experiments_protocol:evaluate"
OPTIONS = {"task": {"dataset": "embedded:smoke"}, "budget": {"epochs": 4, "patience": 2}}


def test_the_learning_rate_is_chosen_on_validation_and_reused_across_seeds():
    baseline = retrain.Baseline("r2plus1d-18", 0.25)
    choice = protocol.choose_learning_rate(baseline, executor="inprocess", options=OPTIONS,
                                           rates=(0.01, 0.001, 0.003, 0.03), seed=7, function=FUNCTION)
    assert choice.rate == 0.003 and choice.seed == 7
    assert choice.scores == {0.01: 0.55, 0.001: 0.40, 0.003: 0.55, 0.03: None}
    assert {r.metrics["seed"] for r in choice.results.values() if r.status == "done"} == {retrain.training_seed(7)}
    assert choice.results[0.001].metrics["model"] == baseline.options()  # the named model travels with the job
    assert choice.to_dict()["grid"][3] == {"learning_rate": 0.03, "val": None}
    results = protocol.train_at(baseline, choice, seeds=[0, 1, 2], executor="inprocess", options=OPTIONS,
                                function=FUNCTION)
    assert {seed: r.metrics["learning_rate"] for seed, r in results.items()} == {0: 0.003, 1: 0.003, 2: 0.003}
    assert [r.metrics["seed"] for r in results.values()] == [retrain.training_seed(s) for s in (0, 1, 2)]


def test_the_trainings_a_comparison_reports_score_test_even_on_a_searchs_task():
    """A search's task leaves test unscored (tvn_search handed it to its comparison, which then had no test score
    on either side): the protocol's trainings score it regardless."""
    searchs = {**OPTIONS, "task": {**OPTIONS["task"], "score_test": False}}
    choice = protocol.choose_learning_rate(None, executor="inprocess", options=searchs, rates=(0.001, 0.003),
                                           function=FUNCTION)
    assert choice.rate == 0.003  # the choice reads validation (fitness), though each grid training scored test
    results = protocol.train_at(None, choice, seeds=[0, 1], executor="inprocess", options=searchs,
                                function=FUNCTION)
    assert retrain.held_out_scores(results) == {0: 0.5, 1: 0.5}
    matched = protocol.train_matched("r2plus1d-18", {3: protocol.FlopsMatch(0.5, 1000000, 1e6)}, executor="inprocess",
                                     options=choice.options(searchs), function=FUNCTION)
    assert retrain.held_out_scores(matched) == {3: 0.5}


def test_the_grids_training_at_the_chosen_rate_is_the_first_seeds_reported_one(tmp_path):
    """Both score test, so a stored executor answers the first seed's training from the grid's: one training less
    per network."""
    stored = trainings.StoredExecutor(search.make_executor("inprocess"), tmp_path / "trainings.sqlite")
    choice = protocol.choose_learning_rate(None, executor=stored, options=OPTIONS, rates=(0.001, 0.003),
                                           function=FUNCTION)
    assert stored.hits == 0
    protocol.train_at(None, choice, seeds=[0, 1], executor=stored, options=OPTIONS, function=FUNCTION)
    assert stored.hits == 1


def test_a_learning_rate_grid_is_checked_and_all_failures_are_an_error():
    with pytest.raises(ValueError, match="rates must be distinct"):
        protocol.choose_learning_rate(None, executor="inprocess", options=OPTIONS, rates=(0.01, 0.01),
                                      function=FUNCTION)
    with pytest.raises(ValueError, match=r"rates\[0\] must be in"):
        protocol.choose_learning_rate(None, executor="inprocess", options=OPTIONS, rates=(0.0,), function=FUNCTION)
    with pytest.raises(ValueError, match=r"every training failed \(0.03: NaN loss"):
        protocol.choose_learning_rate(None, executor="inprocess", options=OPTIONS, rates=(0.03,), function=FUNCTION)


def trained(steps, *, max_steps=None, patience=None, stopped_by_time=False):
    metrics = {"steps": steps, "stopped_by_time": stopped_by_time}
    if patience is not None:
        metrics.update(max_steps=max_steps, patience=patience)
    return TrialResult(fitness=0.5, metrics=metrics)


def test_check_steps_refuses_a_baseline_that_could_not_train_as_long():
    found = {0: trained(60, max_steps=90, patience=3), 1: trained(90, max_steps=90, patience=3)}
    stopped_early = {0: trained(30, max_steps=90, patience=3), 1: trained(45, max_steps=90, patience=5)}
    full = {0: trained(120), 1: trained(120), 2: TrialResult.failed("boom")}
    assert protocol.check_steps({"found": found, "early": stopped_early, "full": full},
                                reference="found") == {"early": 90, "full": 120}
    with pytest.raises(ValueError, match=r"arm 'short' seed 0: its budget allowed 80 training steps, fewer than "
                                         r"the 90 that 'found' trained \(seed 1\)"):
        protocol.check_steps({"found": found, "short": {0: trained(80), 1: trained(80)}}, reference="found")
    with pytest.raises(ValueError, match="arm 'impatient' seed 0: patience 1"):
        protocol.check_steps({"found": found, "impatient": {0: trained(30, max_steps=300, patience=1)}},
                             reference="found")
    with pytest.raises(ValueError, match="arm 'timed' seed 0: its budget allowed 50"):  # a time budget stopped it
        protocol.check_steps({"found": found, "timed": {0: trained(50, max_steps=300, patience=3,
                                                                   stopped_by_time=True)}}, reference="found")
    with pytest.raises(ValueError, match="reference 'missing'"):
        protocol.check_steps({"found": found}, reference="missing")


def test_still_improving_counts_the_trainings_the_epoch_cap_stopped_while_they_improved():
    def run(epochs, best, *, max_epochs=6, patience=2):
        return TrialResult(fitness=0.5, metrics={"steps": 10 * epochs, "max_steps": 10 * max_epochs,
                                                 "epochs_trained": epochs, "best_epoch": best, "patience": patience})

    results = {0: run(6, 6), 1: run(6, 4), 2: run(4, 2), 3: run(6, 6), 4: TrialResult.failed("boom"),
               5: TrialResult(fitness=0.5, metrics={"steps": 60})}  # no patience: only the budget could stop it
    assert protocol.still_improving(results) == (2, 4)
    assert protocol.still_improving({0: run(6, 5), 1: run(5, 5)}) == (0, 2)  # stopped by patience at its best


def test_the_comparison_says_how_binding_the_epoch_cap_was():
    def run(best):
        return TrialResult(fitness=0.5, metrics={"steps": 60, "max_steps": 60, "epochs_trained": 6,
                                                 "best_epoch": best, "patience": 2})

    runs = {"found": {0: run(6), 1: run(3)}, "baseline": {0: run(6), 1: run(6)},
            "no patience": {0: TrialResult(fitness=0.5, metrics={"steps": 60})}}
    assert comparison.still_improving(runs) == {"found": {"still_improving": 1, "trainings": 2},
                                                "baseline": {"still_improving": 2, "trainings": 2}}
    text = comparison.still_improving_text(runs)
    assert text.startswith("Still improving when the epoch cap stopped them") and text.endswith(
        "found 1 of 2, baseline 2 of 2.")
    assert comparison.still_improving_text({"no patience": runs["no patience"]}) == ""


def dense(width):
    import keras

    inputs = keras.Input((16,))
    return keras.Model(inputs, keras.layers.Dense(max(1, round(64 * width)))(inputs))


def test_flops_matching_accepts_within_ten_percent_and_refuses_more():
    protocol.check_flops(110, 100)
    protocol.check_flops(100, 110)  # symmetric: the order of a pair does not matter
    with pytest.raises(ValueError, match=r"width x2 has 111 FLOPs and depth x2 100 FLOPs \(\+11.0%\): not "
                                         r"FLOPs-matched within 10%"):
        protocol.check_flops(111, 100, label="width x2", target="depth x2")
    match = protocol.match_flops(dense, target_flops=16 * 20)
    assert round(64 * match.width) == 20 and (match.flops, match.target_flops, match.ratio) == (320, 320.0, 1.0)
    with pytest.raises(ValueError, match=r"FLOPs and target 1.6e\+04 FLOPs"):  # out of reach: 64 units at most
        protocol.match_flops(dense, target_flops=16 * 1000)


def test_every_seed_gets_its_own_matched_width_and_trains_at_it():
    matches = protocol.match_per_seed(dense, {0: 16 * 10, 1: 16 * 40, 2: 16 * 10})
    assert {seed: round(64 * m.width) for seed, m in matches.items()} == {0: 10, 1: 40, 2: 10}
    assert all(m.flops == m.target_flops for m in matches.values())
    with pytest.raises(ValueError, match=r"\(seed 1\)"):
        protocol.match_per_seed(dense, {0: 16 * 10, 1: 16 * 1000})
    results = protocol.train_matched("r2plus1d-18", matches, executor="inprocess",
                                     options={**OPTIONS, "task": {"learning_rate": 0.001}}, function=FUNCTION)
    widths = {seed: r.metrics["model"]["model_options"]["width_multiplier"] for seed, r in results.items()}
    assert widths == {seed: m.width for seed, m in matches.items()}
    assert protocol.network_job(types.SimpleNamespace(key="genome"))[1] == protocol.EVALUATE_TRIAL
