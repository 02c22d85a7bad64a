"""Decode video clips with PyAV: timestamp-driven temporal sampling (targets.py holds the rule), rotation applied
(reader.py), resize, crop and flip (images.py).

Each target time takes the frame on screen at that time (the last frame whose timestamp is at or before it), so a
constant and a variable frame rate file of the same content give the same clip. Targets are `frame_stride / average
frame rate` apart, or `1 / fps` with `fps`. Times are seconds from the stream's first timestamp. An explicit `start`
is honoured; without one the window is placed (centre, random, start) inside the usable range and clamped to the
content that decodes: a file that ends before its header or a CSV end time says is cut again inside its real content
instead of being padded past the end. Clips longer than the video repeat its last frame.

`sampling="clip"` decodes from the keyframe before the first target until the last target has its frame, so a clip
costs about its own length. `sampling="segments"` (segments.py) takes one frame per equal segment of the video with a
seek per target, for sparse sampling over long videos.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np

from videonas.data import images, segments
from videonas.data.reader import (DecodedClip, FrameReader, VideoError, check_decoded, frame_end, open_video, probe,
                                  upright_images, upright_rgb, usable_range)
from videonas.data.targets import sample_frames, sample_timing, select_frames

__all__ = [  # with the reading and sampling pieces the source cache (source.py) uses from here
    "ClipSpec", "DecodedClip", "FrameReader", "VideoError", "check_decoded", "decode_clip", "frame_end", "load_clip",
    "open_video", "probe", "sample_frames", "sample_timing", "select_frames", "upright_rgb", "usable_range",
]

SEEK_THRESHOLD_S = 1.0  # below this a seek costs more than decoding from the start
SAMPLINGS = ("clip", "segments")


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """How to cut one clip out of a video. Exactly one of `frame_stride` (source frames) or `fps` sets the sampling.

    `start` (seconds) fixes the window start; None takes the centre of the video (or of the record's time window).
    `flow` computes optical flow at the same sampled times, between each sampled frame and the next source frame.
    `sampling` "segments" takes one frame from each of `num_frames` equal segments of the whole video instead of a
    contiguous clip (TSN; stride, fps and start do not apply).
    """

    num_frames: int = 8
    image_size: int = 64
    frame_stride: int = 1
    fps: float | None = None
    start: float | None = None
    rgb: bool = True
    flow: bool = False
    flow_method: str = "dis"
    sampling: str = "clip"

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
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"ClipSpec.sampling must be 'clip' or 'segments', got {self.sampling!r}")
        if self.sampling == "segments":
            for field, default in (("frame_stride", 1), ("fps", None), ("start", None)):
                if getattr(self, field) != default:
                    raise ValueError(f"ClipSpec.{field} must be {default!r} with sampling='segments' (one frame "
                                     f"per segment of the whole video), got {getattr(self, field)!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class _FileRead:
    """`read` for `sample_frames` on a file: decodes from the keyframe before the first target (from the start when
    that gives nothing or lands after the target, e.g. an inexact seek in MPEG-TS) until every target has its frame,
    keeping only the frames that `select_frames` can still pick. Each call after the first reopens the file."""

    PRUNE_EVERY = 64  # frames held before the ones no target can take are dropped

    def __init__(self, path: str | Path, container, rate: float, tolerance: float):
        self.path, self.container, self.rate, self.tolerance = path, container, rate, tolerance
        self.reader, self.frames, self.seek, self.spent = None, {}, True, 0

    @property
    def decoded(self) -> int:
        """Frames decoded by every read of this clip."""
        return self.spent + (self.reader.decoded if self.reader is not None else 0)

    def __call__(self, targets: np.ndarray):
        times, end = self._read(targets)
        if self.seek and targets[0] > SEEK_THRESHOLD_S and (
                not len(select_frames(times, end, targets, self.tolerance)[0])
                or times[0] - self.tolerance > targets[0]):  # the seek landed after the first target
            self.seek = False
            times, end = self._read(targets)
        return times, end

    def _read(self, targets: np.ndarray):
        if self.reader is not None:
            self.spent += self.reader.decoded
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
                with_next: bool = False, sampling: str = "clip") -> DecodedClip:
    """Decode `num_frames` frames. `window` bounds the usable part of the file (e.g. a CSV's time_start/time_end);
    `start` (seconds from the stream start) overrides `temporal` ("center" | "random" | "start" placement inside the
    window). `sampling="segments"` takes one frame per segment instead (see ClipSpec). Raises VideoError (a
    ValueError) naming the file and the reason when the file gives no clip."""
    offset = _offset(temporal, start, rng)
    if sampling not in SAMPLINGS:
        raise ValueError(f"sampling must be 'clip' or 'segments', got {sampling!r}")
    if sampling == "segments":
        ClipSpec(num_frames=num_frames, frame_stride=frame_stride, fps=fps, start=start, sampling=sampling)
        return segments.decode_segments(path, num_segments=num_frames, window=window, temporal=temporal, rng=rng,
                                        with_next=with_next)
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
        return DecodedClip(upright_images([read.frames[index] for index in chosen]),
                           upright_images([read.frames[index] for index in nexts]) if with_next else None,
                           (float(targets[0]), float(targets[-1] + interval)),
                           np.array([read.times[index] for index in chosen]), tuple(problems), read.decoded)
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
                          start=spec.start, window=window, temporal="random" if train else "center", rng=rng,
                          sampling=spec.sampling)
    clip = images.resize_clip(decoded.frames, spec.image_size, crop="random" if train else "center", rng=rng)
    if train and rng.random() < 0.5:
        clip = images.flip_clip(clip)
    return clip, decoded.window
