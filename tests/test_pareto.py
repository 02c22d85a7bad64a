"""videonas.pareto: the accuracy-latency front and trial points."""

from __future__ import annotations

import types

from videonas import pareto


def _points(pairs):
    return [{"latency_ms": x, "accuracy": y} for x, y in pairs]


def test_front_keeps_only_points_no_other_beats_on_both():
    points = _points([(5.0, 0.6), (2.0, 0.4), (3.0, 0.4), (1.0, 0.2), (8.0, 0.55), (9.0, 0.7), (2.0, 0.5)])
    # (2, 0.4) and (3, 0.4) lose to (2, 0.5); (8, 0.55) loses to (5, 0.6).
    assert pareto.pareto_front(points) == [3, 6, 0, 5]


def test_front_skips_points_without_figures_and_keeps_the_first_duplicate():
    points = [{"latency_ms": None, "accuracy": 0.9}, {"latency_ms": 1.0, "accuracy": None},
              {"latency_ms": float("nan"), "accuracy": 0.9}, *_points([(2.0, 0.5), (2.0, 0.5), (4.0, 0.5)])]
    assert pareto.pareto_front(points) == [3]
    assert pareto.pareto_front([]) == []
    assert pareto.pareto_front([{"ms": 1.0, "map": 0.3}], x="ms", y="map") == [0]


def test_trial_points_give_an_accuracy_only_to_done_trials():
    def trial(index, status, fitness, latency, metrics):
        return types.SimpleNamespace(index=index, status=status, fitness=fitness, latency_ms=latency,
                                     metrics=metrics, rejected_by=metrics.get("rejected_by"))

    trials = [trial(0, "done", 0.5, 2.0, {"latency": {"runtime": "onnxruntime"}}),
              trial(1, "rejected", None, 30.0, {"rejected_by": "max_latency_ms"}),
              trial(2, "rejected", None, None, {"rejected_by": "max_params"})]
    points = pareto.trial_points(trials, group="evolution")
    assert [(p["index"], p["accuracy"], p["latency_ms"], p["rejected_by"]) for p in points] == [
        (0, 0.5, 2.0, None), (1, None, 30.0, "max_latency_ms"), (2, None, None, "max_params")]
    assert points[0]["runtime"] == "onnxruntime" and points[0]["group"] == "evolution"
