import shutil

import numpy as np

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
    assert clips.rgb.shape == (2, 4, 16, 16, 3) and clips.flow.dtype == np.float16
    assert clips.labels.tolist() == [0, 1]
    again = load_clips(ds, "train", spec, cache_dir=tmp_path / "cache")
    assert isinstance(again.rgb, np.memmap) and np.array_equal(again.rgb, clips.rgb)
