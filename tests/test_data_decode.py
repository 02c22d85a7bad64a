import av
import numpy as np
import pytest

from videonas.data import ClipSpec, VideoError, decode_clip, flip_clip, load_clip, probe, resize_clip, targets
from videonas.data.samples import indexed_frames, marker_corner, read_indices, write_video


def levels(frames):
    return np.round((frames.reshape(len(frames), -1).mean(axis=1) - 16) / 8).astype(int).tolist()


@pytest.mark.parametrize("name", ["h264.mp4", "vp9.webm", "mpeg4.avi", "mjpeg.mkv", "h264.mov", "odd.mkv"])
def test_every_container_decodes_centre_window_with_stride(video_dir, name):
    clip = decode_clip(video_dir / name, num_frames=4, frame_stride=2)
    found = levels(clip.frames)
    assert found[0] in (6, 7) and np.diff(found).tolist() == [2, 2, 2]  # 13 spare frames: centre start 6.5


def test_fps_resampling_and_start(video_dir):
    clip = decode_clip(video_dir / "h264.mp4", num_frames=3, fps=5, start=0.0)
    assert levels(clip.frames) == [0, 2, 4]


def test_short_clip_repeats_last_frame(video_dir):
    clip = decode_clip(video_dir / "short.mp4", num_frames=5)
    assert levels(clip.frames) == [0, 1, 2, 2, 2]


@pytest.mark.parametrize("name,problem", [("zero.mp4", "empty"), ("random.mp4", "cannot be opened"),
                                          ("truncated.mp4", "cannot be opened"), ("audio.mp4", "no video stream"),
                                          ("missing.mp4", "does not exist")])
def test_bad_files_raise_value_error_naming_file(video_dir, name, problem):
    with pytest.raises(ValueError, match=problem) as info:
        decode_clip(video_dir / name, num_frames=2)
    assert name in str(info.value)


def test_resize_crop_flip_odd_size(video_dir):
    clip, _ = load_clip(video_dir / "odd.mkv", ClipSpec(num_frames=2, image_size=16))
    assert clip.shape == (2, 16, 16, 3)
    frames = np.arange(2 * 4 * 6 * 2, dtype=np.float32).reshape(2, 4, 6, 2)
    assert resize_clip(frames, 4).shape == (2, 4, 4, 2)
    flipped = flip_clip(frames, is_flow=True)
    assert flipped[0, 0, 0, 0] == -frames[0, 0, -1, 0] and flipped[0, 0, 0, 1] == frames[0, 0, -1, 1]


# Timestamp sampling, rotation and damaged files, on videos whose frame colour encodes the frame index.

VFR_TIMES = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.7, 1.75, 2.0, 2.3, 2.35, 2.4, 3.2, 3.9]


def own_times(path):
    """The file's own presentation timestamps, straight from PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [float(frame.pts * stream.time_base) for frame in container.decode(stream)]


def on_screen(times, target):
    """Index of the frame on screen at `target`: the last one whose timestamp is at or before it."""
    return max(index for index, time in enumerate(times) if time <= target + 1e-9) if target >= times[0] else 0


def test_cfr_start_between_frames_takes_the_frame_on_screen(tmp_path):
    path = write_video(tmp_path / "cfr.mp4", indexed_frames(20), fps=10)
    times = own_times(path)
    for start in (0.0, 0.05, 0.34, 0.4, 1.01):
        clip = decode_clip(path, num_frames=4, frame_stride=2, start=start)
        targets = start + 0.2 * np.arange(4)
        assert read_indices(clip.frames) == [on_screen(times, t) for t in targets], start
        assert clip.times.tolist() == pytest.approx([times[on_screen(times, t)] for t in targets])


@pytest.mark.parametrize("name", ["vfr.mp4", "vfr.mkv", "vfr.webm"])
def test_vfr_each_target_gets_the_frame_on_screen(tmp_path, name):
    codec = "libvpx-vp9" if name.endswith("webm") else "libx264"
    path = write_video(tmp_path / name, indexed_frames(len(VFR_TIMES)), times=VFR_TIMES, codec=codec)
    times = own_times(path)
    assert times == pytest.approx(VFR_TIMES)
    for start, fps in ((0.0, 4.0), (1.5, 8.0), (0.12, 10.0)):
        clip = decode_clip(path, num_frames=8, fps=fps, start=start)
        targets = start + np.arange(8) / fps
        assert read_indices(clip.frames) == [on_screen(times, t) for t in targets], (start, fps)
    centre = decode_clip(path, num_frames=4, fps=2.0)  # 1.5 s of targets, centred on the real content
    content_end = times[-1]
    assert centre.window[0] > 0.5 and centre.window[0] + 1.5 < content_end + 0.5
    assert read_indices(centre.frames) == [on_screen(times, t) for t in centre.window[0] + np.arange(4) / 2.0]


@pytest.mark.parametrize("rotation,shape,corner", [(0, (32, 48), "top-left"), (90, (48, 32), "bottom-left"),
                                                    (180, (32, 48), "bottom-right"), (270, (48, 32), "top-right")])
def test_rotation_metadata_gives_the_upright_picture(tmp_path, rotation, shape, corner):
    path = write_video(tmp_path / f"phone{rotation}.mp4", indexed_frames(6), rotation=rotation)
    clip = decode_clip(path, num_frames=3, start=0.0, with_next=True)
    assert clip.frames.shape == (3, *shape, 3) and clip.next_frames.shape == clip.frames.shape
    assert [marker_corner(frame) for frame in clip.frames] == [corner] * 3
    assert read_indices(clip.frames) == [0, 1, 2] and read_indices(clip.next_frames) == [1, 2, 3]


def test_mpegts_times_count_from_the_stream_start_and_a_late_window_survives_an_inexact_seek(tmp_path):
    path = write_video(tmp_path / "broadcast.ts", indexed_frames(30), fps=10)  # one keyframe; pts start at 0.2 s
    with av.open(str(path)) as container:
        assert container.streams.video[0].start_time > 0
    assert read_indices(decode_clip(path, num_frames=4, fps=5, start=0.0).frames) == [0, 2, 4, 6]
    assert read_indices(decode_clip(path, num_frames=4, fps=5, start=2.0).frames) == [20, 22, 24, 26]
    assert read_indices(decode_clip(path, num_frames=4, fps=5).frames) == [11, 13, 15, 17]  # (3 - 0.7) / 2 = 1.15 s


def truncate_after(path, out, keep_packets):
    """Copy of `path` cut where its packet number `keep_packets` starts (the index at the front still lists all)."""
    with av.open(str(path)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.pos is not None]
    out.write_bytes(path.read_bytes()[:positions[keep_packets]])
    return out


def test_truncated_file_gives_a_clip_from_the_content_that_decodes(tmp_path):
    path = write_video(tmp_path / "full.mp4", indexed_frames(50), fps=10, faststart=True)
    cut = truncate_after(path, tmp_path / "cut.mp4", 30)
    assert probe(cut)["duration"] == pytest.approx(5.0, abs=0.1)  # the header still says 5 s
    decodable = own_times_until_error(cut)
    clip = decode_clip(cut, num_frames=8)
    indices = read_indices(clip.frames)
    assert indices == sorted(indices) and len(set(indices)) == 8 and max(indices) < len(decodable)
    assert indices[0] >= 8  # centred in the ~3 s that decode, not pushed to its start by the 5 s header
    assert any("content ends at" in problem for problem in clip.problems)
    window = decode_clip(cut, num_frames=4, fps=2, window=(1.0, 60.0))  # a CSV end time past the end of the file
    assert max(read_indices(window.frames)) < len(decodable) and len(set(read_indices(window.frames))) == 4


def own_times_until_error(path):
    times = []
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                times.append(frame.time)
        except av.FFmpegError:
            pass
    return times


def test_corrupt_packets_are_skipped_and_too_many_reject_the_file(tmp_path):
    path = write_video(tmp_path / "mj.mp4", indexed_frames(30), fps=10, codec="mjpeg")  # intra-only: no drift
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]

    def damage(frames, name):
        data = bytearray(path.read_bytes())
        for frame in frames:
            position, size = packets[frame]
            data[position:position + size] = b"\xff" * size
        (tmp_path / name).write_bytes(bytes(data))
        return tmp_path / name

    clip = decode_clip(damage([10, 11], "two_bad.mp4"), num_frames=30, start=0.0)
    assert read_indices(clip.frames) == [*range(10), 9, 9, *range(12, 30)]  # a lost frame: the last one stays on
    assert clip.problems == ("2 of 30 packets read failed to decode",)
    with pytest.raises(VideoError, match="too few frames decode") as info:
        decode_clip(damage(range(1, 25), "mostly_bad.mp4"), num_frames=30, start=0.0)
    assert info.value.reason == "too few frames decode"


def test_broken_link_has_its_own_reason(tmp_path):
    (tmp_path / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    with pytest.raises(VideoError, match="broken link") as info:
        decode_clip(tmp_path / "gone.mp4", num_frames=2)
    assert info.value.reason == "broken link" and "nowhere.mp4" in str(info.value)


def test_sampling_rule_on_frame_times_keeps_the_start_and_pads_with_the_last_frame():
    """targets.sample_frames on 5 frames 40 ms apart (content 0.2 s): the arithmetic without a file."""
    times = [0.0, 0.04, 0.08, 0.12, 0.16]

    def cut(**query):
        interval, tolerance = targets.sample_timing(25.0, query.pop("frame_stride", 1), query.pop("fps", None))
        return targets.sample_frames(lambda _: (times, 0.2), lo=0.0, hi=0.2, interval=interval, rate=25.0,
                                     offset=0.5, tolerance=tolerance, problems=[], **query)

    assert cut(num_frames=8, fps=8.0, start=None)[1].tolist() == [0, 3, 4, 4, 4, 4, 4, 4]
    placed, chosen, nexts, problems = cut(num_frames=3, fps=10.0, start=0.07)
    assert placed.tolist() == pytest.approx([0.07, 0.17, 0.27]) and chosen.tolist() == [1, 4, 4] and problems == []
    assert nexts.tolist() == [2, 4, 4]
    _, chosen, _, problems = cut(num_frames=2, fps=10.0, start=0.5)
    assert chosen.tolist() == [1, 4] and problems[0].startswith("start 0.500 s is at or past the end")  # 0.06, 0.16 s
    assert targets.sample_timing(25.0, 1, 100.0)[1] < 0.001  # no slack near a whole frame on any frame rate
