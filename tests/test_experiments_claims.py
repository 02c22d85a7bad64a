"""The papers' questions: each states a valid claim, and asking one gives a verdict in its unit and words."""

from __future__ import annotations

import pytest

from videonas.experiments import claims, prose


def test_every_question_has_a_claim_a_unit_and_two_arms():
    assert len(claims.QUESTIONS) >= 12
    for key, question in claims.QUESTIONS.items():
        assert question.key == key and question.question.endswith("?") and len(question.arms) == 2
        assert question.unit == ("x" if question.claim.kind == "ratio_at_least" else "points")


def test_ask_judges_per_seed_values_in_the_question_words():
    verdict = claims.ask("tvn_evolution_vs_random", a={seed: 60 + seed for seed in range(7)},
                         b={seed: 50 + seed % 3 for seed in range(7)})
    assert verdict.verdict == "supported" and verdict.unit == "points"
    assert verdict.question == claims.QUESTIONS["tvn_evolution_vs_random"].question
    few = claims.ask("evanet_ensemble_vs_single", a=[71.0, 70.0], b=[70.0, 69.5])
    assert few.verdict == "inconclusive" and "(paper: 0.8 points)" in prose.describe(few)


def test_ask_exact_for_deterministic_costs():
    verdict = claims.ask_exact("evanet_ensemble_cost", a=900e6, b=300e6)
    assert verdict.verdict == "supported" and verdict.estimate == pytest.approx(3.0) and verdict.method == "exact"
    assert claims.ask_exact("evanet_ensemble_cost", a=300e6, b=900e6).verdict == "contradicted"


def test_an_unknown_question_is_named():
    with pytest.raises(ValueError, match="question must be one of .* got 'tvn_magic'"):
        claims.ask("tvn_magic", a=[1.0], b=[1.0])


def test_competitive_accuracy_is_a_floor_not_a_band():
    """A TVN far more accurate than the baseline supports "competitive accuracy"; one far below contradicts it."""
    better = claims.ask("tvn_accuracy_vs_big", a={s: 60.0 + s % 2 for s in range(6)}, b={s: 30.0 for s in range(6)})
    worse = claims.ask("tvn_accuracy_vs_big", a={s: 60.0 for s in range(6)}, b={s: 70.0 + s % 2 for s in range(6)})
    assert (better.verdict, worse.verdict) == ("supported", "contradicted")
