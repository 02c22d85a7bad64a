"""EvaNet's ensemble experiment: per-seed ensembles against the member chosen on validation, and the verdicts."""

from __future__ import annotations

import dataclasses

import numpy
import pytest

from videonas.ensemble import Member
from videonas.experiments import ensembles, prose

# Member "b" (listed first: best on validation) is right on two of four clips, "a" on three, their mean on all four.
LOGITS_A = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
LOGITS_B = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]]
LABELS = [0, 1, 2, 0]


def test_gain_is_over_the_member_chosen_on_validation():
    members = [Member("b", numpy.array(LOGITS_B), flops=50), Member("a", numpy.array(LOGITS_A), flops=100)]
    seed = ensembles.score_members(3, members, LABELS)
    assert seed.seed == 3 and seed.flops == 150
    assert seed.scores["single"] == [0.5, 0.75]
    assert seed.scores["selected_single"] == 0.5  # the first member, not the best on test
    assert seed.scores["ensemble"] == 1.0 and seed.scores["gain_over_selected"] == pytest.approx(0.5)


def _verdicts(n, *, gain=0.02, spread=0.01):
    rng = numpy.random.default_rng(0)
    best = {seed: 0.6 + spread * rng.standard_normal() for seed in range(n)}
    return ensembles.verdicts(ensembles={s: v + gain for s, v in best.items()}, best_members=best,
                              ensemble_flops={s: 300 + s for s in range(n)},
                              width_scores={s: 0.5 + 0.01 * s for s in range(n)}, width_flops=200,
                              flops_scores={s: 0.55 for s in range(n)})


def test_four_questions_paired_by_seed_in_points_and_flop_ratios():
    single, cost, width, flops = _verdicts(6, gain=0.02, spread=0.001)
    assert single.question.startswith("Does an ensemble") and single.unit == "points"
    assert single.estimate == pytest.approx(2.0) and single.verdict == "supported"
    assert single.paper_figure == 0.8 and single.noise_floor == pytest.approx(100 * numpy.std(
        [0.5 + 0.01 * s for s in range(6)], ddof=1))
    assert cost.unit == "x" and cost.verdict == "contradicted"  # 200 / ~302 FLOPs: the ensemble costs more
    assert width.n == flops.n == 6


def test_conclusion_never_claims_agreement_when_inconclusive():
    verdicts = _verdicts(2)
    assert all(v.verdict == "inconclusive" for v in verdicts if v.unit == "points")
    text = prose.conclusion([v for v in verdicts if v.unit == "points"])
    assert "supports" not in text and "cannot tell" in text
    assert "supports" in prose.conclusion([dataclasses.replace(verdicts[0], verdict="supported")])


def test_missing_store_means_search_here(tmp_path):
    assert ensembles.reuse_runs(None, label="evolution", seeds=[0]) is None
    assert ensembles.reuse_runs(tmp_path / "absent.sqlite", label="evolution", seeds=[0]) is None


def test_notes_say_when_the_flops_could_not_be_matched():
    seeds = {s: ensembles.SeedEnsemble(s, [Member("a", numpy.zeros((1, 2)), flops=50)] * 2, {}, 100) for s in (0, 1)}
    baselines = {"width": ensembles.retrain.Baseline("r2plus1d-18", 0.0625),
                 "flops": ensembles.retrain.Baseline("r2plus1d-18", 1 / 64)}
    result = ensembles.EnsembleExperiment(None, seeds, baselines, {"width": 160, "flops": 130}, {}, [])
    text = " ".join(ensembles.notes(result))
    assert "top 2 diverse" in text and "+30% off" in text
    result.baseline_flops["flops"] = 104
    assert "off" not in " ".join(ensembles.notes(result))
