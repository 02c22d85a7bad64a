"""The source cache: clips cut from it equal direct decoding, bad files keep their reasons, big splits fall back."""

import itertools
import re

import av
import numpy as np
import pytest

from videonas import data
from videonas.data import cache, source
from videonas.data.samples import indexed_frames, write_video

from test_data_decode import truncate_after

VFR_TIMES = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.7, 1.75, 2.0, 2.3, 2.35, 2.4, 3.2, 3.9]
GRID = [data.ClipSpec(num_frames=frames, frame_stride=stride, image_size=size)
        for frames, stride, size in itertools.product((1, 2, 3, 4, 8, 16), (1, 2, 3, 4), (24, 64))]
VARIED = [data.ClipSpec(num_frames=8, fps=4.0, image_size=32), data.ClipSpec(num_frames=5, fps=30.0, image_size=17),
          data.ClipSpec(num_frames=4, frame_stride=2, start=0.7, image_size=32),
          data.ClipSpec(num_frames=3, fps=2.0, start=1.2, image_size=16),
          data.ClipSpec(num_frames=4, frame_stride=3, image_size=32, rgb=False, flow=True),
          data.ClipSpec(num_frames=2, image_size=64, flow=True, flow_method="farneback"),
          data.ClipSpec(num_frames=16, frame_stride=4, start=0.0, image_size=24, flow=True)]


def subset(ds, count, split="train"):
    records = ds.records(split)
    step = max(1, len(records) // count)
    return data.Dataset(name=f"{ds.name}-subset", class_names=ds.class_names, splits={"train": records[::step][:count]},
                        multi_label=ds.multi_label)


def assert_same_load(ds, specs, tmp_path):
    """Every spec loads to the same arrays, labels, paths and report with the source cache as without it."""
    for spec in specs:
        direct = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "direct", source_budget_mib=0)
        derived = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "source")
        for name in ("rgb", "flow"):
            first, second = getattr(direct, name), getattr(derived, name)
            assert (first is None) == (second is None) and (first is None or np.array_equal(first, second)), spec
        assert np.array_equal(direct.labels, derived.labels) and direct.paths == derived.paths, spec
        assert direct.report.loaded == derived.report.loaded and direct.report.damaged == derived.report.damaged
        assert [item[:2] for item in direct.report.skipped] == [item[:2] for item in derived.report.skipped], spec
        counted = "too few frames decode"  # the message counts the packets read: all of them from the source
        assert [item for item in direct.report.skipped if item[1] != counted] == [
            item for item in derived.report.skipped if item[1] != counted], spec
    assert (tmp_path / "source" / "source").is_dir() and not (tmp_path / "direct" / "source").exists()


def test_embedded_clips_from_the_source_equal_direct_decoding(tmp_path):
    assert_same_load(subset(data.embedded_dataset("smoke"), 4), GRID + VARIED, tmp_path)


def test_embedded_multi_label_targets_follow_the_same_windows(tmp_path):
    ds = subset(data.embedded_dataset("smoke", multi_label=True), 3)
    assert_same_load(ds, [data.ClipSpec(num_frames=4, frame_stride=2, image_size=32), VARIED[3]], tmp_path)


def damage(path, out, frames):
    """Copy of an intra-only file with the packets of `frames` overwritten."""
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]
    content = bytearray(path.read_bytes())
    for frame in frames:
        position, size = packets[frame]
        content[position:position + size] = b"\xff" * size
    out.write_bytes(bytes(content))
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Sample videos (constant and variable rate, MPEG-TS, rotated, truncated, damaged) as records, some with a
    CSV time window, plus files that give no clip."""
    root = tmp_path_factory.mktemp("samples")
    vfr = write_video(root / "vfr.mp4", indexed_frames(15), times=VFR_TIMES)
    full = write_video(root / "full.mp4", indexed_frames(50), fps=10, faststart=True)
    mjpeg = write_video(root / "mj.mp4", indexed_frames(30), fps=10, codec="mjpeg")
    (root / "zero.mp4").write_bytes(b"")
    (root / "link.mp4").symlink_to(root / "nowhere.mp4")
    good = [(write_video(root / "cfr.mp4", indexed_frames(40), fps=10), None, None), (vfr, None, None),
            (vfr, 1.0, 2.5), (write_video(root / "vfr.webm", indexed_frames(15), times=VFR_TIMES,
                                          codec="libvpx-vp9"), 0.4, None),
            (write_video(root / "broadcast.ts", indexed_frames(30), fps=10), None, None),
            (write_video(root / "phone.mp4", indexed_frames(12, size=(40, 24)), fps=8, rotation=90), None, None),
            (truncate_after(full, root / "cut.mp4", 30), None, None), (root / "cut.mp4", 1.0, 60.0),
            (write_video(root / "long.mp4", indexed_frames(150), fps=25), None, None)]  # one GOP, read far
    bad = [(root / "zero.mp4", None, None), (root / "link.mp4", None, None), (root / "missing.mp4", None, None),
           (damage(mjpeg, root / "mostly_bad.mp4", range(1, 25)), None, None)]
    records = [data.VideoRecord(str(path), (index % 2,), start, end)
               for index, (path, start, end) in enumerate(good + bad)]
    damaged = data.VideoRecord(str(damage(mjpeg, root / "two_bad.mp4", [10, 11])), (0,))
    return data.Dataset(name="samples", class_names=["a", "b"], splits={"train": records}), len(good), damaged


SPECS = [data.ClipSpec(num_frames=frames, frame_stride=stride, flow=True)
         for frames, stride in itertools.product((1, 2, 3, 4, 8, 16), (1, 2, 3, 4))]
SPECS += [data.ClipSpec(num_frames=8, fps=fps, start=start, flow=True)
          for fps, start in itertools.product((2.0, 4.0, 25.0), (None, 0.0, 0.12, 1.5, 3.7))]


def assert_same_clip(direct, derived, context):
    assert np.array_equal(direct.frames, derived.frames), context
    assert np.array_equal(direct.next_frames, derived.next_frames), context
    assert direct.window == derived.window and np.array_equal(direct.times, derived.times), context


def decode_as_loaded(record, spec):
    return data.decode_clip(record.path, num_frames=spec.num_frames, frame_stride=spec.frame_stride, fps=spec.fps,
                            start=spec.start, window=(record.start, record.end), with_next=True)


def test_sample_videos_give_the_same_decoded_clips(samples, tmp_path):
    ds, good, _ = samples
    records = ds.records("train")
    opened = source.open_source(tmp_path / "source", records, budget_bytes=2**30)
    for spec, (index, record) in itertools.product(SPECS, enumerate(records[:good])):
        derived = opened.clip(index, spec)
        direct = decode_as_loaded(record, spec)
        assert_same_clip(direct, derived, (spec, record))
        assert direct.problems == derived.problems, (spec, record)
    assert any("content ends" in problem for index in range(good) for problem in opened.clip(index, SPECS[0]).problems)


def test_a_damaged_file_is_cut_as_decoding_from_the_start_and_judged_by_all_its_packets(samples, tmp_path,
                                                                                        monkeypatch):
    """decode_clip seeks to a late window: landing on the lost packets, its first target takes the next frame that
    decodes, while the source (and decoding from the start) keeps the frame before them on screen."""
    *_, record = samples
    opened = source.open_source(tmp_path / "source", [record], budget_bytes=2**30)
    monkeypatch.setattr(data.decode, "SEEK_THRESHOLD_S", float("inf"))
    for spec in SPECS:
        derived = opened.clip(0, spec)
        direct = decode_as_loaded(record, spec)
        assert_same_clip(direct, derived, spec)
        late = spec.start is not None and spec.start >= 3.0  # a start past the 3 s of content: the problems say so
        for clip in (derived, direct):
            assert any(problem.startswith("start ") for problem in clip.problems[:1]) == late, spec
        derived_problems, direct_problems = derived.problems[late:], direct.problems[late:]
        assert derived_problems == ("2 of 30 packets read failed to decode",)  # whatever part the clip needs
        assert len(direct_problems) <= 1 and all(re.fullmatch(r"[12] of \d+ packets read failed to decode", problem)
                                                 for problem in direct_problems), spec  # those it read


def test_sample_videos_load_the_same_and_bad_files_keep_their_reasons(samples, tmp_path):
    ds, good, _ = samples
    assert_same_load(ds, VARIED + [data.ClipSpec(num_frames=3, image_size=24)], tmp_path)
    clips = data.load_clips(ds, "train", VARIED[0], cache_dir=tmp_path / "source")
    assert clips.report.loaded == good
    assert clips.report.reasons() == {"broken link": 1, "does not exist": 1, "empty": 1, "too few frames decode": 1}


def test_a_split_over_the_budget_is_decoded_per_spec(samples, tmp_path, monkeypatch):
    ds, *_ = samples
    spec = data.ClipSpec(num_frames=4, frame_stride=2, image_size=16)
    direct = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "direct", source_budget_mib=0)
    folder = tmp_path / "small" / "source" / source.source_key(ds.fingerprint(), "train")
    estimated = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "small", source_budget_mib=0.01)
    assert (folder / "too_large.json").is_file() and not (folder / "index.json").exists()
    assert not list(folder.glob("*.u8"))  # the header estimate said so: nothing was decoded
    monkeypatch.setattr(source, "PROBED_RECORDS", 0)  # no estimate: decoding stops once past the budget
    monkeypatch.setenv("VIDEONAS_SOURCE_BUDGET_MIB", "0.05")
    stopped = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "stopped")
    folder = tmp_path / "stopped" / "source" / source.source_key(ds.fingerprint(), "train")
    assert (folder / "too_large.json").is_file() and not list(folder.iterdir())[1:]
    for clips in (estimated, stopped):  # decoded per spec: the very same entry
        assert np.array_equal(clips.rgb, direct.rgb) and clips.report == direct.report


def test_budget_names_its_source_when_invalid(monkeypatch):
    with pytest.raises(ValueError, match="source_budget_mib must be a number of MiB >= 0.*-1"):
        cache.source_budget(-1)
    monkeypatch.setenv("VIDEONAS_SOURCE_BUDGET_MIB", "lots")
    with pytest.raises(ValueError, match=r"\$VIDEONAS_SOURCE_BUDGET_MIB must be .*'lots'"):
        cache.source_budget()
    monkeypatch.setenv("VIDEONAS_SOURCE_BUDGET_MIB", "1.5")
    assert cache.source_budget() == 3 * 2**19 and cache.source_budget(0) == 0


def test_a_worker_opens_each_entry_and_source_once(samples, tmp_path):
    ds, *_ = samples
    spec = data.ClipSpec(num_frames=2, image_size=16)
    first = data.load_clips(ds, "train", spec, cache_dir=tmp_path)
    again = data.load_clips(ds, "train", spec, cache_dir=tmp_path)
    assert isinstance(first.rgb, np.memmap) and again.rgb is first.rgb and again.labels is first.labels
    assert not first.labels.flags.writeable and again.report == first.report and again.report is not first.report
    folder = tmp_path / "source" / source.source_key(ds.fingerprint(), "train")
    assert source.open_source(folder, ds.records("train"), budget_bytes=2**30) is source.open_source(
        folder, ds.records("train"), budget_bytes=2**30)


def test_select_is_the_frame_on_screen_rule():
    """Against the rule written out per target, on random (also non-monotonic) times."""
    rng = np.random.default_rng(0)
    for trial in range(300):
        times = np.cumsum(rng.uniform(0.01, 0.2, rng.integers(1, 30)))
        if trial % 3 == 0 and len(times) > 3:
            times[rng.integers(1, len(times))] -= 0.15  # a decoder that emits a frame out of order
        tolerance, end = rng.uniform(0, 0.01), times.max() + rng.uniform(0, 0.3)
        targets = np.sort(rng.uniform(-0.2, end + 0.3, rng.integers(1, 20)))
        chosen, nexts, short = data.decode.select_frames(times, end, targets, tolerance)
        expected = []
        for target in targets:
            later = [index for index in range(1, len(times)) if target < times[index] - tolerance]
            if later:
                expected.append(later[0] - 1)
            elif target < end - tolerance:
                expected.append(len(times) - 1)
            else:
                break
        assert chosen.tolist() == expected and nexts.tolist() == [min(c + 1, len(times) - 1) for c in expected]
        assert short == (None if len(expected) == len(targets) else end)


def test_opened_files_are_bounded_and_least_recently_used_go_first():
    opened, made = source.Opened(2), []

    def make(key):
        return lambda: made.append(key) or [key]

    first = opened.get("a", make("a"))
    assert opened.get("a", make("a")) is first
    opened.get("b", make("b")), opened.get("a", make("a")), opened.get("c", make("c")), opened.get("a", make("a"))
    opened.get("b", make("b"))
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came in


def write_frame_folder(folder, count, *, name="{:05d}.jpg", sizes=None):
    """Numbered JPEGs of `indexed_frames` (frame i encodes i); names unpadded when the pattern says so."""
    import cv2

    folder.mkdir(parents=True)
    for index, frame in enumerate(indexed_frames(count, size=(48, 32))):
        if sizes is not None and index in sizes:
            frame = cv2.resize(frame, sizes[index])
        cv2.imwrite(str(folder / name.format(index + 1)), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


def test_frame_folders_read_as_videos_at_their_rate_from_the_source_and_per_spec(tmp_path):
    from videonas.data.samples import read_indices

    write_frame_folder(tmp_path / "a", 20)
    write_frame_folder(tmp_path / "b", 12, name="{}.jpg")  # 1.jpg ... 12.jpg: numeric, not name, order
    write_frame_folder(tmp_path / "mixed", 6, sizes={3: (24, 16)})
    (tmp_path / "empty").mkdir()
    records = [data.VideoRecord(str(tmp_path / name), (0,), frame_rate=10.0) for name in ("a", "b", "mixed", "empty")]
    records.append(data.VideoRecord(str(tmp_path / "a"), (0,), start=1.0, end=1.6, frame_rate=10.0))
    ds = data.Dataset(name="frames", class_names=["x"], splits={"train": records})
    assert_same_load(ds, VARIED, tmp_path)
    # the same images as video files at the same rate give the same frames: the sampling rule is decode's
    write_video(tmp_path / "a.mp4", indexed_frames(20, size=(48, 32)), fps=10)
    write_video(tmp_path / "b.mp4", indexed_frames(12, size=(48, 32)), fps=10)
    files = data.Dataset(name="files", class_names=["x"], splits={"train": [
        data.VideoRecord(str(tmp_path / "a.mp4"), (0,)), data.VideoRecord(str(tmp_path / "b.mp4"), (0,)),
        data.VideoRecord(str(tmp_path / "a.mp4"), (0,), start=1.0, end=1.6)]})
    for spec in (data.ClipSpec(num_frames=4, fps=5.0, image_size=32), data.ClipSpec(num_frames=3, frame_stride=2,
                                                                                      image_size=32, start=0.3)):
        clips = data.load_clips(ds, "train", spec, cache_dir=tmp_path / "frames")
        videos = data.load_clips(files, "train", spec, cache_dir=tmp_path / "files")
        kept = [0, 1, 3] if clips.report.loaded == 4 else [0, 1, 2]  # "mixed" loads when its odd frame is unused
        assert [read_indices(np.asarray(clips.rgb[i])) for i in kept] == [
            read_indices(np.asarray(clip)) for clip in videos.rgb]
    assert read_indices(np.asarray(clips.rgb[1]))[0] == 3  # b: 4.jpg is on screen at 0.3 s, not 10.jpg
    assert [item[:2] for item in clips.report.skipped][-1] == (str(tmp_path / "empty"), "no frames")
    assert data.load_clips(ds, "train", data.ClipSpec(num_frames=6, image_size=8), cache_dir=tmp_path).report.skipped[
        0][:2] == (str(tmp_path / "mixed"), "frames of different sizes")


def test_a_window_that_misses_every_action_is_counted_not_skipped(tmp_path):
    write_video(tmp_path / "v.mp4", indexed_frames(20), fps=10)
    hit = data.VideoRecord(str(tmp_path / "v.mp4"), (0,), segments=((0, 0.5, 1.5),))
    miss = data.VideoRecord(str(tmp_path / "v.mp4"), (1,), segments=((1, 0.0, 0.2),))
    ds = data.Dataset(name="c", class_names=["a", "b"], splits={"train": [hit, miss]}, multi_label=True)
    spec = data.ClipSpec(num_frames=4, fps=10.0, image_size=16)
    for budget in (0, None):  # per spec, and from the source cache
        clips = data.load_clips(ds, "train", spec, cache_dir=tmp_path / str(budget), source_budget_mib=budget)
        assert clips.labels.tolist() == [[1.0, 0.0], [0.0, 0.0]] and clips.report.loaded == 2
        assert len(clips.report.damaged) == 1 and "misses every action" in clips.report.damaged[0][1]
        assert "1 loaded with problems" in clips.report.summary()
