import shutil

import numpy as np
import pytest

from videonas.data import ClipSpec, folder_dataset, load_clips


def test_load_clips_caches_and_reports_bad_files(video_dir, tmp_path):
    root = tmp_path / "ds" / "train"
    for name, cls in [("h264.mp4", "a"), ("zero.mp4", "a"), ("random.mp4", "b"), ("audio.mp4", "b"), ("short.mp4", "b")]:
        (root / cls).mkdir(parents=True, exist_ok=True)
        shutil.copy(video_dir / name, root / cls / name)
    ds = folder_dataset(tmp_path / "ds")
    spec = ClipSpec(num_frames=4, image_size=16, flow=True)
    clips = load_clips(ds, "train", spec, cache_dir=tmp_path / "cache")
    assert clips.report.loaded == 2 and len(clips.report.skipped) == 3
    assert clips.report.reasons() == {"cannot be opened": 1, "empty": 1, "no video stream": 1}
    assert clips.report.summary().startswith("loaded 2 of 5; skipped 1 cannot be opened, 1 empty, 1 no video stream")
    assert clips.rgb.shape == (2, 4, 16, 16, 3) and clips.flow.dtype == np.float16
    assert clips.labels.tolist() == [0, 1]
    again = load_clips(ds, "train", spec, cache_dir=tmp_path / "cache")
    assert isinstance(again.rgb, np.memmap) and np.array_equal(again.rgb, clips.rgb)
    assert again.report == clips.report  # reasons survive the cache


def test_nothing_loads_raises_naming_the_dataset_and_first_files(video_dir, tmp_path):
    root = tmp_path / "bad" / "train" / "a"
    root.mkdir(parents=True)
    shutil.copy(video_dir / "zero.mp4", root / "zero.mp4")
    (root / "link.mp4").symlink_to(tmp_path / "gone.mp4")
    ds = folder_dataset(tmp_path / "bad")
    with pytest.raises(ValueError, match=r"dataset 'bad' split 'train': none of its 2 videos loaded "
                                         r"\(1 broken link, 1 empty\); first: .*link.mp4 \(broken link\)"):
        load_clips(ds, "train", ClipSpec(num_frames=2, image_size=8), cache_dir=tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.npy")) and not list((tmp_path / "cache").rglob("meta.json"))


def test_segment_clips_through_the_cache_are_the_decoded_segments(tmp_path):
    """``sampling="segments"`` reaches the decoder through ``load_clips`` (the source cache, which keeps only each
    video's centre, is bypassed): the cached clip equals a direct segment decode of the same file."""
    from videonas import data
    from videonas.data import decode

    dataset = data.DatasetSpec.from_value("embedded:smoke").open()
    spec = data.ClipSpec(num_frames=4, image_size=32, sampling="segments")
    clips = data.load_clips(dataset, "val", spec, cache_dir=tmp_path)
    record = dataset.records("val")[0]
    segments, _ = decode.load_clip(record.path, spec)
    contiguous, _ = decode.load_clip(record.path, ClipSpec(num_frames=4, image_size=32))
    assert clips.rgb.shape[:2] == (len(dataset.records("val")), 4)
    assert np.array_equal(clips.rgb[0], segments)
    assert not np.array_equal(clips.rgb[0], contiguous)
