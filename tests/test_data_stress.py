"""Stress set: small videos generated at test time (odd sizes, odd containers, variable frame rate, rotation, very
short, MPEG-TS, long GOPs, truncated and corrupt files) and the decoding contract checked on each of them: at every
target time, the frame on screen (the last frame whose presentation time is at or before it, times read back from
the file itself); an explicit start is honoured; a short video is padded with its last frame; rotation is applied;
a broken file is a ValueError naming it. Sparse segment sampling is checked on a long file for the frames it takes
and for how few frames it decodes.
"""

from fractions import Fraction

import av
import numpy as np
import pytest

from videonas.data import ClipSpec, VideoError, decode_clip, load_clip
from videonas.data.samples import indexed_frames, marker_corner, read_indices

TIME_BASE = Fraction(1, 1000)
TOLERANCE_S = 0.0005 + 1e-6  # Matroska/WebM clocks count whole ms: a frame stored half a ms after a target is at it
VFR_GAPS_MS = [40, 10, 250, 33, 120, 15, 80, 200, 17, 60, 45, 300, 20, 90, 35, 160, 25, 70, 110, 12, 55, 140, 30,
               95, 18, 65, 210, 22, 48]


def encode(path, count, *, fps=25, times=None, codec="libx264", pix_fmt="yuv420p", size=(48, 32), rotation=0,
           gop=None, time_base=TIME_BASE, container_options=None):
    """Frame i of `count` (colour-coded index, marker top-left) at `times[i]` seconds (default i / fps)."""
    times = [index / fps for index in range(count)] if times is None else times
    frames = indexed_frames(count, size=size)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], pix_fmt
        stream.codec_context.time_base = time_base
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for image, time in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = round(time / time_base), time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def packet_spans(path):
    with av.open(str(path)) as container:
        return [(packet.pos, packet.size) for packet in container.demux(video=0) if packet.size]


GOOD = {
    "h264_25.mp4": {"count": 40},
    "odd_97x71.mp4": {"count": 30, "size": (97, 71), "pix_fmt": "yuv444p"},
    "odd_97x71.mkv": {"count": 30, "size": (97, 71), "pix_fmt": "yuv444p"},
    "vp9_24.webm": {"count": 30, "fps": 24, "codec": "libvpx-vp9"},
    "vp8_15.webm": {"count": 20, "fps": 15, "codec": "libvpx"},
    "mpeg4_25.avi": {"count": 30, "codec": "mpeg4", "time_base": Fraction(1, 25)},
    "mjpeg_10.avi": {"count": 20, "fps": 10, "codec": "mjpeg", "pix_fmt": "yuvj420p", "time_base": Fraction(1, 10)},
    "h264_30.mov": {"count": 40, "fps": 30},
    "ntsc_29.97.mkv": {"count": 45, "fps": Fraction(30000, 1001)},
    "vfr.mp4": {"count": 30, "times": list(np.cumsum([0] + VFR_GAPS_MS) / 1000)},
    "vfr.mkv": {"count": 30, "times": list(np.cumsum([0] + VFR_GAPS_MS) / 1000)},
    "vfr.webm": {"count": 30, "times": list(np.cumsum([0] + VFR_GAPS_MS) / 1000), "codec": "libvpx-vp9"},
    "rot90.mp4": {"count": 20, "rotation": 90},
    "rot180.mp4": {"count": 20, "rotation": 180},
    "rot270.mov": {"count": 20, "rotation": 270},
    "tiny_5frames.mp4": {"count": 5},
    "tiny_5frames.webm": {"count": 5, "codec": "libvpx-vp9"},
    "broadcast.ts": {"count": 40},
    "long_gop_bframes.mp4": {"count": 60, "gop": 250},
    "short_gop.mkv": {"count": 60, "gop": 5},
}
ROTATED = {"rot90.mp4": "bottom-left", "rot180.mp4": "bottom-right", "rot270.mov": "top-right"}
BROKEN = {"empty.mp4": "empty", "random.mkv": "cannot be opened", "moov_cut.mp4": "cannot be opened",
          "mostly_corrupt.avi": "too few frames decode", "header_only.webm": "no decodable frames",
          "missing.mov": "does not exist"}
QUERIES = [
    {"num_frames": 8},  # stride 1, centred
    {"num_frames": 6, "frame_stride": 2, "start": 0.0},
    {"num_frames": 8, "fps": 8.0, "start": 0.48},  # the start that was moved earlier
    {"num_frames": 6, "fps": 10.0},  # fps, centred
    {"num_frames": 12, "fps": 4.0, "start": 0.0},  # longer than the short videos: padding
    {"num_frames": 4, "frame_stride": 3, "start": 0.37},
]


@pytest.fixture(scope="session")
def stress_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("stress")
    for name, options in GOOD.items():
        encode(root / name, **options)
    full = encode(root / "whole_faststart.mp4", 40, container_options={"movflags": "+faststart"})
    (root / "truncated_faststart.mp4").write_bytes(full.read_bytes()[:packet_spans(full)[25][0]])
    whole_mkv = encode(root / "whole.mkv", 40, gop=10)
    (root / "truncated.mkv").write_bytes(whole_mkv.read_bytes()[:packet_spans(whole_mkv)[28][0]])
    (root / "empty.mp4").write_bytes(b"")
    (root / "random.mkv").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, np.uint8).tobytes())
    plain = encode(root / "plain.mp4", 40)  # index (moov) at the end: cut in half, nothing says what the data is
    (root / "moov_cut.mp4").write_bytes(plain.read_bytes()[:plain.stat().st_size // 2])
    mjpeg = encode(root / "mj.avi", 30, codec="mjpeg", pix_fmt="yuvj420p", time_base=Fraction(1, 25))
    data = bytearray(mjpeg.read_bytes())
    for position, size in packet_spans(mjpeg)[2:28]:
        data[position:position + size] = b"\xff" * size
    (root / "mostly_corrupt.avi").write_bytes(bytes(data))
    webm = encode(root / "whole.webm", 20, codec="libvpx-vp9")
    (root / "header_only.webm").write_bytes(webm.read_bytes()[:packet_spans(webm)[0][0]])
    return root


def own_timing(path):
    """(frames that decode as (time, encoded index) in presentation order, times in seconds from the stream start;
    average rate), read straight from PyAV."""
    frames = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        rate = float(stream.average_rate or stream.guessed_rate or stream.base_rate)
        try:
            for frame in container.decode(stream):
                index = read_indices(frame.to_ndarray(format="rgb24")[None])[0]
                frames.append((float(frame.pts * frame.time_base) - origin, index))
        except av.FFmpegError:
            pass
    return sorted(frames), rate


def on_screen(frames, target):
    """The (time, index) on screen at `target`: the last frame whose time is at or before it (the first before it)."""
    shown = [frame for frame in frames if frame[0] <= target + TOLERANCE_S]
    return shown[-1] if shown else frames[0]


def check(path, query):
    """What is wrong with decode_clip's answer to `query` on `path` by the contract ('' when it is right)."""
    frames, rate = own_timing(path)
    clip = decode_clip(path, **query)
    interval = query.get("frame_stride", 1) / rate if query.get("fps") is None else 1.0 / query["fps"]
    span = (query["num_frames"] - 1) * interval
    start = query.get("start")
    if start is not None and start >= frames[-1][0] + 1.0 / rate:  # cannot be honoured: the problems must say so
        if not any(f"start {start:.3f} s" in problem for problem in clip.problems):
            return f"start {start} past the end moved without a problem saying so ({clip.problems})"
        start = None
    if start is None:
        start = clip.window[0]
        content_end = frames[-1][0] + 1.0 / rate
        if not 0.0 <= start or (span + 1.0 / rate <= content_end and start + span >= content_end):
            return f"centred window at {start:.3f} s does not fit the {content_end:.3f} s of content"
    expected = [on_screen(frames, target) for target in start + interval * np.arange(query["num_frames"])]
    found = read_indices(clip.frames)
    if found != [index for _, index in expected]:
        return f"frames {found}, expected {[index for _, index in expected]}"
    if not np.allclose(clip.times, [time for time, _ in expected], atol=1e-6):
        return f"times {clip.times.tolist()} are not the frames' own times"
    if path.name in ROTATED and {marker_corner(frame) for frame in clip.frames} != {ROTATED[path.name]}:
        return f"rotation not applied (marker not {ROTATED[path.name]})"
    return ""


def score(root):
    """{file: [problem per query]} over the good files of the stress set (for the report: files right / files)."""
    names = [*GOOD, "truncated_faststart.mp4", "truncated.mkv"]
    return {name: [check(root / name, query) for query in QUERIES] for name in names}


@pytest.mark.parametrize("name", [*GOOD, "truncated_faststart.mp4", "truncated.mkv"])
def test_every_good_file_gives_the_frame_on_screen_at_each_target(stress_dir, name):
    problems = {str(query): problem for query in QUERIES if (problem := check(stress_dir / name, query))}
    assert not problems


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_file_is_a_value_error_naming_it(stress_dir, name):
    with pytest.raises(ValueError, match=BROKEN[name]) as info:
        decode_clip(stress_dir / name, num_frames=4)
    assert isinstance(info.value, VideoError) and name in str(info.value)


def test_odd_sizes_and_rotation_come_out_upright_at_their_own_shape(stress_dir):
    assert decode_clip(stress_dir / "odd_97x71.mkv", num_frames=2).frames.shape == (2, 71, 97, 3)
    assert decode_clip(stress_dir / "rot90.mp4", num_frames=2).frames.shape == (2, 48, 32, 3)
    assert decode_clip(stress_dir / "rot180.mp4", num_frames=2).frames.shape == (2, 32, 48, 3)


def test_short_video_pads_with_its_last_frame_in_both_modes(stress_dir):
    path = stress_dir / "tiny_5frames.mp4"  # frames at 0, 0.04, ..., 0.16
    assert read_indices(decode_clip(path, num_frames=8, fps=8).frames) == [0, 3, 4, 4, 4, 4, 4, 4]
    assert read_indices(decode_clip(path, num_frames=4, frame_stride=3).frames) == [0, 3, 4, 4]
    clip = decode_clip(path, num_frames=6, with_next=True)
    assert read_indices(clip.frames) == [0, 1, 2, 3, 4, 4] and read_indices(clip.next_frames) == [1, 2, 3, 4, 4, 4]
    assert clip.problems == ()


def test_an_explicit_start_is_honoured_or_the_problems_say_why_not(stress_dir):
    path = stress_dir / "odd_97x71.mp4"  # 30 frames at 25 fps: 1.2 s
    clip = decode_clip(path, num_frames=8, fps=8, start=0.48)
    assert clip.times[0] == pytest.approx(0.48) and clip.problems == ()
    assert read_indices(clip.frames) == [12, 15, 18, 21, 24, 27, 29, 29]
    late = decode_clip(path, num_frames=4, fps=8, start=5.0)
    assert any("start 5.000 s" in problem for problem in late.problems)
    assert read_indices(late.frames) == [19, 22, 25, 29]  # the last part: 0.785 s to 1.16 s


def test_a_target_just_before_a_vfr_frame_keeps_the_frame_on_screen(stress_dir):
    path = stress_dir / "vfr.mkv"  # frames at 0, 0.04, 0.05, 0.3, ...
    assert read_indices(decode_clip(path, num_frames=2, fps=100, start=0.035).frames) == [0, 1]  # 5 ms early: 0
    assert read_indices(decode_clip(path, num_frames=2, fps=4, start=0.295).frames) == [2, 6]  # 0.548: 3 ms late


def test_segments_spec_rejects_stride_fps_start_and_unknown_modes():
    for field, value in (("frame_stride", 2), ("fps", 5.0), ("start", 1.0)):
        with pytest.raises(ValueError, match=f"ClipSpec.{field}"):
            ClipSpec(sampling="segments", **{field: value})
    with pytest.raises(ValueError, match="ClipSpec.sampling"):
        ClipSpec(sampling="sparse")


# Sparse segment sampling (TSN): one frame per equal segment, each reached by a seek, on a long file.

LONG_FPS, LONG_SECONDS, LONG_GOP, BITS = 10, 150, 25, 11


def bar_frames(count):
    """64x32 grey frames whose frame index is an 11-bit bar code (stripes 5 px wide, most significant first)."""
    frames = np.full((count, 32, 64, 3), 16, np.uint8)
    for index in range(count):
        for bit in range(BITS):
            if index >> (BITS - 1 - bit) & 1:
                frames[index, :, 4 + 5 * bit:4 + 5 * bit + 5] = 235
    return frames


def read_bars(frames):
    columns = frames.mean(axis=(1, 3))[:, 4 + 2 + 5 * np.arange(BITS)] > 128
    return (columns * (1 << np.arange(BITS - 1, -1, -1))).sum(axis=1).tolist()


@pytest.fixture(scope="session")
def long_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    count = LONG_FPS * LONG_SECONDS
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=LONG_FPS, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.codec_context.gop_size = LONG_GOP
        for index, image in enumerate(bar_frames(count)):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, LONG_FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_segments_take_the_frame_on_screen_at_each_segment_centre_and_decode_little(long_video):
    clip = decode_clip(long_video, num_frames=8, sampling="segments", with_next=True)
    segment = LONG_SECONDS / 8
    expected = [int((k + 0.5) * segment * LONG_FPS) for k in range(8)]
    assert read_bars(clip.frames) == expected and read_bars(clip.next_frames) == [i + 1 for i in expected]
    assert clip.window == pytest.approx((0.0, LONG_SECONDS))
    assert clip.decoded <= 8 * (LONG_GOP + 2)  # about a keyframe interval per target, not the 1500 frames


def test_random_segment_offsets_are_seeded_and_stay_inside_their_segments(long_video):
    first = decode_clip(long_video, num_frames=6, sampling="segments", temporal="random",
                        rng=np.random.default_rng(3))
    again = decode_clip(long_video, num_frames=6, sampling="segments", temporal="random",
                        rng=np.random.default_rng(3))
    indices = read_bars(first.frames)
    assert indices == read_bars(again.frames) and first.times.tolist() == [index / LONG_FPS for index in indices]
    assert [index // (LONG_SECONDS * LONG_FPS // 6) for index in indices] == list(range(6))
    clip, _ = load_clip(long_video, ClipSpec(num_frames=4, image_size=16, sampling="segments"))
    assert clip.shape == (4, 16, 16, 3)


@pytest.mark.slow
def test_segments_decode_far_less_than_a_clip_over_the_same_span(long_video):
    sparse = decode_clip(long_video, num_frames=8, sampling="segments")
    segment = LONG_SECONDS / 8
    dense = decode_clip(long_video, num_frames=2, fps=1 / (7 * segment), start=0.5 * segment)
    assert read_bars(dense.frames) == [read_bars(sparse.frames)[0], read_bars(sparse.frames)[-1]]
    assert dense.decoded > 7 * segment * LONG_FPS and sparse.decoded * 5 < dense.decoded
