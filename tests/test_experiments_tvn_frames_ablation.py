"""tvn_frames_ablation: its Config, the free and forced searches' exact configurations, the frame-count variants and
tasks, and the verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from videonas.experiments import claims, tvn_common, tvn_frames_ablation as frames
from videonas.experiments.variants import VariantRuns
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    text = (ROOT / "notebooks" / "params" / "default" / "tvn_frames_ablation.yaml").read_text()
    return yaml.safe_load(text)["config"]


def _result(value):
    return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})


def test_the_default_profile_parses_with_r_in_search_constraints_as_in_tvn_search():
    parsed = frames.Config.from_dict(_default())
    assert parsed.frame_counts == (1, 2, 4, 8, 16) and parsed.budget.epochs == 4 and parsed.genome is None
    assert parsed.search["constraints"] == {"max_flops": 75000000, "max_latency_ms": 3.0,
                                            "latency_runtime": "onnxruntime", "latency_runs": 10}


@pytest.mark.parametrize("path", [
    "frame_count", "search.num_trial", "search.task.batchsize", "search.constraints.max_flop",
    "search.strategy.option", "search.space.options.max_block", "budget.epoch"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(frames.Config.from_dict, _default(), path)


def test_config_checks_values_with_their_paths():
    for key, value in (("frame_counts", [4, 1]), ("class_kinds", {"a": "colour"}), ("latency_runtime", "tflite"),
                       ("genome", "TVN-9"), ("search_seeds", [])):
        with pytest.raises(ValueError, match=rf"config\.{key}"):
            frames.Config.from_dict({**_default(), key: value})


def test_search_configs_force_only_the_frame_count(tmp_path):
    configs = frames.search_configs(frames.Config.from_dict(_default()), output_dir=tmp_path)
    assert list(configs) == [(label, seed) for label in ("free", "16-frames") for seed in range(6)]
    free, forced = configs["free", 2], configs["16-frames", 2]
    assert forced.space.options["frame_counts"] == [16] and free.space.options["frame_counts"] == [1, 2, 4, 8, 16]
    assert {**free.space.options, "frame_counts": [16]} == dict(forced.space.options)
    assert free.strategy == forced.strategy and free.strategy.name == "mutate-best"
    assert free.constraints == forced.constraints and free.store == str(tmp_path / "search.sqlite")


def test_first_rounds_list_the_first_search_seed_of_both_arms():
    free, forced = frames.first_rounds(frames.Config.from_dict(_default())).splitlines()
    assert free.startswith("free seed 0: ") and forced.startswith("16-frames seed 0: ")
    assert forced.count("(16x") == 2  # batch_size 2, every candidate at 16 frames


def test_frame_variants_and_tasks_by_kind():
    variants = frames.frame_variants(tvn_common.FRAMES_TVN, [1, 4, 16])
    assert [(v.label, v.genome.num_frames) for v in variants] == [("1 frames", 1), ("4 frames", 4), ("16 frames", 16)]
    assert all(v.genome.blocks == tvn_common.FRAMES_TVN.blocks for v in variants)
    with pytest.raises(ValueError, match="frame_counts"):
        frames.frame_variants(tvn_common.FRAMES_TVN, [4, 1])
    kinds = {"a": "scene", "b": "motion", "c": "scene"}
    tasks = frames.tasks_by_kind({"batch_size": 8}, class_kinds=kinds)
    assert tasks == {"motion": {"batch_size": 8, "classes": ["b"]}, "scene": {"batch_size": 8, "classes": ["a", "c"]}}
    assert frames.tasks_by_kind({"batch_size": 8}, class_kinds={}) == {"all": {"batch_size": 8}}


class _Searches:
    def __init__(self, scores):
        self.scores = scores

    def verdict(self, key, *, a, b):
        return claims.ask_scores(key, a=dict(enumerate(self.scores[a])), b=dict(enumerate(self.scores[b])))

    def top_score(self, label):
        return max(self.scores[label])

    def scores_by_kind(self, label):
        return {"motion": {seed: value / 2 for seed, value in enumerate(self.scores[label])}}


def test_answers_judge_frames_and_the_forced_search():
    searches = _Searches({"free": [0.70] * 6, "16-frames": [0.70 + 0.005 * s for s in range(6)]})
    runs = VariantRuns({(f"{n} frames", kind, s): _result(value + 0.01 * s * (kind == "motion"))
                        for n, value in ((1, 0.5), (16, 0.6)) for kind in ("scene", "motion") for s in range(6)})
    latency = [{"variant": "1 frames", "latency_ms": 0.1}, {"variant": "16 frames", "latency_ms": None}]
    verdicts, text = frames.answers_of(runs, searches, tasks=["scene", "motion"], frame_counts=[1, 16],
                                       latency=latency, runtime="keras", num_classes=10)
    assert [v.question for v in verdicts[:2]] == [claims.get("tvn_frames_scene_flat").question,
                                                  claims.get("tvn_frames_motion_rising").question]
    forced = verdicts[-1]
    assert forced.question == claims.get("tvn_frames_forced16").question and forced.estimate == pytest.approx(-1.25)
    assert forced.verdict == "supported"  # the forced search is at most 5 points better
    assert "0.10 ms at 1 frame(s), not measured at 16" in text
    assert "winners reach test top-1 0.35 (free), 0.36 (forced to 16), mean over seeds" in text
