"""Retraining one model over seeds on an executor: the noise floor, hand-made baselines, width matching."""

from __future__ import annotations

import pytest

from videonas.experiments import retrain
from videonas.search.store import TrialResult
from videonas.search.synthetic import ToySpace


def evaluate(genome, *, seed, **options):
    return TrialResult(fitness=0.5, metrics={"test": {"accuracy": 0.5 + (seed % 4) / 100, "num_clips": 4}},
                       params=options["task"]["width"])


def test_retrain_runs_the_same_model_once_per_seed():
    genome = ToySpace(length=4, choices=2).sample(__import__("numpy").random.default_rng(0))
    results = retrain.retrain(genome, seeds=[3, 1, 2], executor="inprocess", options={"task": {"width": 7}},
                              function="test_experiments_retrain:evaluate")
    assert list(results) == [3, 1, 2] and all(r.params == 7 for r in results.values())
    scores = retrain.held_out_scores(results)
    assert scores == {seed: 0.5 + (retrain.training_seed(seed) % 4) / 100 for seed in (3, 1, 2)}
    assert retrain.noise_floor({0: results[3]}) is None
    with pytest.raises(ValueError, match="seeds"):
        retrain.retrain(genome, seeds=[1, 1], executor="inprocess", options={})


def test_failed_results_have_no_score():
    results = {0: TrialResult.failed("boom"), 1: TrialResult(fitness=0.1, metrics={"test": {"mAP": 0.2}})}
    assert retrain.held_out_scores(results) == {0: None, 1: 0.2}


def test_baseline_names_and_widths_are_checked():
    assert retrain.Baseline("two-stream", 0.25).label == "two-stream x0.25"
    with pytest.raises(ValueError, match="width_multiplier"):
        retrain.Baseline("two-stream", 0.0)
    with pytest.raises(ValueError, match="name"):
        retrain.Baseline("")


def test_match_width_finds_the_closest_flops():
    import keras

    def build(width):
        inputs = keras.Input((16,))
        return keras.Model(inputs, keras.layers.Dense(max(1, round(64 * width)))(inputs))

    width, flops = retrain.match_width(build, target_flops=16 * 20, low=1 / 64, high=1.0)
    assert round(64 * width) == 20 and flops == 16 * 20
    assert retrain.match_width(build, target_flops=10**9, low=1 / 64, high=1.0)[0] == 1.0  # out of range: the end
    with pytest.raises(ValueError, match="width range"):
        retrain.match_width(build, target_flops=100.0, low=1.0, high=0.5)


@pytest.mark.slow
def test_a_baseline_trains_on_the_executor_with_the_candidates_recipe_and_scores_test():
    task = {"dataset": "embedded:smoke", "num_frames": 2, "image_size": 16, "batch_size": 8, "max_train_clips": 16,
            "max_val_clips": 16, "run_eagerly": True}
    results = retrain.train_baselines(retrain.Baseline("r2plus1d-18", 1 / 32), seeds=[0, 1], executor="inprocess",
                                      task=task, budget={"epochs": 1})
    for result in results.values():
        assert result.status == "done" and result.metrics["num_train_clips"] == 16
        assert result.metrics["test"]["num_clips"] == 16 and result.flops > 0
    assert set(retrain.held_out_scores(results)) == {0, 1}
