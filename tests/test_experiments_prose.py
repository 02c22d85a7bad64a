"""Conclusions written from verdicts: the wording follows the verdict, numbers carry units, no Python reprs."""

from __future__ import annotations

import re

import numpy
import pytest

from videonas.experiments import prose, verdicts

CLAIM = verdicts.Claim(text="evolution finds better nets than random search")
QUESTION = "Does TVN evolution beat random search?"


def _verdict(a, b, claim=CLAIM, **options):
    return verdicts.compare(question=QUESTION, claim=claim, a=a, b=b, unit="points", **options)


CASES = {
    "supported": ([60, 62, 58, 65, 61, 63, 59], [50, 51, 49, 52, 50, 53, 48]),
    "contradicted": ([50, 51, 49, 52, 50, 53, 48], [60, 62, 58, 65, 61, 63, 59]),
    "straddling": ([60, 50, 62, 49, 58, 51, 55], [55] * 7),
    "three seeds": ([60, 62, 58], [50, 51, 49]),
    "one seed": ([60], [50]),
    "all equal": ([50] * 4, [50] * 4),
    "failed seeds": ([60, float("nan"), None], [50, 52, float("nan")]),
}


def _no_reprs(text: str) -> None:
    assert "np.float" not in text and "numpy" not in text and "None" not in text and "nan" not in text.lower()
    assert not re.search(r"\[[^\]]*\]", text)  # no bracketed lists


@pytest.mark.parametrize("case", sorted(CASES))
def test_only_a_supported_verdict_says_so(case):
    verdict = _verdict(*CASES[case])
    text = prose.describe(verdict)
    _no_reprs(text)
    assert "points" in text and QUESTION in text
    if verdict.verdict == "supported":
        assert "supports the paper's claim" in text
    else:
        assert "support" not in text and "agree" not in text
    if verdict.verdict == "inconclusive":
        assert "cannot tell" in text and verdict.reason in text
    assert (case == "supported") == (verdict.verdict == "supported")
    assert (case == "contradicted") == (verdict.verdict == "contradicted")


def test_one_seed_and_failed_seeds_say_so_in_words():
    text = prose.describe(_verdict(*CASES["failed seeds"]))
    assert "interval undefined" in text and "1 seed;" in text and "2 failed seeds dropped" in text


def test_numbers_are_formatted_with_units_and_a_shared_precision():
    assert prose.format_quantity(numpy.float64(1.23456), "points", signed=True) == "+1.23 points"
    assert prose.format_quantity(-0.5, "ms") == "\u22120.500 ms"
    assert prose.format_quantity(29.7, "x") == "29.7x"
    assert prose.format_quantity(1234567.0, "params") == "1,234,567 params"
    assert prose.format_quantity(float("nan"), "ms") == "n/a" and prose.format_quantity(None) == "n/a"
    assert prose.format_interval(0.05, 0.15, "points", signed=True) == "from +0.050 to +0.150 points"
    assert prose.format_list(["a", "b", "c"]) == "a, b and c"


def test_claim_text_gives_the_paper_figure_only_when_there_is_one():
    with_figure = verdicts.Claim(text="TVN is much faster", kind="ratio_at_least", margin=10, paper_figure=54,
                                 paper_unit="x")
    verdict = _verdict([300, 310, 305], [10, 11, 10.5], claim=with_figure, paired=False)
    assert prose.claim_text(verdict) == "TVN is much faster (paper: 54x)"
    assert "no paper figure" in prose.claim_text(_verdict(*CASES["one seed"]))


def test_conclusion_counts_the_verdicts_and_keeps_notes():
    text = prose.conclusion([_verdict(*CASES["supported"]), _verdict(*CASES["one seed"])], notes=["Short training."])
    assert text.startswith("2 questions judged: 1 supported and 1 inconclusive.")
    assert text.endswith("Short training.")
    assert prose.conclusion([]) == "No question was judged in this run."


def test_an_inconclusive_verdict_says_what_it_could_have_detected():
    straddling = _verdict(*CASES["straddling"])
    text = prose.describe(straddling)
    assert "80% power for a true difference of +6.54 points or more" in text
    assert "(6.54 points beyond the claim's boundary, 0 points)" in text
    few = _verdict(*CASES["three seeds"])
    assert "exact test cannot decide at any effect size: its smallest attainable p is 0.12" in prose.describe(few)
    ratio = verdicts.Claim(text="at least 10x faster", kind="ratio_at_least", margin=10)
    noisy = _verdict([200.0, 400.0, 150.0, 300.0, 250.0], [20.0, 15.0, 25.0, 18.0, 22.0], claim=ratio, paired=False)
    assert noisy.verdict == "inconclusive" and "for a true ratio of" in prose.power_text(noisy)
    band = verdicts.Claim(text="within 3 points", kind="equivalent", margin=3)
    wide = _verdict([50.5, 56, 44, 52, 47.5, 51, 49], [50] * 7, claim=band)
    assert "band only as narrow as \u00b1" in prose.power_text(wide)
    assert prose.power_text(_verdict(*CASES["one seed"])) == ""


def test_p_values_the_smallest_attainable_one_and_the_minimum_effect_are_shown():
    verdict = _verdict(*CASES["supported"])
    text = prose.result_text(verdict)
    assert "95% t interval" in text and "exact p = 0.0078, smallest attainable 0.0078" in text and "t p = " in text
    assert prose.short_result(verdict).startswith("+10.7 points (+9.6 to +11.9), 7 seeds; exact p = 0.0078")
    assert prose.minimum_effect_text(verdict) == "A \u2212 B > 0 points"
    margin = verdicts.Claim(text="a gain of a point", margin=1)
    assert prose.minimum_effect_text(_verdict([1, 2], [0, 0], claim=margin)) == "A \u2212 B > +1.00 points"
