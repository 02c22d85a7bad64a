"""Decode video clips with PyAV: temporal sampling (frame count, stride or target fps), resize, crop and flip.

Decoding stops as soon as the last needed frame is out and seeks when the window starts late in the file, so a
clip costs about its own length, not the video's. Timestamps drive the sampling, so variable-frame-rate files are
resampled correctly. Rotation metadata (display matrix) is ignored: frames come out as stored.
Clips shorter than requested are padded by repeating their last frame (keeps the motion direction intact, which
looping would break with a jump back to the start).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

SEEK_THRESHOLD_S = 1.0  # below this a seek costs more than decoding from the start


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
    frames: np.ndarray  # uint8 (T, H, W, 3), as stored (not resized)
    next_frames: np.ndarray | None  # the source frame after each sampled one (for flow), or None
    window: tuple[float, float]  # seconds covered by the sampled frames


def _open_video(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file {str(path)!r}: does not exist")
    if path.stat().st_size == 0:
        raise ValueError(f"video file {str(path)!r}: is empty (0 bytes)")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, UnicodeDecodeError) as error:
        raise ValueError(f"video file {str(path)!r}: cannot be opened by FFmpeg ({error})") from error
    if not container.streams.video:
        container.close()
        raise ValueError(f"video file {str(path)!r}: has no video stream")
    return container


def probe(path: str | Path) -> dict:
    """Duration (seconds, may be None), average frame rate and frame size from the container header."""
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


def decode_clip(path: str | Path, *, num_frames: int, frame_stride: int = 1, fps: float | None = None,
                start: float | None = None, window: tuple[float | None, float | None] = (None, None),
                temporal: str = "center", rng: np.random.Generator | None = None,
                with_next: bool = False) -> DecodedClip:
    """Decode `num_frames` frames. `window` bounds the usable part of the file (e.g. a CSV's time_start/time_end);
    `start` (seconds, absolute) overrides `temporal` ("center" | "random" | "start" placement inside the window).
    Raises ValueError naming the file for anything FFmpeg cannot read."""
    if temporal not in ("center", "random", "start"):
        raise ValueError(f"temporal must be 'center', 'random' or 'start', got {temporal!r}")
    if temporal == "random" and rng is None:
        raise ValueError("temporal='random' needs an explicit rng (numpy.random.Generator)")
    container = _open_video(path)
    try:
        stream = container.streams.video[0]
        rate = _rate(stream)
        duration = _duration(container, stream)
        lo = window[0] or 0.0
        hi = window[1] if window[1] is not None else duration
        span = (num_frames - 1) * frame_stride / rate if fps is None else (num_frames - 1) / fps
        if start is None:
            slack = max(0.0, (hi - lo) - span - 1.0 / rate) if hi is not None else 0.0
            offset = {"center": slack / 2, "start": 0.0}.get(temporal)
            start = lo + (offset if offset is not None else float(rng.uniform(0.0, slack)))
        if start > SEEK_THRESHOLD_S:
            container.seek(int(start / float(stream.time_base)), stream=stream, backward=True, any_frame=False)
        return _sample(container, stream, path, rate, num_frames, frame_stride, fps, start, with_next)
    except av.FFmpegError as error:
        raise ValueError(f"video file {str(path)!r}: decoding failed ({error})") from error
    finally:
        container.close()


def _sample(container, stream, path, rate, num_frames, frame_stride, fps, start, with_next) -> DecodedClip:
    eps = 0.25 / rate
    frames: list[np.ndarray] = []
    times: list[float] = []
    nexts: list[np.ndarray] = []
    want_next = False
    previous: np.ndarray | None = None
    previous_time = None
    count = 0  # frames at or after start, for stride sampling
    targets = start + np.arange(num_frames) / fps if fps is not None else None
    for index, frame in enumerate(container.decode(stream)):
        time = frame.time if frame.time is not None else index / rate
        if time < start - eps:
            previous, previous_time = None, None
            continue
        image = frame.to_ndarray(format="rgb24")
        if want_next:
            nexts.append(image)
            want_next = False
        if targets is None:
            if count % frame_stride == 0 and len(frames) < num_frames:
                frames.append(image)
                times.append(time)
                want_next = with_next
            count += 1
            if len(frames) == num_frames and not want_next:
                break
        else:
            # Sample-and-hold on timestamps: target t takes the last frame shown at or before t (VFR-safe).
            while len(frames) < num_frames and targets[len(frames)] < time - eps and previous is not None:
                frames.append(previous)
                times.append(previous_time)
                if with_next:
                    nexts.append(image)
            previous, previous_time = image, time
            if len(frames) == num_frames:
                break
    if targets is not None and len(frames) < num_frames and previous is not None:
        frames.append(previous)
        times.append(previous_time)
        if with_next:
            nexts.append(previous)
    if not frames:
        raise ValueError(f"video file {str(path)!r}: no decodable frames at or after {start:.3f} s")
    if with_next and len(nexts) < len(frames):
        nexts.append(frames[-1])
    if len(frames) < num_frames:
        logger.debug("%s: %d of %d frames, padding with the last frame", path, len(frames), num_frames)
    clip = _pad(np.stack(frames), num_frames)
    next_clip = _pad(np.stack(nexts), num_frames) if with_next else None
    return DecodedClip(clip, next_clip, (times[0], times[-1] + 1.0 / rate))


def _pad(frames: np.ndarray, num_frames: int) -> np.ndarray:
    if len(frames) >= num_frames:
        return frames[:num_frames]
    return np.concatenate([frames, np.repeat(frames[-1:], num_frames - len(frames), axis=0)])


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
