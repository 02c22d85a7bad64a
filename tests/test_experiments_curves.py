"""Best-so-far curves over seeds: never decreasing per seed, median with an interquartile band, per-seed finals."""

from __future__ import annotations

import types

import numpy
import pytest

from videonas.experiments import curves

RUNS = [[0.1, None, 0.5, 0.3], [0.2, 0.25], [None, 0.4, 0.6, float("nan")], [0.3, 0.35, 0.3, 0.9]]


def test_every_seed_curve_never_decreases_and_summaries_are_ordered():
    band = curves.seed_band(RUNS)
    for curve in band["curves"]:
        finite = curve[numpy.isfinite(curve)]
        assert numpy.all(numpy.diff(finite) >= 0)
    numpy.testing.assert_array_equal(band["trials"], [1, 2, 3, 4])
    for lower, upper in (("low", "q25"), ("q25", "median"), ("median", "q75"), ("q75", "high")):
        assert numpy.all(band[lower] <= band[upper])
    # Trial 4: seeds at 0.5, 0.25 (extended), 0.6, 0.9 -> quartiles by linear interpolation.
    assert band["median"][-1] == pytest.approx(0.55)
    assert band["q25"][-1] == pytest.approx(numpy.percentile([0.5, 0.25, 0.6, 0.9], 25))
    assert band["q75"][-1] == pytest.approx(numpy.percentile([0.5, 0.25, 0.6, 0.9], 75))


def test_a_trial_where_no_seed_has_a_value_stays_nan():
    band = curves.seed_band([[None, 0.2], [None, 0.4]])
    assert numpy.isnan(band["median"][0]) and band["median"][1] == pytest.approx(0.3)


def test_a_late_starting_seed_cannot_pull_the_median_down():
    band = curves.seed_band([[0.5, 0.5], [0.6, 0.6], [None, 0.1]])
    assert band["median"][0] == pytest.approx(0.5) and band["median"][1] == pytest.approx(0.5)
    for name in ("low", "q25", "median", "q75", "high"):
        assert numpy.all(numpy.diff(band[name]) >= 0), name
    assert numpy.isnan(band["curves"][2][0])  # the seed's own curve still starts at its first finished trial


def test_final_and_mean_best_per_seed():
    assert curves.final_best(RUNS) == [0.5, 0.25, 0.6, 0.9]
    assert curves.final_best([[None, None]]) == [None]
    # Seed 3: best-so-far 0.3, 0.35, 0.35, 0.9; a seed that finishes late is charged its first value before it.
    means = curves.mean_best(RUNS + [[None, None]])
    assert means[3] == pytest.approx((0.3 + 0.35 + 0.35 + 0.9) / 4)
    assert means[2] == pytest.approx((0.4 + 0.4 + 0.6 + 0.6) / 4)
    assert means[4] is None


def test_seed_band_needs_a_seed():
    with pytest.raises(ValueError, match="at least one seed"):
        curves.seed_band([])


def _trial(index, *, round, status="done", fitness=None, epochs=None, rungs=None, reused=False):
    metrics = {"rungs": rungs} if rungs else {}
    if reused:
        metrics["reused_from"] = 0
    return types.SimpleNamespace(index=index, round=round, status=status, fitness=fitness, epochs=epochs,
                                 metrics=metrics)


def test_fitness_by_epoch_counts_rungs_as_they_are_trained_and_only_top_rung_fitness():
    # Round 0 of a (1, 3) search: three candidates train 1 epoch each, the best goes on to 3 (2 more epochs).
    trials = [
        _trial(0, round=0, fitness=0.3, epochs=1, rungs=[{"rung": 0, "epochs": 1, "fitness": 0.3}]),
        _trial(1, round=0, fitness=0.6, epochs=3, rungs=[{"rung": 0, "epochs": 1, "fitness": 0.4},
                                                         {"rung": 1, "epochs": 3, "fitness": 0.6}]),
        _trial(2, round=0, status="rejected"),  # rejected before training: costs nothing
        _trial(3, round=0, fitness=0.2, epochs=1, rungs=[{"rung": 0, "epochs": 1, "fitness": 0.2}]),
        _trial(4, round=1, fitness=0.7, epochs=3, rungs=[{"rung": 0, "epochs": 1, "fitness": 0.5},
                                                         {"rung": 1, "epochs": 3, "fitness": 0.7}]),
        _trial(5, round=1, fitness=0.7, epochs=3, reused=True),  # a copy of a duplicate network: free
    ]
    curve = curves.fitness_by_epoch(trials, top_epochs=3)
    # 3 epochs of rung 0, then 2 for trial 1's promotion (at 5), then round 1: 1 + 2 epochs (at 8).
    assert curve == [None, None, None, None, 0.6, None, None, 0.7]
    assert list(curves.best_so_far(curve)[4:]) == [0.6, 0.6, 0.6, 0.7]


def test_fitness_by_epoch_without_rungs_counts_every_trained_candidate():
    trials = [_trial(0, round=0, fitness=0.5, epochs=2), _trial(1, round=0, status="failed"),
              _trial(2, round=1, fitness=0.4, epochs=2)]
    assert curves.fitness_by_epoch(trials) == [None, 0.5, None, 0.4]
