"""The TVN ablations' building blocks: base network choice, frame and scaling variants, per-kind tasks, costs."""

from __future__ import annotations

import dataclasses

import pytest

from videonas import models
from videonas.experiments import claims, tvn
from videonas.experiments.variants import VariantRuns
from videonas.search.store import TrialResult


def test_base_genome_choices(tmp_path):
    assert tvn.base_genome(None, default=tvn.FRAMES_TVN) == (tvn.FRAMES_TVN, "hand-picked")
    genome, source = tvn.base_genome("found", default=tvn.SCALING_TVN, found=tmp_path / "missing.json")
    assert genome == tvn.SCALING_TVN and "not found" in source
    path = tvn.save_genome(tvn.FRAMES_TVN, tmp_path / "found_genome.json")
    assert tvn.base_genome("found", default=tvn.SCALING_TVN, found=path)[0] == tvn.FRAMES_TVN
    assert tvn.base_genome("TVN-1", default=tvn.FRAMES_TVN)[0].num_frames == 2
    assert tvn.base_genome(tvn.FRAMES_TVN.to_dict(), default=tvn.SCALING_TVN)[0] == tvn.FRAMES_TVN
    with pytest.raises(ValueError, match="genome must be"):
        tvn.base_genome(3, default=tvn.FRAMES_TVN)


def test_frame_and_scaling_variants_and_tasks_by_kind():
    variants = tvn.frame_variants(tvn.FRAMES_TVN, [1, 4, 16])
    assert [(v.label, v.genome.num_frames) for v in variants] == [("1 frames", 1), ("4 frames", 4), ("16 frames", 16)]
    assert all(v.genome.blocks == tvn.FRAMES_TVN.blocks for v in variants)
    with pytest.raises(ValueError, match="frame_counts"):
        tvn.frame_variants(tvn.FRAMES_TVN, [4, 1])
    scaled, factors = tvn.scaled_variants(tvn.SCALING_TVN, [1.0, 2.0])
    assert [v.label for v in scaled][:5] == ["base", "resolution phi=1", "width phi=1", "depth phi=1",
                                             "compound phi=1"] and len(scaled) == 9
    assert factors[2]["width"] > 1.0 and factors[2]["depth"] == 1.0
    kinds = {"a": "scene", "b": "motion", "c": "scene"}
    tasks = tvn.tasks_by_kind({"batch_size": 8}, class_kinds=kinds)
    assert tasks == {"motion": {"batch_size": 8, "classes": ["b"]}, "scene": {"batch_size": 8, "classes": ["a", "c"]}}
    assert tvn.tasks_by_kind({"batch_size": 8}, class_kinds={}) == {"all": {"batch_size": 8}}


def test_costs_are_the_built_models_counts():
    rows = tvn.costs(tvn.frame_variants(tvn.FRAMES_TVN, [1, 8]), num_classes=13)
    # One frame skips the temporal convs (as released), so it has fewer parameters as well as fewer FLOPs.
    assert rows[1]["params"] > rows[0]["params"] > 0 and rows[1]["MFLOPs"] > rows[0]["MFLOPs"] > 0
    assert "latency_ms" not in rows[0]


def test_costs_give_a_reason_not_a_conversion_for_models_too_large_to_convert(monkeypatch):
    from videonas.deploy import runtimes

    monkeypatch.setattr(runtimes, "MAX_CONVERT_PARAMS", 1000)
    (row,) = tvn.costs(tvn.frame_variants(tvn.FRAMES_TVN, [2]), num_classes=13, runtime="onnxruntime")
    assert row["latency_ms"] is None and row["runtime"] == "onnxruntime" and "not converted" in row["note"]
    model = models.build_model(tvn.FRAMES_TVN, num_classes=13)
    with pytest.raises(ValueError, match="not converted"):
        runtimes.convert(model, runtime="onnxruntime", path="unused.onnx")


def test_best_of_takes_each_seeds_maximum():
    def result(value):
        return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})

    runs = VariantRuns({("w", "all", 0): result(0.6), ("d", "all", 0): result(0.7), ("w", "all", 1): result(0.9),
                        ("d", "all", 1): TrialResult.failed("x")})
    assert runs.best_of(["w", "d"], "all") == {0: 0.7, 1: None}


def test_scaling_chains_and_verdicts_compare_the_named_variants():
    def result(value):
        return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})

    assert tvn.scaling_chains([1, 2])["width"] == ["width phi=1", "width phi=2"]
    scores = {"resolution": 0.50, "width": 0.60, "depth": 0.40, "compound": 0.70}
    runs = VariantRuns({(f"{d} phi=2", "all", s): result(v + 0.01 * s) for d, v in scores.items() for s in range(6)})
    width, compound = tvn.scaling_verdicts(runs, phi=2)
    assert width.estimate == pytest.approx(20.0) and width.verdict == "supported"
    assert compound.estimate == pytest.approx(10.0) and compound.verdict == "supported"  # against width, the best


def test_scaling_answers_name_the_base_and_warn_only_above_the_embedded_size():
    def result(value):
        return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})

    scores = {"resolution": 0.50, "width": 0.60, "depth": 0.40, "compound": 0.70}
    runs = VariantRuns({(f"{d} phi=1", "all", s): result(v + 0.01 * s) for d, v in scores.items() for s in range(6)})
    variants, _ = tvn.scaled_variants(tvn.SCALING_TVN, [1.0])
    verdicts, text = tvn.scaling_answers(runs, variants, phi=1.0, source="hand-picked", num_classes=7)
    assert [v.verdict for v in verdicts] == ["supported", "supported"]
    assert "Base TVN: hand-picked." in text and "only interpolate" not in text
    big = [dataclasses.replace(variants[0], genome=dataclasses.replace(tvn.SCALING_TVN, image_size=96))]
    assert "only interpolate" in tvn.scaling_answers(runs, big, phi=1.0, source="x", num_classes=7)[1]


def test_hand_made_comparison_reads_scores_latency_and_verdicts_by_label():
    def result(value):
        return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})

    runs = VariantRuns({**{("found TVN", "same input", s): result(0.60 + 0.01 * s) for s in range(6)},
                        **{("R(2+1)D-18 x0.25", "same input", s): result(0.62 + 0.01 * s) for s in range(6)}})
    latency = [{"variant": "found TVN", "latency_ms": 0.5}, {"variant": "R(2+1)D-18 x0.25", "latency_ms": 20.0},
               {"variant": "TVN-1", "latency_ms": 9.0}, {"variant": "TVN-2", "latency_ms": None, "note": "too large"}]
    hand_made = tvn.HandMade(runs=runs, latency=latency, tvn_label="found TVN", baselines=["R(2+1)D-18 x0.25"],
                             presets=["TVN-1", "TVN-2"])
    references = {row["label"]: row for row in hand_made.references()}
    assert references["TVN-1"]["accuracy"] is None and references["TVN-1"]["group"] == "TVN presets"
    assert references["found TVN"]["accuracy"] == pytest.approx(0.625)
    assert references["R(2+1)D-18 x0.25"]["group"] == "retrained, mean test" and "TVN-2" not in references
    table = hand_made.table()
    assert list(table["variant"]) == ["found TVN", "R(2+1)D-18 x0.25", "TVN-1", "TVN-2"]
    accuracy, speed = hand_made.verdicts()
    assert "(R(2+1)D-18 x0.25, same input)" in accuracy.question and accuracy.estimate == pytest.approx(-2.0)
    assert speed.estimate == pytest.approx(40.0)


class _Searches:
    """Per-seed test scores by arm, answering like ``ArmRuns``."""

    def __init__(self, scores):
        self.scores = scores

    def verdict(self, key, *, a, b):
        return claims.ask_scores(key, a=dict(enumerate(self.scores[a])), b=dict(enumerate(self.scores[b])))

    def top_score(self, label):
        return max(self.scores[label])

    def scores_by_kind(self, label):
        return {"motion": {seed: value / 2 for seed, value in enumerate(self.scores[label])}}


def test_search_and_frames_answers_judge_the_named_arms_and_note_the_found_tvn():
    def result(value):
        return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})

    searches = _Searches({"evolution": [0.60 + 0.01 * s for s in range(6)], "random": [0.50] * 6,
                          "free": [0.70] * 6, "16-frames": [0.70 + 0.005 * s for s in range(6)]})
    runs = VariantRuns({**{("found TVN", "same input", s): result(0.60) for s in range(6)},
                        **{("X x0.25", "same input", s): result(0.55) for s in range(6)}})
    hand_made = tvn.HandMade(runs=runs, latency=[{"variant": "found TVN", "latency_ms": 0.25},
                                                 {"variant": "X x0.25", "latency_ms": 10.0}],
                             tvn_label="found TVN", baselines=["X x0.25"], presets=[])
    found = (0, TrialResult(fitness=0.6, params=12_345), tvn.FRAMES_TVN)
    verdicts, text = tvn.search_answers(searches, hand_made, found=found, runtime="onnxruntime", num_classes=10)
    assert [v.question for v in verdicts][0] == claims.get("tvn_evolution_vs_random").question
    assert verdicts[0].estimate == pytest.approx(12.5) and len(verdicts) == 3
    assert "12,345 parameters and takes 0.25 ms on onnxruntime (1 frames at 32 px)" in text
    assert tvn.shape(tvn.FRAMES_TVN) == "1x32px/3 blocks"

    frames = VariantRuns({(f"{n} frames", kind, s): result(value + 0.01 * s * (kind == "motion"))
                          for n, value in ((1, 0.5), (16, 0.6)) for kind in ("scene", "motion") for s in range(6)})
    latency = [{"variant": "1 frames", "latency_ms": 0.1}, {"variant": "16 frames", "latency_ms": None}]
    verdicts, text = tvn.frames_answers(frames, searches, tasks=["scene", "motion"], frame_counts=[1, 16],
                                        latency=latency, runtime="keras", num_classes=10)
    forced = verdicts[-1]
    assert forced.question == claims.get("tvn_frames_forced16").question and forced.estimate == pytest.approx(-1.25)
    assert forced.verdict == "supported"  # the forced search is at most 5 points better
    assert "0.10 ms at 1 frame(s), not measured at 16" in text
    assert "winners reach test top-1 0.35 (free), 0.36 (forced to 16), mean over seeds" in text
