import json
import shutil

import numpy as np
import pytest

from videonas import data
from videonas.data import ClipSpec, entries, folder_dataset, load_clips, loader
from videonas.task import TrainTask

FILES = [("h264.mp4", "a"), ("zero.mp4", "a"), ("vp9.webm", "a"), ("random.mp4", "b"), ("mpeg4.avi", "b"),
         ("short.mp4", "b"), ("odd.mkv", "b")]


def _folder(video_dir, tmp_path):
    root = tmp_path / "ds" / "train"
    for name, cls in FILES:
        (root / cls).mkdir(parents=True, exist_ok=True)
        shutil.copy(video_dir / name, root / cls / name)
    return folder_dataset(tmp_path / "ds")


def _entry(tmp_path, dataset, spec, name, **options):
    clips = load_clips(dataset, "train", spec, cache_dir=tmp_path / name, **options)
    folder = tmp_path / name / data.cache_key(dataset, "train", spec)
    return clips, {path.name: path.read_bytes() for path in folder.glob("*.npy")}, \
        {key: value for key, value in json.loads((folder / "meta.json").read_text()).items()}


@pytest.mark.parametrize("source_budget_mib", [0, None])
def test_two_workers_fill_the_cache_byte_for_byte_as_one(video_dir, tmp_path, source_budget_mib):
    """Decoded per spec (budget 0) and cut from the source cache alike: same arrays, same skips, same problems."""
    dataset = _folder(video_dir, tmp_path)
    spec = ClipSpec(num_frames=4, image_size=16, flow=True)
    one, one_files, one_meta = _entry(tmp_path, dataset, spec, "one", loader_workers=1,
                                      source_budget_mib=source_budget_mib)
    two, two_files, two_meta = _entry(tmp_path, dataset, spec, "two", loader_workers=2,
                                      source_budget_mib=source_budget_mib)
    assert sorted(one_files) == ["flow.npy", "labels.npy", "rgb.npy"]
    assert one_files == two_files and one_meta == two_meta
    assert one.report.loaded == 5 and one.report.reasons() == {"cannot be opened": 1, "empty": 1}
    assert (tmp_path / "one" / "source").exists() == (source_budget_mib is None)


def test_stream_hands_clips_over_in_record_order_and_stops_early(tmp_path):
    dataset = data.embedded_dataset("smoke")
    records = dataset.records("val")[:6]
    job = loader.Job(records, ClipSpec(num_frames=2, image_size=8), dataset.num_classes, dataset.multi_label)
    cuts = loader.stream(job, workers=2)
    first = [next(cuts) for _ in range(3)]
    cuts.close()  # the pool is shut down with clips still queued
    assert [cut.index for cut in first] == [0, 1, 2]
    assert [cut.label for cut in first] == [record.labels[0] for record in records[:3]]
    assert np.array_equal(first[1].rgb, job.cut(1).rgb)


def test_loader_options_are_checked_where_they_are_given(monkeypatch):
    with pytest.raises(ValueError, match=r"loader_workers must be an int in \[1, 64\].*got 0"):
        loader.check_workers(0)
    with pytest.raises(ValueError, match=r"task.loader_workers must be in \[1, 64\], got 0"):
        TrainTask(loader_workers=0)
    with pytest.raises(ValueError, match="task.derive_from_largest must be true or false, got 'yes'"):
        TrainTask(derive_from_largest="yes")
    assert "loader_workers" not in TrainTask().to_dict()  # tasks stored before the option compare equal
    task = TrainTask(loader_workers=2, derive_from_largest=True)
    assert TrainTask.from_dict(task.to_dict()) == task and task.to_dict()["loader_workers"] == 2
    monkeypatch.setenv("VIDEONAS_CLIP_CACHE_BUDGET_MIB", "none")
    with pytest.raises(ValueError, match=r"\$VIDEONAS_CLIP_CACHE_BUDGET_MIB must be a number of MiB > 0, got 'none'"):
        entries.clip_cache_budget()
    assert entries.clip_cache_budget(1.5) == 3 * 2**19


def test_entries_past_the_budget_go_least_recently_used_first(tmp_path, monkeypatch):
    monkeypatch.delenv("VIDEONAS_CLIP_CACHE_BUDGET_MIB", raising=False)
    dataset = data.embedded_dataset("smoke")
    cache = tmp_path / "cache"
    specs = [ClipSpec(num_frames=2, image_size=size) for size in (8, 12, 16)]
    keys = [data.cache_key(dataset, "val", spec) for spec in specs]
    for spec in specs[:2]:
        load_clips(dataset, "val", spec, cache_dir=cache, source_budget_mib=0)
    sizes = [sum(path.stat().st_size for path in (cache / key).iterdir()) for key in keys[:2]]
    first = load_clips(dataset, "val", specs[0], cache_dir=cache)  # used last now: the 12 px entry is older
    budget = (sizes[0] + 2 * sizes[1]) / 2**20  # room for the 8 and 16 px entries, not for all three
    third = load_clips(dataset, "val", specs[2], cache_dir=cache, source_budget_mib=0, clip_cache_budget_mib=budget)
    assert [(cache / key).is_dir() for key in keys] == [True, False, True]
    assert first.rgb.shape[2] == 8 and np.asarray(first.rgb).any()  # a mapped entry stays readable
    assert third.rgb.shape[2] == 16
    alone = load_clips(dataset, "val", ClipSpec(num_frames=3, image_size=8), cache_dir=cache, source_budget_mib=0,
                       clip_cache_budget_mib=1e-6)
    assert len(alone) and [path.name for path in cache.iterdir() if len(path.name) == 20] == [
        data.cache_key(dataset, "val", ClipSpec(num_frames=3, image_size=8))]  # the newest stays, alone


def test_a_smaller_input_is_derived_from_the_largest_entry_only_when_asked(tmp_path):
    dataset = data.embedded_dataset("smoke")
    cache, direct_cache = tmp_path / "cache", tmp_path / "direct"
    large, small = ClipSpec(num_frames=8, image_size=48), ClipSpec(num_frames=4, image_size=32)
    load_clips(dataset, "val", large, cache_dir=cache, source_budget_mib=0)
    load_clips(dataset, "val", ClipSpec(num_frames=6, image_size=40), cache_dir=cache, source_budget_mib=0)
    derived = load_clips(dataset, "val", small, cache_dir=cache, derive_from_largest=True, source_budget_mib=0)
    direct = load_clips(dataset, "val", small, cache_dir=direct_cache, source_budget_mib=0)
    meta = json.loads((cache / data.cache_key(dataset, "val", small) / "meta.json").read_text())
    assert meta["derived_from"] == data.cache_key(dataset, "val", large)  # the largest, not the closest
    assert derived.paths == direct.paths and np.array_equal(derived.labels, direct.labels)
    difference = np.abs(np.asarray(derived.rgb, np.int16) - np.asarray(direct.rgb, np.int16))
    assert 0 < difference.mean() < 3  # resized twice: close to decoding, not equal
    odd = ClipSpec(num_frames=5, image_size=32)  # centring 5 of 8 frames moves the targets: decoded instead
    load_clips(dataset, "val", odd, cache_dir=cache, derive_from_largest=True, source_budget_mib=0)
    assert "derived_from" not in json.loads((cache / data.cache_key(dataset, "val", odd) / "meta.json").read_text())
    assert not entries.derivable(large.to_dict(), ClipSpec(num_frames=4, image_size=32, flow=True).to_dict())
    assert not entries.derivable(large.to_dict(), ClipSpec(num_frames=4, image_size=32, frame_stride=2).to_dict())
