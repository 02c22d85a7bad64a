"""Decode video clips with PyAV: timestamp-driven temporal sampling, rotation, resize, crop and flip.

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
import cv2
import numpy as np

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


def _open_video(path: str | Path):
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
    with _open_video(path) as container:
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


class _Reader:
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
    with _open_video(path) as container:
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


def _cut(reader: _Reader, targets: np.ndarray, tolerance: float, seek: bool = True):
    """(chosen, nexts, end): for each target the (time, frame) on screen at it and the frame after that one; `end`
    is where the content stopped when the stream ended before the last target (else None)."""
    if seek and targets[0] > SEEK_THRESHOLD_S:
        reader.seek(float(targets[0]))
    chosen, nexts, previous = [], [], None
    for time, frame in reader.frames():
        if previous is not None:
            while len(chosen) < len(targets) and targets[len(chosen)] < time - tolerance:
                chosen.append(previous)
                nexts.append((time, frame))
        if len(chosen) == len(targets):
            return chosen, nexts, None
        previous = (time, frame)
    if previous is None:
        return chosen, nexts, 0.0
    last_time, last = previous
    end = last_time + (float(last.duration * last.time_base) if last.duration and last.time_base else 1.0 / reader.rate)
    while len(chosen) < len(targets) and targets[len(chosen)] < end - tolerance:
        chosen.append(previous)
        nexts.append(previous)
    return chosen, nexts, None if len(chosen) == len(targets) else end


def _images(frames) -> np.ndarray:
    """RGB arrays of the chosen frames (each distinct frame converted once), rotated upright."""
    converted = {}
    for _, frame in frames:
        if id(frame) not in converted:
            image = frame.to_ndarray(format="rgb24")
            quarter_turns = round((frame.rotation or 0) / 90)
            if quarter_turns % 4 and abs(frame.rotation - 90 * quarter_turns) < 1:
                image = np.rot90(image, quarter_turns % 4)  # the display matrix angle is counter-clockwise
            converted[id(frame)] = image
    return np.stack([converted[id(frame)] for _, frame in frames])


def decode_clip(path: str | Path, *, num_frames: int, frame_stride: int = 1, fps: float | None = None,
                start: float | None = None, window: tuple[float | None, float | None] = (None, None),
                temporal: str = "center", rng: np.random.Generator | None = None,
                with_next: bool = False) -> DecodedClip:
    """Decode `num_frames` frames. `window` bounds the usable part of the file (e.g. a CSV's time_start/time_end);
    `start` (seconds from the stream start) overrides `temporal` ("center" | "random" | "start" placement inside the
    window). Raises VideoError (a ValueError) naming the file and the reason when the file gives no clip."""
    if temporal not in ("center", "random", "start"):
        raise ValueError(f"temporal must be 'center', 'random' or 'start', got {temporal!r}")
    if temporal == "random" and rng is None:
        raise ValueError("temporal='random' needs an explicit rng (numpy.random.Generator)")
    offset = {"center": 0.5, "start": 0.0}.get(temporal)
    if offset is None:
        offset = float(rng.uniform(0.0, 1.0)) if start is None else 0.0
    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        rate = _rate(stream)
        interval = frame_stride / rate if fps is None else 1.0 / fps
        tolerance = TIME_TOLERANCE * min(interval, 1.0 / rate)
        lo = max(0.0, window[0] or 0.0)
        header = _duration(container, stream)
        content = _content_end(path, header)
        stated = float(stream.duration * stream.time_base) if stream.duration else None
        problems = []
        if content is not None and stated is not None and content < stated - 1.0 / rate:
            problems.append(f"content ends at {content:.3f} s, before the {stated:.3f} s its header states")
        limits = [value for value in (window[1], content if content is not None else header) if value is not None]
        hi = min(limits) if limits else None
        targets = _targets(lo, hi, num_frames, interval, rate, start, offset)
        reader = _Reader(container, rate)
        chosen, nexts, end = _cut(reader, targets, tolerance)
        seek = bool(chosen) or targets[0] <= SEEK_THRESHOLD_S
        if not seek:  # nothing decoded after the seek (inexact in MPEG-TS, say): decode from the start instead
            container.close()
            container = _open_video(path)
            reader = _Reader(container, rate)
            chosen, nexts, end = _cut(reader, targets, tolerance, seek=False)
        if end and (hi is None or end < hi - tolerance):  # the frames stop before the packets: cut inside them
            if not problems:
                problems.append(f"frames end at {end:.3f} s, before the {hi:.3f} s expected")
            container.close()
            container = _open_video(path)
            targets = _targets(lo, end, num_frames, interval, rate, start, offset)
            reader = _Reader(container, rate)
            chosen, nexts, _ = _cut(reader, targets, tolerance, seek=seek)
        if not chosen:
            raise VideoError(path, "no decodable frames", f"{reader.failed} packets failed")
        read = reader.decoded + reader.failed
        if reader.decoded < MIN_DECODED_FRACTION * read:
            raise VideoError(path, "too few frames decode", f"{reader.decoded} of {read} read")
        if reader.failed:
            problems.append(f"{reader.failed} of {read} packets read failed to decode")
        if len(chosen) < num_frames:
            logger.debug("%s: %d of %d frames, padding with the last frame", path, len(chosen), num_frames)
            chosen += [chosen[-1]] * (num_frames - len(chosen))
            nexts += [chosen[-1]] * (num_frames - len(nexts))
        return DecodedClip(_images(chosen), _images(nexts) if with_next else None,
                           (float(targets[0]), float(targets[-1] + interval)),
                           np.array([time for time, _ in chosen]), tuple(problems))
    except av.FFmpegError as error:
        raise VideoError(path, "decoding failed", str(error)) from error
    finally:
        container.close()


def resize_clip(frames: np.ndarray, image_size: int, *, crop: str = "center",
                rng: np.random.Generator | None = None) -> np.ndarray:
    """Scale the shorter side to `image_size`, then crop a square ("center" | "random"). Works for any channel count."""
    if crop not in ("center", "random"):
        raise ValueError(f"crop must be 'center' or 'random', got {crop!r}")
    if crop == "random" and rng is None:
        raise ValueError("crop='random' needs an explicit rng (numpy.random.Generator)")
    _, height, width = frames.shape[:3]
    scale = image_size / min(height, width)
    new_h, new_w = max(image_size, round(height * scale)), max(image_size, round(width * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    if (new_h, new_w) != (height, width):
        resized = np.stack([cv2.resize(frame, (new_w, new_h), interpolation=interpolation) for frame in frames])
        frames = resized.reshape(len(frames), new_h, new_w, *frames.shape[3:])
    if crop == "center":
        top, left = (new_h - image_size) // 2, (new_w - image_size) // 2
    else:
        top, left = int(rng.integers(0, new_h - image_size + 1)), int(rng.integers(0, new_w - image_size + 1))
    return np.ascontiguousarray(frames[:, top:top + image_size, left:left + image_size])


def flip_clip(frames: np.ndarray, *, is_flow: bool = False) -> np.ndarray:
    """Horizontal flip; for flow the x component changes sign too."""
    flipped = frames[..., ::-1, :].copy()
    if is_flow:
        flipped[..., 0] *= -1
    return flipped


def load_clip(path: str | Path, spec: ClipSpec, *, window: tuple[float | None, float | None] = (None, None),
              train: bool = False, rng: np.random.Generator | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Decode + sample + resize one RGB clip. `train=True` uses random temporal/spatial crops and a random flip."""
    if train and rng is None:
        raise ValueError("train=True needs an explicit rng (numpy.random.Generator)")
    decoded = decode_clip(path, num_frames=spec.num_frames, frame_stride=spec.frame_stride, fps=spec.fps,
                          start=spec.start, window=window, temporal="random" if train else "center", rng=rng)
    clip = resize_clip(decoded.frames, spec.image_size, crop="random" if train else "center", rng=rng)
    if train and rng.random() < 0.5:
        clip = flip_clip(clip)
    return clip, decoded.window
