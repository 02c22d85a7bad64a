"""Paired and unpaired comparisons over seeds: intervals, exact permutation p-values, failed seeds, tiny samples."""

from __future__ import annotations

import math

import numpy
import pytest

from videonas.experiments import stats


def test_paired_interval_holds_the_mean_difference_and_repeats_exactly():
    a, b = [0.61, 0.58, 0.66, 0.63, 0.60, 0.65], [0.55, 0.57, 0.58, 0.60, 0.52, 0.59]
    first = stats.paired(a, b, seed=3)
    again = stats.paired(a, b, seed=3)
    assert first == again  # seeded bootstrap: the same data give the same interval
    assert first.value == pytest.approx(numpy.mean(numpy.subtract(a, b)))
    assert first.low < first.value < first.high
    assert first.n == 6 and first.dropped == 0 and first.paired


def test_paired_p_value_enumerates_every_sign_flip():
    estimate = stats.paired([3.0, 2.0, 4.0], [1.0, 1.0, 1.0])
    # All three differences positive: only the identity (of 8 sign patterns) is as large.
    assert estimate.p_value(boundary=0.0, alternative="greater") == pytest.approx(1 / 8)
    assert estimate.p_value(boundary=0.0, alternative="less") == pytest.approx(1.0)
    # Shifting the boundary above every difference turns them all negative.
    assert estimate.p_value(boundary=10.0, alternative="less") == pytest.approx(1 / 8)


def test_failed_seeds_are_dropped_pairwise_and_counted():
    estimate = stats.paired([0.5, None, 0.7, float("nan"), 0.6], [0.4, 0.3, float("nan"), 0.2, 0.5])
    assert estimate.n == 2 and estimate.dropped == 3
    assert estimate.values_a == (0.5, 0.6) and estimate.values_b == (0.4, 0.5)


def test_mappings_pair_by_seed_and_a_missing_seed_counts_as_dropped():
    estimate = stats.paired({0: 0.5, 1: 0.6, 2: 0.9}, {1: 0.4, 0: 0.3})
    assert estimate.values_a == (0.5, 0.6) and estimate.values_b == (0.3, 0.4)
    assert estimate.dropped == 1
    with pytest.raises(ValueError, match="both be sequences or both mappings"):
        stats.paired({0: 0.5}, [0.5])


def test_one_seed_and_no_seed_have_no_interval_and_say_why():
    one = stats.paired([0.7], [0.5])
    assert one.value == pytest.approx(0.2) and one.low is None and one.high is None and not one.defined
    assert "one seed" in one.reason and one.p_value(boundary=0.0, alternative="greater") is None
    none = stats.paired([None, 0.5], [0.4, float("nan")])
    assert none.value is None and none.n == 0 and "2 dropped" in none.reason


def test_all_equal_differences_give_a_zero_width_interval_at_the_value():
    estimate = stats.paired([0.5, 0.6, 0.7], [0.4, 0.5, 0.6])
    assert estimate.low == estimate.high == estimate.value == pytest.approx(0.1)


def test_unpaired_compares_arms_of_different_sizes():
    estimate = stats.unpaired([10.0, 11.0, 12.0, 13.0], [1.0, 2.0, 3.0])
    assert estimate.value == pytest.approx(11.5 - 2.0) and not estimate.paired
    assert estimate.low > 0
    # 35 ways to split 7 values into 4 and 3; only the observed split is as extreme.
    assert estimate.p_value(boundary=0.0, alternative="greater") == pytest.approx(1 / 35)
    assert stats.unpaired([1.0], [2.0, 3.0]).low is None


def test_ratio_is_the_ratio_of_geometric_means_and_needs_positive_values():
    estimate = stats.paired([100.0, 400.0], [10.0, 10.0], kind="ratio")
    assert estimate.value == pytest.approx(math.sqrt(10 * 40))
    assert estimate.low == pytest.approx(10.0) and estimate.high == pytest.approx(40.0)
    with pytest.raises(ValueError, match="kind='ratio' needs positive values, got 0.0"):
        stats.paired([1.0, 0.0], [1.0, 1.0], kind="ratio")


def test_exact_figures_have_their_value_as_interval():
    estimate = stats.exact(80e6, 50e6, kind="ratio")
    assert estimate.value == estimate.low == estimate.high == pytest.approx(1.6)
    assert estimate.method == "exact" and estimate.p_value(boundary=1.0, alternative="greater") is None


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="kind must be one of"):
        stats.paired([1.0, 2.0], [1.0, 2.0], kind="log")
    with pytest.raises(ValueError, match="confidence must be between 0 and 1, got 95"):
        stats.paired([1.0, 2.0], [1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="one value per seed on both sides, got 2 and 1"):
        stats.paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="alternative must be 'greater' or 'less'"):
        stats.paired([1.0, 2.0], [0.0, 1.0]).p_value(boundary=0.0, alternative="two-sided")


def test_spread_is_the_sample_standard_deviation_of_finite_values():
    assert stats.spread([1.0, 3.0, None, float("nan")]) == pytest.approx(math.sqrt(2))
    assert stats.spread([1.0]) is None
