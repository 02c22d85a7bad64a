import dataclasses

import numpy as np
import pytest

from videonas.data import ClipSpec, embedded_dataset, load_clips
from videonas.data.embedded import SCENE_CLASSES, SCENE_CUE_RELIABILITY, input_ceiling, scene_ceiling


@pytest.mark.slow
def test_embedded_deterministic_and_scene_vs_motion_separability(tmp_path):
    ds = embedded_dataset("smoke", seed=0, root=tmp_path / "a")
    assert len(ds.class_names) == 13 and set(ds.class_kinds.values()) == {"scene", "motion"}
    same = embedded_dataset("smoke", seed=0, root=tmp_path / "b")
    other = embedded_dataset("smoke", seed=1, root=tmp_path / "c")
    spec = ClipSpec(num_frames=1, image_size=16)
    clips = {key: {split: load_clips(d, split, spec, cache_dir=tmp_path / f"cache_{key}") for split in ("train", "val")}
             for key, d in (("a", ds), ("b", same), ("c", other))}
    assert np.array_equal(clips["a"]["train"].rgb, clips["b"]["train"].rgb)
    assert not np.array_equal(clips["a"]["train"].rgb, clips["c"]["train"].rgb)

    def nearest_centroid_accuracy(kind):
        classes = [i for i, c in enumerate(ds.class_names) if ds.class_kinds[c] == kind]
        train, val = clips["a"]["train"], clips["a"]["val"]
        features = lambda c: np.asarray(c.rgb, np.float32).reshape(len(c), -1)
        centroids = np.stack([features(train)[train.labels == k].mean(0) for k in classes])
        mask = np.isin(val.labels, classes)
        distances = ((features(val)[mask][:, None] - centroids[None]) ** 2).sum(-1)
        return np.mean(np.array(classes)[distances.argmin(1)] == val.labels[mask]), 1 / len(classes)

    scene_accuracy, scene_chance = nearest_centroid_accuracy("scene")
    motion_accuracy, motion_chance = nearest_centroid_accuracy("motion")
    # Scene cues mislead in 20% of clips: a plain nearest-centroid classifier is far above chance, but never above the
    # Bayes ceiling by more than the noise of 36 validation clips.
    assert 0.5 < scene_accuracy <= scene_ceiling() + 0.12 and scene_ceiling() == pytest.approx(0.8)
    assert motion_accuracy < motion_chance + 0.2


def test_multi_label_variant_is_charades_style(tmp_path):
    ds = embedded_dataset("smoke", multi_label=True, root=tmp_path)
    records = ds.records("val")
    assert ds.multi_label and len(records) == 6 * 7
    assert all(1 <= len(r.labels) <= 3 for r in records)
    assert embedded_dataset("smoke", multi_label=True, root=tmp_path).records("val") == records


@pytest.mark.slow
def test_one_frame_tells_scenes_apart_and_eight_frames_tell_motion_apart():
    """The frames question on a smoke-size run: the hand-picked ablation TVN, 4 epochs, on two 2-class subsets of the
    default data (16 clips per class in the smoke profile are too few for any motion to be learned)."""
    from videonas.experiments.tvn_common import FRAMES_TVN as genome
    from videonas.task import Budget, TrainTask
    from videonas.train import train_candidate

    def accuracy(classes, frames):
        task = TrainTask(dataset="embedded:default", classes=classes, learning_rate=3e-3, batch_size=16)
        result = train_candidate(dataclasses.replace(genome, num_frames=frames), task=task, budget=Budget(epochs=4),
                                 seed=0)
        assert result.status == "done", result.error
        assert result.metrics["num_val_clips"] == 80 and result.metrics["test"]["num_clips"] == 80
        assert result.metrics["accuracy_by_kind"] == {classes[0].split("_")[0]: result.fitness}
        return result.fitness

    scene_1 = accuracy(("scene_beach", "scene_night"), 1)
    motion_1, motion_8 = (accuracy(("motion_left", "motion_right"), frames) for frames in (1, 8))
    assert scene_1 >= 0.8  # chance 0.5; two classes whose cues mislead in 20% of clips: Bayes-optimal about 0.94
    assert motion_1 <= 0.7
    assert motion_8 >= 0.9 and motion_8 >= motion_1 + 0.25


def test_input_ceiling_at_one_frame_and_at_several():
    """At one frame motion classes are at chance among themselves (1/7) and scenes at their cue ceiling: 0.446 over
    all 13 classes, the figure no 1-frame network can beat; more frames lift only the motion bound."""
    one, eight = input_ceiling(1), input_ceiling(8)
    assert one == pytest.approx({"overall": (6 * 0.8 + 1) / 13, "scene": 0.8, "motion": 1 / 7})
    assert one["overall"] == pytest.approx(0.446, abs=5e-4)
    assert eight == pytest.approx({"overall": (6 * 0.8 + 7) / 13, "scene": 0.8, "motion": 1.0})
    assert input_ceiling(2, ["motion_left", "motion_right"]) == {"overall": 1.0, "scene": None, "motion": 1.0}
    assert input_ceiling(1, ["motion_left", "motion_right"])["overall"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="num_frames must be a positive int"):
        input_ceiling(0)
    with pytest.raises(ValueError, match="classes must be distinct single-label embedded classes"):
        input_ceiling(1, ["scene_beach", "dancing"])


@pytest.mark.parametrize("kept", [2, 3, 6])
def test_the_scene_ceiling_of_a_subset_is_the_bayes_rule_over_the_cues(kept):
    """The closed form against the Bayes rule applied to cues drawn as the generator draws them (each names the class
    with probability SCENE_CUE_RELIABILITY, else another of the six scene classes uniformly)."""
    rng = np.random.default_rng(0)
    names = sorted(SCENE_CLASSES)
    subset, p, trials = names[:kept], SCENE_CUE_RELIABILITY, 40_000
    likelihood = lambda cue, name: p if cue == name else (1 - p) / (len(names) - 1)

    def cue(name):
        others = [other for other in names if other != name]
        return name if rng.random() < p else others[rng.integers(len(others))]

    correct = 0.0
    for _ in range(trials):
        truth = subset[rng.integers(kept)]
        background, shape = cue(truth), cue(truth)
        scores = {name: likelihood(background, name) * likelihood(shape, name) for name in subset}
        best = [name for name, score in scores.items() if score == max(scores.values())]
        correct += (truth in best) / len(best)  # ties: a fair guess among the best
    expected = input_ceiling(1, subset)["scene"]
    assert correct / trials == pytest.approx(expected, abs=0.01)
    assert (expected == pytest.approx(0.8)) == (kept == 6)
