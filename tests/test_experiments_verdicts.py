"""Verdicts read the interval only, need the exact test to agree, and round-trip through results.json."""

from __future__ import annotations

import json

import pytest

from videonas import jsonio
from videonas.experiments import stats, verdicts

BEATS = verdicts.Claim(text="evolution finds better nets than random search")
SEVEN_UP = ([60, 62, 58, 65, 61, 63, 59], [50, 51, 49, 52, 50, 53, 48])


def _compare(claim, a, b, **options):
    return verdicts.compare(question="Does evolution beat random search?", claim=claim, a=a, b=b, unit="points",
                            **options)


def test_a_clear_gain_over_enough_seeds_is_supported_and_a_clear_loss_contradicted():
    supported = _compare(BEATS, *SEVEN_UP)
    assert supported.verdict == "supported" and supported.low > 0 and supported.p_value < 0.025
    contradicted = _compare(BEATS, SEVEN_UP[1], SEVEN_UP[0])
    assert contradicted.verdict == "contradicted" and contradicted.high < 0


def test_an_interval_that_straddles_zero_is_inconclusive():
    verdict = _compare(BEATS, [60, 50, 62, 49, 58, 51, 55], [55, 55, 55, 55, 55, 55, 55])
    assert verdict.low < 0 < verdict.high
    assert verdict.verdict == "inconclusive" and "includes the claim's boundary" in verdict.reason


def test_an_interval_touching_zero_does_not_support_a_gain():
    estimate = stats.Estimate(value=0.5, low=0.0, high=1.0, n=8, values_a=(1.0,) * 8, values_b=(0.5,) * 8)
    assert verdicts.judge(BEATS, estimate, question="q").verdict == "inconclusive"


def test_too_few_seeds_for_the_exact_test_is_inconclusive_even_when_the_bootstrap_clears_zero():
    verdict = _compare(BEATS, [60, 62, 58], [50, 51, 49])
    assert verdict.low > 0  # the bootstrap alone would call it
    assert verdict.verdict == "inconclusive" and verdict.p_value == pytest.approx(1 / 8)
    assert "3 seeds" in verdict.reason


def test_one_seed_all_equal_values_and_failed_seeds():
    one = _compare(BEATS, [70], [50])
    assert one.verdict == "inconclusive" and one.low is None and "one seed" in one.reason
    equal = _compare(BEATS, [50] * 8, [50] * 8)
    assert equal.low == equal.high == 0 and equal.verdict == "inconclusive"
    failed = _compare(BEATS, [*SEVEN_UP[0], None], [*SEVEN_UP[1], 40])
    assert failed.dropped == 1 and failed.n == 7 and failed.verdict == "supported"


def test_a_margin_raises_the_bar():
    claim = verdicts.Claim(text="evolution gains more than 20 points", margin=20)
    assert _compare(claim, *SEVEN_UP).verdict == "contradicted"


def test_equivalence_within_a_margin():
    within = verdicts.Claim(text="the two are within 3 points", kind="equivalent", margin=3)
    close = _compare(within, [50.0, 51.0, 49.5, 50.5, 50.2, 49.8], [50.1, 50.6, 49.7, 50.2, 50.0, 50.0])
    assert close.verdict == "supported"
    far = _compare(within, *SEVEN_UP)
    assert far.verdict == "contradicted" and far.low > 3
    assert _compare(within, [50, 56, 44, 53, 47, 50], [50] * 6).verdict == "inconclusive"


def test_ratio_claims_on_unpaired_timings_and_exact_counts():
    faster = verdicts.Claim(text="TVN is at least 10x faster", kind="ratio_at_least", margin=10, paper_figure=54,
                            paper_unit="x")
    verdict = _compare(faster, [300, 310, 305, 290, 320], [10, 11, 10.5, 9.8, 10.2], paired=False)
    assert verdict.verdict == "supported" and verdict.low >= 10 and verdict.paper_figure == 54
    assert _compare(faster, [50, 52, 49, 51, 50], [10, 11, 10.5, 9.8, 10.2], paired=False).verdict == "contradicted"
    cheaper = verdicts.Claim(text="the ensemble is cheaper", kind="ratio_at_least", margin=1)
    exact = verdicts.judge(cheaper, stats.exact(80e6, 50e6, kind="ratio"), question="q")
    assert exact.verdict == "supported" and exact.method == "exact"
    with pytest.raises(ValueError, match="needs a 'ratio' estimate"):
        verdicts.judge(cheaper, stats.exact(1.0, 2.0), question="q")


def test_verdicts_round_trip_through_strict_json():
    verdict = _compare(BEATS, [70], [50], noise_floor=1.5)
    data = json.loads(jsonio.dumps(verdict.to_dict()))
    assert verdicts.Verdict.from_dict(data) == verdict
    with pytest.raises(ValueError, match=r"verdict has unknown keys \['colour'\]"):
        verdicts.Verdict.from_dict({**data, "colour": "green"})
    with pytest.raises(ValueError, match="verdict.verdict must be one of"):
        verdicts.Verdict.from_dict({**data, "verdict": "agrees"})
    with pytest.raises(ValueError, match="'supported' needs an interval"):
        verdicts.Verdict.from_dict({**data, "verdict": "supported"})
    with pytest.raises(ValueError, match="verdict.low must be a finite number or None"):
        verdicts.Verdict.from_dict({**data, "low": float("nan"), "high": 1.0})


def test_claims_validate_their_fields():
    with pytest.raises(ValueError, match="claim.kind must be one of"):
        verdicts.Claim(text="x", kind="better")
    with pytest.raises(ValueError, match="claim.margin of a 'ratio_at_least' claim must be positive, got 0"):
        verdicts.Claim(text="x", kind="ratio_at_least", margin=0)
    with pytest.raises(ValueError, match="claim.text must be a non-empty string"):
        verdicts.Claim(text="")
