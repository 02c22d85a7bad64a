"""Rejection before build: every family's candidate is checked on its genome's estimate (params, FLOPs, training
memory) before a weight is allocated, and every search runs under a training-memory ceiling, the default one where the
configuration sets none. Regression tests for the issue's two failures: EvaNet-A at width 8 under ``max_params``
ended in an out-of-memory error while building, and an unconstrained TVN genome of 55 billion weights was built."""

from __future__ import annotations

import pytest

from videonas import families, models
from videonas.genome import published
from videonas.genome.tvn import TVNBlock, TVNGenome
from videonas.search import run_search
from videonas.search.constraints import DEFAULT_MAX_TRAIN_MEMORY_MIB, MIB, Constraints, MaxTrainMemory
from videonas.task import TrialOptions
from videonas.train import evaluate_trial

SMOKE_TASK = {"dataset": "embedded:smoke", "num_frames": 8, "image_size": 64, "batch_size": 16}
# Valid, and about 55 billion weights: the widest blocks the genome allows, eight repeats each, every extra layer on.
HUGE_TVN = TVNGenome(image_size=64, num_frames=16, frame_stride=1, blocks=tuple(
    TVNBlock(spatial_kernel=7, temporal_kernel=8, filters=2048, expand=8, context_gate=True, non_local=True,
             skip=True, repeats=8) for _ in range(5)))


class Built(Exception):
    """Raised by the stand-in builder: the test never trains, it only sees what would have been built."""


@pytest.fixture
def builds(monkeypatch):
    """Every genome that reaches ``videonas.models.build_model``, which raises instead of building."""
    seen = []

    def build_model(genome, **kwargs):
        seen.append((genome, kwargs))
        raise Built(genome.key)

    monkeypatch.setattr(models, "build_model", build_model)
    return seen


def test_evanet_a_at_width_8_under_max_params_is_rejected_before_build(builds):
    options = TrialOptions.from_dict({"task": {**SMOKE_TASK, "width_multiplier": 8.0},
                                      "constraints": {"max_params": 100000}})
    result = evaluate_trial(published.load("EvaNet-A"), seed=0, options=options)
    assert builds == []
    assert (result.status, result.rejected_by) == ("rejected", "max_params")
    assert result.params > 2 * 10**9 and result.error == f"params {result.params:g} > limit 100000"
    assert result.metrics["rejected_before_build"] and result.metrics["estimate"]["params"] == result.params


def test_an_unconstrained_tvn_genome_of_billions_of_weights_is_rejected_by_the_default_ceiling(builds):
    estimate = families.get("tvn").estimate_cost(HUGE_TVN, num_classes=13, batch_size=16)
    assert estimate["params"] > 5 * 10**10
    result = evaluate_trial(HUGE_TVN, seed=0, options=TrialOptions.from_dict({"task": SMOKE_TASK}))
    assert builds == []
    assert (result.status, result.rejected_by) == ("rejected", "max_train_memory_mib")
    assert "max_train_memory_mib" in result.error and f"limit {DEFAULT_MAX_TRAIN_MEMORY_MIB} MiB" in result.error
    assert result.metrics["estimate"]["train_memory_bytes"] > DEFAULT_MAX_TRAIN_MEMORY_MIB * MIB


def test_the_ceiling_is_configurable_and_applies_to_the_task_batch(builds):
    small = published.load("TVN-1")
    small = families.get("tvn").with_input(small, num_frames=2, image_size=64)
    memory = families.get("tvn").estimate_cost(small, num_classes=13, batch_size=16)["train_memory_bytes"]
    limit = (memory + 1) / MIB  # just above the estimate at the task's batch of 16
    with pytest.raises(Built):  # under the ceiling: it goes on to the build
        evaluate_trial(small, seed=0, options=TrialOptions.from_dict(
            {"task": SMOKE_TASK, "constraints": {"max_train_memory_mib": limit}}))
    doubled = TrialOptions.from_dict({"task": {**SMOKE_TASK, "batch_size": 32},
                                      "constraints": {"max_train_memory_mib": limit}})
    assert evaluate_trial(small, seed=0, options=doubled).rejected_by == "max_train_memory_mib"
    assert len(builds) == 1


def test_every_configuration_carries_a_ceiling():
    assert Constraints().limit("max_train_memory_mib") == DEFAULT_MAX_TRAIN_MEMORY_MIB
    assert Constraints.from_dict({"max_params": 10}).to_dict() == {
        "max_params": 10, "max_train_memory_mib": DEFAULT_MAX_TRAIN_MEMORY_MIB}
    assert Constraints.from_dict({"max_train_memory_mib": 512}).to_dict() == {"max_train_memory_mib": 512}
    assert Constraints((MaxTrainMemory(8),)).violation({"train_memory_bytes": 9 * MIB}).rejected_by == \
        "max_train_memory_mib"
    with pytest.raises(ValueError, match="max_train_memory_mib"):
        Constraints.from_dict({"max_train_memory_mib": 0})


def test_params_and_flops_are_rejected_on_an_estimate_only_past_the_familys_tolerance():
    constraints = Constraints.from_dict({"max_params": 1000})
    assert constraints.violation({"params": 1050}, tolerance=0.1) is None
    assert constraints.violation({"params": 1150}, tolerance=0.1).rejected_by == "max_params"
    assert constraints.violation({"params": 1050}).rejected_by == "max_params"  # the built model's exact count


# Unconstrained searches (no ``constraints`` key) on the smoke data whose spaces or widths sample both candidates
# under the default ceiling and far above it: the ones above are stored as rejected by the ceiling, never built.
SEARCHES = {
    "evanet": ({"family": "evanet"}, {"width_multiplier": 2.0}),
    "assemblenet": ({"family": "assemblenet", "options": {
        "filters_per_level": [[8, 1024], [16], [32], [48]]}}, {}),
    "tvn": ({"family": "tvn", "options": {"image_sizes": [64], "frame_counts": [8], "filters": [16, 2048],
                                          "expands": [1, 8], "max_blocks": 3, "allow_non_local": False}}, {}),
}


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_an_unconstrained_search_never_builds_a_candidate_above_the_default_ceiling(name, builds, tmp_path):
    space, task = SEARCHES[name]
    experiment = run_search(name=name, store=str(tmp_path / "search.sqlite"), space=space, num_trials=6,
                            batch_size=6, seed=1, strategy={"name": "random"}, task={**SMOKE_TASK, **task},
                            budget={"epochs": 1}, executor="inprocess", progress=False)
    trials = experiment.trials()
    assert experiment.trial_options().constraints.limit("max_train_memory_mib") == DEFAULT_MAX_TRAIN_MEMORY_MIB
    family, ceiling = families.get(name), DEFAULT_MAX_TRAIN_MEMORY_MIB * MIB
    for genome, kwargs in builds:
        estimate = family.estimate_cost(genome, num_classes=kwargs["num_classes"], batch_size=16,
                                        num_frames=kwargs["num_frames"], image_size=kwargs["image_size"],
                                        width_multiplier=kwargs["width_multiplier"])
        assert estimate["train_memory_bytes"] <= ceiling
    rejected = [trial for trial in trials if trial.status == "rejected"]
    assert rejected and all(trial.rejected_by == "max_train_memory_mib" for trial in rejected)
    assert all(trial.metrics["rejected_before_build"] for trial in rejected)
    assert builds  # the search built the candidates under the ceiling (the stand-in builder failed them)
    assert len(builds) + len(rejected) == len(trials)


def test_a_family_without_an_estimator_is_held_to_the_ceiling_on_its_built_model(monkeypatch):
    """A contributed family may have no ``cost`` function: its model is built, then measured before any training."""
    from tiny_family import TINY, TinyGenome

    monkeypatch.setitem(families.FAMILIES, "tiny", TINY)
    assert TINY.estimate_cost(TinyGenome(8), num_classes=3) is None
    options = TrialOptions.from_dict({"task": {**SMOKE_TASK, "num_frames": 2},
                                      "constraints": {"max_train_memory_mib": 0.01}})
    result = evaluate_trial(TinyGenome(8), seed=0, options=options)
    assert (result.status, result.rejected_by) == ("rejected", "max_train_memory_mib")
    assert result.metrics["estimate"]["train_memory_bytes"] > 0.01 * MIB and "fit_s" not in result.metrics["timings"]
