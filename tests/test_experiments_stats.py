"""Paired and unpaired comparisons over seeds: t intervals, exact and t p-values, ties, power, Holm, failed seeds."""

from __future__ import annotations

import math

import numpy
import pytest
import scipy.stats

from videonas.experiments import stats


def test_paired_interval_holds_the_mean_difference_and_repeats_exactly():
    a, b = [0.61, 0.58, 0.66, 0.63, 0.60, 0.65], [0.55, 0.57, 0.58, 0.60, 0.52, 0.59]
    first = stats.paired(a, b, seed=3)
    assert first == stats.paired(a, b, seed=3)
    assert first.value == pytest.approx(numpy.mean(numpy.subtract(a, b)))
    assert first.low < first.value < first.high
    assert first.n == 6 and first.dropped == 0 and first.paired and first.method == "t"


def test_the_interval_is_students_t_on_the_differences_and_welch_unpaired():
    a, b = [0.61, 0.58, 0.66, 0.63, 0.60, 0.65], [0.55, 0.57, 0.58, 0.60, 0.52, 0.59]
    reference = scipy.stats.ttest_1samp(numpy.subtract(a, b), 0.0).confidence_interval(0.95)
    estimate = stats.paired(a, b)
    assert (estimate.low, estimate.high) == pytest.approx((reference.low, reference.high))
    welch = scipy.stats.ttest_ind(a, b[:4], equal_var=False)
    unpaired = stats.unpaired(a, b[:4])
    interval = welch.confidence_interval(0.95)
    assert unpaired.method == "welch" and (unpaired.low, unpaired.high) == pytest.approx((interval.low, interval.high))
    assert unpaired.t_p_value(boundary=0.0, alternative="greater") == pytest.approx(
        scipy.stats.ttest_ind(a, b[:4], equal_var=False, alternative="greater").pvalue)
    assert estimate.t_p_value(boundary=0.01, alternative="greater") == pytest.approx(
        scipy.stats.ttest_1samp(numpy.subtract(a, b), 0.01, alternative="greater").pvalue)


def test_the_percentile_bootstrap_is_refused_below_twenty_values():
    with pytest.raises(ValueError, match="interval='bootstrap' needs at least 20 values per arm .* got 6"):
        stats.paired([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.0] * 6, interval="bootstrap")
    rng = numpy.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 25), rng.normal(0.0, 1.0, 25)
    bootstrap, t = stats.paired(a, b, interval="bootstrap"), stats.paired(a, b)
    assert bootstrap.method == "bootstrap" and bootstrap.low == pytest.approx(t.low, abs=0.3)


def test_ties_carry_no_sign_and_raise_the_smallest_attainable_p():
    # Five positive differences and one zero: the zero flips to itself, so 2^5 distinct sign patterns remain.
    estimate = stats.paired({s: 60.0 + (s > 0) for s in range(6)}, {s: 60.0 for s in range(6)})
    assert estimate.ties(0.0) == 1 and estimate.min_p_value(0.0) == pytest.approx(1 / 32)
    assert estimate.p_value(boundary=0.0, alternative="greater") == pytest.approx(1 / 32)
    # 0.3 - 0.1 differs from 0.2 by rounding only: still a tie with a boundary of 0.2.
    assert stats.paired([0.3, 0.5, 0.6], [0.1, 0.1, 0.1]).ties(0.2) == 1
    assert stats.paired([3.0, 2.0, 4.0], [1.0, 1.0, 1.0]).min_p_value() == pytest.approx(1 / 8)
    assert stats.unpaired([1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 0.7]).min_p_value() == pytest.approx(1 / 35)


def test_detectable_effect_is_the_t_power_approximation():
    a, b = [0.61, 0.58, 0.66, 0.63, 0.60, 0.65], [0.55, 0.57, 0.58, 0.60, 0.52, 0.59]
    estimate = stats.paired(a, b)
    differences = numpy.subtract(a, b)
    standard_error = numpy.std(differences, ddof=1) / math.sqrt(6)
    expected = (scipy.stats.t.ppf(0.975, 5) + scipy.stats.t.ppf(0.8, 5)) * standard_error
    assert estimate.detectable() == pytest.approx(expected)
    # A noncentral t with that shift is detected about 80% of the time.
    power = scipy.stats.nct.sf(scipy.stats.t.ppf(0.975, 5), 5, expected / standard_error)
    assert 0.75 < power < 0.82
    assert estimate.detectable(equivalence=True) > estimate.detectable()
    ratio = stats.paired([100.0, 400.0, 250.0], [10.0, 10.0, 10.0], kind="ratio")
    assert ratio.detectable() > 1.0
    assert stats.paired([1.0], [0.0]).detectable() is None
    with pytest.raises(ValueError, match="power must be between 0 and 1, got 80"):
        estimate.detectable(power=80)


def test_holm_against_a_hand_worked_example():
    # Sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04, raised to 0.06 (step-down).
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # An untested question (None) is not counted in m; adjusted p-values never exceed 1.
    assert stats.holm([0.5, None, 0.6]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert stats.holm([]) == []
    with pytest.raises(ValueError, match="p_values must be numbers from 0 to 1 or None, got 1.5"):
        stats.holm([1.5])


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
    # Every value given is kept under its seed, the missing one as None.
    assert estimate.per_seed_a == {"0": 0.5, "1": 0.6, "2": 0.9}
    assert estimate.per_seed_b == {"0": 0.3, "1": 0.4, "2": None}
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
    # The t interval on the log ratios, mapped back: log 20 +- t(0.975, 1) x (log 4 / 2).
    half = scipy.stats.t.ppf(0.975, 1) * math.log(4) / 2
    assert estimate.low == pytest.approx(20 * math.exp(-half)) and estimate.high == pytest.approx(20 * math.exp(half))
    with pytest.raises(ValueError, match="kind='ratio' needs positive values, got 0.0"):
        stats.paired([1.0, 0.0], [1.0, 1.0], kind="ratio")


def test_exact_figures_have_their_value_as_interval():
    estimate = stats.exact(80e6, 50e6, kind="ratio")
    assert estimate.value == estimate.low == estimate.high == pytest.approx(1.6)
    assert estimate.method == "exact" and estimate.p_value(boundary=1.0, alternative="greater") is None
    assert estimate.per_seed_a == {"figure": 80e6} and estimate.min_p_value() is None


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
