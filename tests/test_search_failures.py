"""A candidate that raises, diverges, runs out of memory, dies or hangs is stored as failed; the search goes on."""

from __future__ import annotations

import pytest

from videonas.search import Constraints, run_search
from videonas.search.constraints import DEFAULT_MAX_TRAIN_MEMORY_MIB, MaxFlops, MaxLatency, MaxParams
from videonas.search.synthetic import ToySpace

SYNTHETIC = "videonas.search.synthetic:evaluate"


def _run(tmp_path, failures, executor="inprocess", executor_options=None, num_trials=12, **evaluate_options):
    experiment = run_search("failures", space=ToySpace(length=6, choices=6), store=tmp_path / "f.sqlite",
                            num_trials=num_trials, strategy={"name": "mutate-best", "options": {"population_size": 4}},
                            batch_size=4, seed=2,
                            evaluate={"function": SYNTHETIC, "options": {"failures": failures, **evaluate_options}},
                            executor={"kind": executor, "options": executor_options or {}}, progress=False)
    return experiment, [(ToySpace.genome_type.from_json(t.genome).values[0], t) for t in experiment.trials()]


def test_raise_nan_and_memory_error_are_failed_and_search_completes(tmp_path):
    experiment, trials = _run(tmp_path, {"0": "raise", "1": "nan", "2": "memory"})
    assert len(trials) == 12
    expected_error = {0: "RuntimeError: synthetic failure", 1: "non-finite fitness nan", 2: "MemoryError"}
    for first, trial in trials:
        if first in expected_error:
            assert trial.status == "failed" and trial.fitness is None
            assert expected_error[first] in trial.error
        else:
            assert trial.status == "done" and 0.0 <= trial.fitness <= 1.0
    assert {first for first, _ in trials} >= {0, 1, 2} and len(trials) > len(expected_error)
    assert experiment.best(1)[0].status == "done"


def test_constraint_breakers_are_rejected_with_the_measured_figure(tmp_path):
    _, trials = _run(tmp_path, {}, max_params=10_000)
    rejected = [t for _, t in trials if t.status == "rejected"]
    assert rejected and all(t.params > 10_000 and f"params {t.params}" in t.error for t in rejected)
    assert all(t.rejected_by == "max_params" for t in rejected)
    assert all(t.params <= 10_000 for _, t in trials if t.status == "done")


@pytest.mark.slow
def test_timeout_and_dead_worker_are_failed_under_the_subprocess_pool(tmp_path):
    _, trials = _run(tmp_path, {"0": "hang", "1": "exit"}, executor="subprocess",
                     executor_options={"max_workers": 2, "timeout_s": 2.0}, num_trials=8)
    assert len(trials) == 8 and {first for first, _ in trials} >= {0, 1}
    for first, trial in trials:
        if first == 0:
            assert trial.status == "failed" and trial.error.startswith("timeout: exceeded 2 s")
        elif first == 1:
            assert trial.status == "failed" and trial.error == "worker died (exit code 3)"
        else:
            assert trial.status == "done"


def test_constraints_are_named_filters_in_measurement_order():
    constraints = Constraints((MaxLatency(5.0, runs=3), MaxParams(100), MaxFlops(1000)))
    assert [f.name for f in constraints.filters] == ["max_params", "max_flops", "max_train_memory_mib",
                                                     "max_latency_ms"]
    assert constraints.limit("max_flops") == 1000 and constraints.limit("nothing") is None
    assert constraints.violation({"params": 50, "flops": 900, "latency_ms": 4.0}) is None
    rejection = constraints.violation({"params": 150, "flops": 2000})
    assert (rejection.rejected_by, rejection.reason) == ("max_params", "params 150 > limit 100")
    assert constraints.violation({"params": 50, "flops": 2000}).rejected_by == "max_flops"
    assert constraints.violation({"params": 50, "latency_ms": 7.5}).reason == "latency_ms 7.5 > limit 5"
    assert Constraints().violation({"params": 10**12}) is None
    config = {"max_params": 7, "max_latency_ms": 2.5, "latency_runs": 4, "latency_warmup": 1}
    assert Constraints.from_dict(config).to_dict() == {**config, "latency_runtime": "keras",
                                                       "max_train_memory_mib": DEFAULT_MAX_TRAIN_MEMORY_MIB}
    with pytest.raises(ValueError, match="max_params"):
        MaxParams(0)
    with pytest.raises(ValueError, match="max_latency_ms"):
        Constraints.from_dict({"max_latency_ms": -1.0})
    with pytest.raises(ValueError, match="unknown keys"):
        Constraints.from_dict({"max_parameters": 7})
    with pytest.raises(ValueError, match="need max_latency_ms"):
        Constraints.from_dict({"latency_runs": 3})
    with pytest.raises(ValueError, match="latency_runtime need max_latency_ms"):
        Constraints.from_dict({"latency_runtime": "onnxruntime"})
    with pytest.raises(ValueError, match="latency_runtime must be one of .* got 'onnx'"):
        Constraints.from_dict({"max_latency_ms": 5, "latency_runtime": "onnx"})
    onnx = Constraints.from_dict({"max_latency_ms": 5, "latency_runtime": "onnxruntime"})
    assert onnx.filters[-1].runtime == "onnxruntime" and onnx.to_dict()["latency_runtime"] == "onnxruntime"
    with pytest.raises(ValueError, match="twice"):
        Constraints((MaxParams(1), MaxParams(2)))


def test_latency_on_a_deploy_runtime_is_timed_by_the_function_the_caller_passes():
    """The search never imports ``videonas.deploy``: ``check`` times a runtime with the ``time_latency`` it is given."""
    import keras

    inputs = keras.Input((2, 4, 4, 3), name="rgb")
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling3D()(inputs)))
    calls = []

    def fake_timer(model, *, runs, warmup, runtime):
        calls.append((runs, warmup, runtime))
        return {"median_ms": 9.0, "runtime": runtime, "threads": 1, "batch_size": 1, "warmup": warmup,
                "runs": runs, "cv": 0.0, "backend": "tensorflow", "device": "cpu"}

    constraints = Constraints((MaxLatency(5.0, runs=2, warmup=1, runtime="onnxruntime"),))
    details = {}
    figures, rejection = constraints.check(model, details=details, time_latency=fake_timer)
    assert calls == [(2, 1, "onnxruntime")] and figures["latency_ms"] == 9.0
    assert rejection.rejected_by == "max_latency_ms" and details["runtime"] == "onnxruntime"
    with pytest.raises(ValueError, match="latency_runtime 'onnxruntime' needs a time_latency"):
        constraints.check(model)
    figures, rejection = Constraints((MaxLatency(1e6, runs=1, warmup=0),)).check(model)  # Keras: measure's own
    assert figures["latency_ms"] > 0 and rejection is None
