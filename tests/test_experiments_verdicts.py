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


def test_too_few_seeds_for_the_exact_test_is_inconclusive_even_when_the_interval_clears_zero():
    verdict = _compare(BEATS, [60, 62, 58], [50, 51, 49])
    assert verdict.low > 0  # the t interval alone would call it
    assert verdict.verdict == "inconclusive" and verdict.p_value == pytest.approx(1 / 8)
    assert verdict.min_p_value == pytest.approx(1 / 8) and "smallest attainable 0.12" in verdict.reason
    assert "3 seeds" in verdict.reason


def test_every_verdict_stores_both_tests_the_power_statement_and_the_per_seed_values():
    straddling = _compare(BEATS, dict(enumerate([60, 50, 62, 49, 58, 51, 55])), {s: 55 for s in range(7)})
    assert straddling.verdict == "inconclusive" and straddling.test == "A - B > 0 points"
    assert 0.05 < straddling.p_value < 1 and 0.05 < straddling.t_p_value < 1
    # Seed 6 ties (55 against 55): six signed differences are left, so the exact test can reach 1/2^6 at best.
    assert straddling.ties == 1 and straddling.min_p_value == pytest.approx(1 / 2 ** 6) and straddling.method == "t"
    # The power statement: a true gain this large beyond the boundary is found 80% of the time at this n and spread.
    spread = stats.paired(straddling.values_a, straddling.values_b)
    assert straddling.detectable == pytest.approx(spread.detectable()) and straddling.detectable > 5
    assert straddling.values_a["0"] == 60 and straddling.values_b == {str(s): 55.0 for s in range(7)}
    supported = _compare(BEATS, *SEVEN_UP)
    assert supported.decision_p_value == max(supported.p_value, supported.t_p_value) < 0.025
    failed = _compare(BEATS, [70, None, 60], [50, 40, 45])
    assert failed.values_a == {"0": 70.0, "1": None, "2": 60.0} and failed.dropped == 1
    exact = verdicts.judge(verdicts.Claim(text="cheaper", kind="ratio_at_least", margin=1.1),
                           stats.exact(90.0, 30.0, kind="ratio"), question="q")
    assert exact.values_a == {"figure": 90.0} and exact.values_b == {"figure": 30.0}
    assert exact.detectable is None and exact.decision_p_value is None


def test_a_verdict_cannot_be_built_without_per_seed_values_but_old_files_still_read():
    data = _compare(BEATS, *SEVEN_UP).to_dict()
    fields = {key: value for key, value in data.items() if key not in ("values_a", "values_b")}
    with pytest.raises(TypeError, match="values_a"):
        verdicts.Verdict(**fields)
    old = {key: value for key, value in fields.items() if key not in ("paper", "test", "t_p_value", "min_p_value",
                                                                         "ties", "detectable", "power")}
    read = verdicts.Verdict.from_dict(old)
    assert read.values_a is None and read.values_b is None and read.t_p_value is None and read.verdict == "supported"
    with pytest.raises(ValueError, match="verdict.values_a must map seeds"):
        verdicts.Verdict.from_dict({**data, "values_a": {"0": "high"}})
    with pytest.raises(ValueError, match="verdict.paper must be one of"):
        verdicts.Verdict.from_dict({**data, "paper": "ResNet"})


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
    # A gain that clears 0 but not the minimum effect of interest is not "supported".
    small = ([50.3, 50.4, 50.2, 50.5, 50.3, 50.4, 50.2], [50.0] * 7)
    assert _compare(BEATS, *small).verdict == "supported"
    assert _compare(verdicts.Claim(text="a gain of at least 1 point", margin=1), *small).verdict == "contradicted"


def test_equivalence_within_a_margin():
    within = verdicts.Claim(text="the two are within 3 points", kind="equivalent", margin=3)
    close = _compare(within, [50.0, 51.0, 49.5, 50.5, 50.2, 49.8], [50.1, 50.6, 49.7, 50.2, 50.0, 50.0])
    assert close.verdict == "supported" and close.test == "A - B > -3 points and A - B < 3 points"
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
