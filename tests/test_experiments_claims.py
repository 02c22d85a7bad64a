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
    assert verdict.verdict == "supported" and verdict.unit == "points" and verdict.paper == "TVN"
    assert verdict.margin == 1.0 and verdict.values_a == {str(seed): 60.0 + seed for seed in range(7)}
    assert verdict.question == claims.QUESTIONS["tvn_evolution_vs_random"].question
    few = claims.ask("evanet_ensemble_vs_single", a=[71.0, 70.0], b=[70.0, 69.5])
    assert few.verdict == "inconclusive" and few.paper_figure is None and "(paper:" not in prose.describe(few)


def test_ask_exact_for_deterministic_costs():
    verdict = claims.ask_exact("evanet_ensemble_cost", a=900e6, b=300e6)
    assert verdict.verdict == "supported" and verdict.estimate == pytest.approx(3.0) and verdict.method == "exact"
    assert verdict.values_a == {"figure": 900e6} and verdict.paper == "EvaNet"
    assert claims.ask_exact("evanet_ensemble_cost", a=300e6, b=900e6).verdict == "contradicted"


def test_repeated_latencies_give_the_speed_ratio_an_interval():
    verdict = claims.ask_exact("tvn_speed", a=[300.0, 310.0, 305.0, 290.0], b=[10.0, 11.0, 10.5, 9.9])
    assert verdict.method == "welch" and verdict.low < verdict.estimate < verdict.high
    assert verdict.verdict == "supported" and verdict.min_p_value == pytest.approx(1 / 70)
    assert verdict.values_b == {"0": 10.0, "1": 11.0, "2": 10.5, "3": 9.9}
    # Runs that spread widely leave a 12x ratio undecided against the 10x bar.
    noisy = claims.ask_exact("tvn_speed", a=[200.0, 400.0, 150.0], b=[20.0, 15.0, 25.0])
    assert noisy.verdict == "inconclusive" and noisy.detectable is not None
    with pytest.raises(ValueError, match="a figure on both sides or repeats on both sides"):
        claims.ask_exact("tvn_speed", a=300.0, b=[10.0, 11.0])


def test_every_question_states_its_paper_and_its_minimum_effect():
    papers = {question.paper for question in claims.QUESTIONS.values()}
    assert papers == {"TVN", "EvaNet", "AssembleNet"}
    for question in claims.QUESTIONS.values():
        assert question.margin_basis
        if question.claim.kind == "greater" and question.claim.margin >= 0:
            assert question.claim.margin > 0, question.key  # "beats" needs more than any gain at all
    assert claims.get("tvn_evolution_vs_random").claim.margin == claims.BEATS_POINTS == 1.0
    assert claims.get("evanet_diverse_similar").claim.margin == 3.0 and claims.get("tvn_speed").claim.margin == 10
    with pytest.raises(ValueError, match="question.paper of 'x' must be one of"):
        claims.Question(key="x", question="x?", claim=claims.Claim(text="x", margin=1.0), unit="points",
                        arms=("a", "b"), paper="ResNet", margin_basis="ours")
    with pytest.raises(ValueError, match="question.margin_basis of 'x' must say where its margin comes from"):
        claims.Question(key="x", question="x?", claim=claims.Claim(text="x", margin=1.0), unit="points",
                        arms=("a", "b"), paper="TVN", margin_basis="")


def test_an_unknown_question_is_named():
    with pytest.raises(ValueError, match="question must be one of .* got 'tvn_magic'"):
        claims.ask("tvn_magic", a=[1.0], b=[1.0])


def test_competitive_accuracy_is_a_floor_not_a_band():
    """A TVN far more accurate than the baseline supports "competitive accuracy"; one far below contradicts it."""
    better = claims.ask("tvn_accuracy_vs_big", a={s: 60.0 + s % 2 for s in range(6)}, b={s: 30.0 for s in range(6)})
    worse = claims.ask("tvn_accuracy_vs_big", a={s: 60.0 for s in range(6)}, b={s: 70.0 + s % 2 for s in range(6)})
    assert (better.verdict, worse.verdict) == ("supported", "contradicted")
