"""Decode video clips with PyAV: timestamp-driven temporal sampling and rotation (resize, crop and flip: images.py).

Sampling follows presentation timestamps: each target time takes the frame on screen at that time (the last frame
whose timestamp is at or before it), so a constant and a variable frame rate file of the same content give the same
clip. Targets are `frame_stride / average frame rate` apart, or `1 / fps` with `fps`. Times are seconds from the
stream's first timestamp. The window is placed (centre, random, start) inside the usable range and clamped to the
content that decodes: a file that ends before its header or a CSV end time says is cut again inside its real content
instead of being padded past the end. Rotation metadata (display matrix, multiples of 90 degrees) is applied, so
frames come out as a player shows them.

A packet that fails to decode is skipped and counted (FFmpeg resumes at the next frame it can decode); a file is
rejected only when less than MIN_DECODED_FRACTION of the frames read decode. Decoding stops once the last needed
frame is out and seeks when the window starts late, so a clip costs about its own length. Clips longer than the
video are padded by repeating the last frame (keeps the motion direction intact, which looping would break).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import av
import numpy as np

from videonas.data import images

logger = logging.getLogger(__name__)

SEEK_THRESHOLD_S = 1.0  # below this a seek costs more than decoding from the start
MIN_DECODED_FRACTION = 0.5  # of the frames read (decoded + failed packets): below it the file is skipped
TIME_TOLERANCE = 0.05  # of a target interval: container rounding (e.g. to 1 ms) must not move a hit one frame early


class VideoError(ValueError):
    """A video that gives no clip. `reason` is the short category the load report counts ("does not exist", ...)."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        super().__init__(f"video file {str(path)!r}: {reason}" + (f" ({detail})" if detail else ""))
        self.path, self.reason = str(path), reason


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """How to cut one clip out of a video. Exactly one of `frame_stride` (source frames) or `fps` sets the sampling.

    `start` (seconds) fixes the window start; None takes the centre of the video (or of the record's time window).
    `flow` computes optical flow at the same sampled times, between each sampled frame and the next source frame.
    """

    num_frames: int = 8
    image_size: int = 64
    frame_stride: int = 1
    fps: float | None = None
    start: float | None = None
    rgb: bool = True
    flow: bool = False
    flow_method: str = "dis"

    def __post_init__(self) -> None:
        if not isinstance(self.num_frames, int) or self.num_frames < 1:
            raise ValueError(f"ClipSpec.num_frames must be a positive int, got {self.num_frames!r}")
        if not isinstance(self.image_size, int) or self.image_size < 1:
            raise ValueError(f"ClipSpec.image_size must be a positive int, got {self.image_size!r}")
        if not isinstance(self.frame_stride, int) or self.frame_stride < 1:
            raise ValueError(f"ClipSpec.frame_stride must be a positive int, got {self.frame_stride!r}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"ClipSpec.fps must be positive or None, got {self.fps!r}")
        if self.start is not None and self.start < 0:
            raise ValueError(f"ClipSpec.start must be >= 0 or None, got {self.start!r}")
        if not (self.rgb or self.flow):
            raise ValueError("ClipSpec needs rgb=True or flow=True, got both False")
        if self.flow_method not in ("dis", "farneback", "tvl1"):
            raise ValueError(f"ClipSpec.flow_method must be 'dis', 'farneback' or 'tvl1', got {self.flow_method!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DecodedClip:
    frames: np.ndarray  # uint8 (T, H, W, 3), upright (rotation applied), not resized
    next_frames: np.ndarray | None  # the source frame after each sampled one (for flow), or None
    window: tuple[float, float]  # seconds covered by the targets
    times: np.ndarray  # float64 (T,): timestamp of each returned frame
    problems: tuple[str, ...] = ()  # what was wrong with a file that still gave this clip


def open_video(path: str | Path):
    """The file opened by PyAV, or ``VideoError`` saying why it is not a readable video (missing, empty, no stream)."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise VideoError(path, "broken link", f"points to {os.readlink(path)!r}")
    if not path.is_file():
        raise VideoError(path, "does not exist")
    if path.stat().st_size == 0:
        raise VideoError(path, "empty", "0 bytes")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(path, "cannot be opened", f"FFmpeg: {error}") from error
    if not container.streams.video:
        container.close()
        raise VideoError(path, "no video stream")
    return container


def probe(path: str | Path) -> dict:
    """Duration (seconds, may be None), average frame rate and frame size (as stored) from the container header."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        return {"duration": _duration(container, stream), "fps": _rate(stream),
                "width": stream.codec_context.width, "height": stream.codec_context.height}


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _rate(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 25.0


def _origin(stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0


class FrameReader:
    """Frames of one video stream in presentation order, with times relative to the stream start. A packet that
    fails to decode is counted and skipped; a container read error ends the stream (after flushing the decoder)."""

    def __init__(self, container, rate: float):
        self.container, self.stream, self.rate = container, container.streams.video[0], rate
        self.origin, self.decoded, self.failed = _origin(self.stream), 0, 0

    def seek(self, seconds: float) -> None:
        """To the keyframe at or before `seconds`; where the file cannot seek, decoding simply starts at the start."""
        target = int((seconds + self.origin) / float(self.stream.time_base))
        try:
            self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError:
            logger.debug("cannot seek in %s: decoding from the start", self.container.name)

    def _decode(self, packet):
        try:
            return packet.decode() if packet is not None else self.stream.codec_context.decode(None)
        except av.FFmpegError:
            self.failed += 1
            return []

    def frames(self):
        time = None
        packets = self.container.demux(self.stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError:
                self.failed += 1
                packet = None  # flush what the decoder holds, then stop
            for frame in self._decode(packet):
                if frame.time is not None:
                    time = frame.time - self.origin
                else:
                    time = time + 1.0 / self.rate if time is not None else 0.0
                self.decoded += 1
                yield time, frame
            if packet is None:
                return


def _content_end(path: str | Path, header: float | None) -> float | None:
    """End of the last video packet (seconds from the stream start), from the packets' own timestamps: headers
    disagree with them (an mp4 of variable frame rate can state 2.6 s for 4 s of frames). Demuxes (no decoding) from
    the last keyframe before the header's end, or the whole file when that finds nothing (an index pointing past the
    end of a truncated file, a file that cannot seek)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        origin, end = _origin(stream), None
        for seconds in (header or 1e9, 0.0):
            try:
                container.seek(int((seconds + origin) / float(stream.time_base)), stream=stream, backward=True)
            except av.FFmpegError:
                pass  # cannot seek: demux from where it is (the start, on the first try)
            try:
                for packet in container.demux(stream):
                    if packet.pts is not None:
                        stop = float(packet.pts * stream.time_base) - origin + (
                            float(packet.duration * stream.time_base) if packet.duration else 1.0 / _rate(stream))
                        end = stop if end is None else max(end, stop)
            except av.FFmpegError:
                pass
            if end is not None:
                return end
    return None


def _targets(lo: float, hi: float | None, count: int, interval: float, rate: float, start: float | None,
             offset: float) -> np.ndarray:
    """Target times: `count` steps of `interval` from `start`, or from `lo + offset * slack` when start is None,
    clamped so that the clip ends inside [lo, hi] when it fits (a window past the end takes the content's last part)."""
    span = (count - 1) * interval
    if hi is not None:
        lo = min(lo, max(0.0, hi - span - 1.0 / rate))
    slack = max(0.0, hi - lo - span - 1.0 / rate) if hi is not None else 0.0
    start = lo + offset * slack if start is None else min(start, lo + slack) if hi is not None else start
    return start + interval * np.arange(count)


def sample_timing(rate: float, frame_stride: int, fps: float | None) -> tuple[float, float]:
    """(interval between targets, tolerance of a hit) in seconds."""
    interval = frame_stride / rate if fps is None else 1.0 / fps
    return interval, TIME_TOLERANCE * min(interval, 1.0 / rate)


def usable_range(path: str | Path, container, window: tuple[float | None, float | None]):
    """(rate, lo, hi, problems): the stream's rate and the usable range, [window start, the earliest of window end
    and content end (header duration when the packets say nothing)], with a problem when the content stops early."""
    stream = container.streams.video[0]
    rate = _rate(stream)
    lo = max(0.0, window[0] or 0.0)
    header = _duration(container, stream)
    content = _content_end(path, header)
    stated = float(stream.duration * stream.time_base) if stream.duration else None
    problems = []
    if content is not None and stated is not None and content < stated - 1.0 / rate:
        problems.append(f"content ends at {content:.3f} s, before the {stated:.3f} s its header states")
    limits = [value for value in (window[1], content if content is not None else header) if value is not None]
    return rate, lo, min(limits) if limits else None, problems


def frame_end(time: float, frame, rate: float) -> float:
    """When `frame` (shown from `time`) leaves the screen: its own duration, else one frame at the average rate."""
    return time + (float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 1.0 / rate)


def select_frames(times, end: float | None, targets: np.ndarray, tolerance: float):
    """The sampling rule, on the frame times read: each target takes the last frame whose time is at or before
    target + tolerance (the first frame for targets before it); past the last frame, that frame while the target is
    before `end` - tolerance. `end` None means more frames follow: targets past the last frame read take it for now.

    Returns (chosen, nexts, short): frame indices for the targets served (a prefix of them), the frame after each
    (the same one past the end, for flow), and `end` when some targets are past it (else None)."""
    times = np.asarray(times, np.float64)
    if not len(times):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    limits = np.maximum.accumulate(times[1:] - tolerance)  # a target before limits[i] is served by frame i or earlier
    chosen = np.searchsorted(limits, targets, side="right")
    count = len(targets)
    if end is not None:  # served by a frame after them, or inside the last frame's duration
        count = max(int(np.sum(chosen < len(limits))), int(np.sum(targets < end - tolerance)))
    chosen = chosen[:count]
    return chosen, np.minimum(chosen + 1, len(times) - 1), None if count == len(targets) else end


def sample_frames(read, *, lo: float, hi: float | None, num_frames: int, interval: float, rate: float,
                  start: float | None, offset: float, tolerance: float, problems: list[str]):
    """(targets, chosen, nexts, problems) for a clip, by `select_frames` on what `read(targets) -> (times, end)`
    gives; when the frames stop before `hi` the targets are placed again inside them (a problem unless `problems`
    already says why). Clips longer than the video repeat the last frame. decode_clip and the source cache both cut
    here."""
    targets = _targets(lo, hi, num_frames, interval, rate, start, offset)
    chosen, nexts, short = select_frames(*read(targets), targets, tolerance)
    if short and (hi is None or short < hi - tolerance):  # the frames stop before the packets: cut inside them
        if not problems:
            expected = f", before the {hi:.3f} s expected" if hi is not None else ""
            problems = [f"frames end at {short:.3f} s{expected}"]
        targets = _targets(lo, short, num_frames, interval, rate, start, offset)
        chosen, nexts, _ = select_frames(*read(targets), targets, tolerance)
    if len(chosen) and len(chosen) < num_frames:
        padding = np.full(num_frames - len(chosen), chosen[-1])
        chosen, nexts = np.concatenate([chosen, padding]), np.concatenate([nexts, padding])
    return targets, chosen, nexts, list(problems)


def check_decoded(path: str | Path, *, decoded: int, failed: int, chosen: int) -> list[str]:
    """Raises VideoError when a file gives no clip; else the problems of the packets that failed (if any)."""
    if not chosen:
        raise VideoError(path, "no decodable frames", f"{failed} packets failed")
    read = decoded + failed
    if decoded < MIN_DECODED_FRACTION * read:
        raise VideoError(path, "too few frames decode", f"{decoded} of {read} read")
    return [f"{failed} of {read} packets read failed to decode"] if failed else []


def upright_rgb(frame) -> np.ndarray:
    """The frame as RGB, rotated as its display matrix says (counter-clockwise degrees, multiples of 90)."""
    image = frame.to_ndarray(format="rgb24")
    quarter_turns = round((frame.rotation or 0) / 90)
    if quarter_turns % 4 and abs(frame.rotation - 90 * quarter_turns) < 1:
        image = np.rot90(image, quarter_turns % 4)
    return image


class _FileRead:
    """`read` for `sample_frames` on a file: decodes from the keyframe before the first target (from the start when
    that gives nothing, e.g. an inexact seek in MPEG-TS) until every target has its frame, keeping only the frames
    that `select_frames` can still pick. Each call after the first reopens the file."""

    PRUNE_EVERY = 64  # frames held before the ones no target can take are dropped

    def __init__(self, path: str | Path, container, rate: float, tolerance: float):
        self.path, self.container, self.rate, self.tolerance = path, container, rate, tolerance
        self.reader, self.frames, self.seek = None, {}, True

    def __call__(self, targets: np.ndarray):
        times, end = self._read(targets)
        if (self.seek and targets[0] > SEEK_THRESHOLD_S
                and not len(select_frames(times, end, targets, self.tolerance)[0])):
            self.seek = False
            times, end = self._read(targets)
        return times, end

    def _read(self, targets: np.ndarray):
        if self.reader is not None:
            self.container.close()
            self.container = open_video(self.path)
        self.reader, self.frames, self.times = FrameReader(self.container, self.rate), {}, []
        times = self.times
        if self.seek and targets[0] > SEEK_THRESHOLD_S:
            self.reader.seek(float(targets[0]))
        for time, frame in self.reader.frames():
            self.frames[len(times)] = frame
            times.append(time)
            if len(times) > 1 and targets[-1] < time - self.tolerance:  # the last target has its frame
                return times, None
            if len(self.frames) > self.PRUNE_EVERY + 2 * len(targets):
                chosen, nexts, _ = select_frames(times, None, targets, self.tolerance)
                keep = {*chosen.tolist(), *nexts.tolist()}
                self.frames = {index: kept for index, kept in self.frames.items() if index in keep}
        if not times:
            return times, 0.0
        return times, frame_end(times[-1], self.frames[len(times) - 1], self.rate)


def _images(frames) -> np.ndarray:
    """Upright RGB arrays of the chosen frames (each distinct frame converted once)."""
    converted = {}
    for frame in frames:
        if id(frame) not in converted:
            converted[id(frame)] = upright_rgb(frame)
    return np.stack([converted[id(frame)] for frame in frames])


def _offset(temporal: str, start: float | None, rng: np.random.Generator | None) -> float:
    if temporal not in ("center", "random", "start"):
        raise ValueError(f"temporal must be 'center', 'random' or 'start', got {temporal!r}")
    if temporal == "random" and rng is None:
        raise ValueError("temporal='random' needs an explicit rng (numpy.random.Generator)")
    offset = {"center": 0.5, "start": 0.0}.get(temporal)
    return offset if offset is not None else float(rng.uniform(0.0, 1.0)) if start is None else 0.0


def decode_clip(path: str | Path, *, num_frames: int, frame_stride: int = 1, fps: float | None = None,
                start: float | None = None, window: tuple[float | None, float | None] = (None, None),
                temporal: str = "center", rng: np.random.Generator | None = None,
                with_next: bool = False) -> DecodedClip:
    """Decode `num_frames` frames. `window` bounds the usable part of the file (e.g. a CSV's time_start/time_end);
    `start` (seconds from the stream start) overrides `temporal` ("center" | "random" | "start" placement inside the
    window). Raises VideoError (a ValueError) naming the file and the reason when the file gives no clip."""
    offset = _offset(temporal, start, rng)
    container = open_video(path)
    read = None
    try:
        rate, lo, hi, problems = usable_range(path, container, window)
        interval, tolerance = sample_timing(rate, frame_stride, fps)
        read = _FileRead(path, container, rate, tolerance)
        targets, chosen, nexts, problems = sample_frames(read, lo=lo, hi=hi, num_frames=num_frames,
                                                         interval=interval, rate=rate, start=start, offset=offset,
                                                         tolerance=tolerance, problems=problems)
        problems += check_decoded(path, decoded=read.reader.decoded, failed=read.reader.failed, chosen=len(chosen))
        return DecodedClip(_images([read.frames[index] for index in chosen]),
                           _images([read.frames[index] for index in nexts]) if with_next else None,
                           (float(targets[0]), float(targets[-1] + interval)),
                           np.array([read.times[index] for index in chosen]), tuple(problems))
    except av.FFmpegError as error:
        raise VideoError(path, "decoding failed", str(error)) from error
    finally:
        (read.container if read is not None else container).close()


def load_clip(path: str | Path, spec: ClipSpec, *, window: tuple[float | None, float | None] = (None, None),
              train: bool = False, rng: np.random.Generator | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Decode + sample + resize one RGB clip. `train=True` uses random temporal/spatial crops and a random flip."""
    if train and rng is None:
        raise ValueError("train=True needs an explicit rng (numpy.random.Generator)")
    decoded = decode_clip(path, num_frames=spec.num_frames, frame_stride=spec.frame_stride, fps=spec.fps,
                          start=spec.start, window=window, temporal="random" if train else "center", rng=rng)
    clip = images.resize_clip(decoded.frames, spec.image_size, crop="random" if train else "center", rng=rng)
    if train and rng.random() < 0.5:
        clip = images.flip_clip(clip)
    return clip, decoded.window
