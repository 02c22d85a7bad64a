import numpy as np
import pytest

from videonas.data import ClipSpec, embedded_dataset, load_clips


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
    assert scene_accuracy > 0.9
    assert motion_accuracy < motion_chance + 0.2


def test_multi_label_variant_is_charades_style(tmp_path):
    ds = embedded_dataset("smoke", multi_label=True, root=tmp_path)
    records = ds.records("val")
    assert ds.multi_label and len(records) == 6 * 7
    assert all(1 <= len(r.labels) <= 3 for r in records)
    assert embedded_dataset("smoke", multi_label=True, root=tmp_path).records("val") == records
