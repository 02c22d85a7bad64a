"""tvn_frames_ablation: its Config, the frame-count variants and tasks, and the description (no verdicts: the frames
claims are answered on the tabulated benchmark)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from videonas.experiments import tvn_common, tvn_frames_ablation as frames
from videonas.experiments.variants import VariantRuns
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    text = (ROOT / "notebooks" / "params" / "default" / "tvn_frames_ablation.yaml").read_text()
    return yaml.safe_load(text)["config"]


def _result(value):
    return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})


def test_the_default_profile_parses():
    parsed = frames.Config.from_dict(_default())
    assert parsed.frame_counts == (1, 2, 4, 8, 16) and parsed.budget.epochs == 4 and parsed.genome is None
    assert parsed.task.max_train_clips is None and parsed.executor.kind == "subprocess"
    assert parsed.seeds == (0, 1, 2)


@pytest.mark.parametrize("path", ["frame_count", "task.batchsize", "executor.option", "budget.epoch"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(frames.Config.from_dict, _default(), path)


def test_config_checks_values_with_their_paths():
    for key, value in (("frame_counts", [4, 1]), ("class_kinds", {"a": "colour"}), ("latency_runtime", "tflite"),
                       ("genome", "TVN-9"), ("seeds", []), ("task", {"batch_size": 0})):
        with pytest.raises(ValueError, match=rf"config\.{key}"):
            frames.Config.from_dict({**_default(), key: value})
    with pytest.raises(ValueError, match=r"config\.search"):  # the searches moved to the tabulated benchmark
        frames.Config.from_dict({**_default(), "search": {}})


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


def test_the_description_names_each_kind_at_both_ends_and_judges_nothing():
    runs = VariantRuns({(f"{n} frames", kind, s): _result(value + 0.1 * (kind == "motion") * (n > 1))
                        for n, value in ((1, 0.5), (16, 0.6)) for kind in ("scene", "motion") for s in range(6)})
    latency = [{"variant": "1 frames", "latency_ms": 0.1}, {"variant": "16 frames", "latency_ms": None}]
    text = frames.description(runs, tasks=["scene", "motion"], frame_counts=[1, 16], latency=latency,
                              runtime="keras")
    assert "scene: 0.50 at 1 frames, 0.60 at 16 frames; motion: 0.50 at 1 frames, 0.70 at 16 frames" in text
    assert "0.10 ms at 1 frame(s), not measured at 16" in text
    assert "search_strategies" in text and "supported" not in text
