"""Reading video files with PyAV: opening (with a reason when a file is not a video), header facts, the stream's
frames in presentation order with their times, where the content really ends, and the upright RGB of a frame.

Times are seconds from the stream's first timestamp. A packet that fails to decode is skipped and counted (FFmpeg
resumes at the next frame it can decode); a file is rejected only when less than MIN_DECODED_FRACTION of the frames
read decode. Rotation metadata (display matrix, multiples of 90 degrees) is applied, so frames come out as a player
shows them. decode.py (clips) and segments.py (one frame per segment) read through here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import av
import numpy as np

logger = logging.getLogger(__name__)

MIN_DECODED_FRACTION = 0.5  # of the frames read (decoded + failed packets): below it the file is skipped
END_MARGIN_S = 2.0  # content_end demuxes from this far before the header's end: covers reordering and inexact seeks


class VideoError(ValueError):
    """A video that gives no clip. `reason` is the short category the load report counts ("does not exist", ...)."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        super().__init__(f"video file {str(path)!r}: {reason}" + (f" ({detail})" if detail else ""))
        self.path, self.reason = str(path), reason


@dataclasses.dataclass


class DecodedClip:
    frames: np.ndarray  # uint8 (T, H, W, 3), upright (rotation applied), not resized
    next_frames: np.ndarray | None  # the source frame after each sampled one (for flow), or None
    window: tuple[float, float]  # seconds covered by the targets
    times: np.ndarray  # float64 (T,): timestamp of each returned frame
    problems: tuple[str, ...] = ()  # what was wrong with a file that still gave this clip
    decoded: int = 0  # frames the decoder produced for this clip (0: cut from frames already in memory)


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


def content_end(path: str | Path, header: float | None) -> float | None:
    """End of the last video packet (seconds from the stream start), from the packets' own timestamps: headers
    disagree with them (an mp4 of variable frame rate can state 2.6 s for 4 s of frames). Demuxes (no decoding) from
    the last keyframe at least END_MARGIN_S before the header's end (packets come in decoding order: the last frame
    shown can come before the last packet read), or the whole file when that finds nothing (an index pointing past
    the end of a truncated file, a file that cannot seek)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        origin, end = _origin(stream), None
        for seconds in (max(0.0, header - END_MARGIN_S) if header else 1e9, 0.0):
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


def usable_range(path: str | Path, container, window: tuple[float | None, float | None]):
    """(rate, lo, hi, problems): the stream's rate and the usable range, [window start, the earliest of window end
    and content end (header duration when the packets say nothing)], with a problem when the content stops early."""
    stream = container.streams.video[0]
    rate = _rate(stream)
    lo = max(0.0, window[0] or 0.0)
    header = _duration(container, stream)
    content = content_end(path, header)
    stated = float(stream.duration * stream.time_base) if stream.duration else None
    problems = []
    if content is not None and stated is not None and content < stated - 1.0 / rate:
        problems.append(f"content ends at {content:.3f} s, before the {stated:.3f} s its header states")
    limits = [value for value in (window[1], content if content is not None else header) if value is not None]
    return rate, lo, min(limits) if limits else None, problems


def frame_end(time: float, frame, rate: float) -> float:
    """When `frame` (shown from `time`) leaves the screen: its own duration, else one frame at the average rate."""
    return time + (float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 1.0 / rate)


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


def upright_images(frames) -> np.ndarray:
    """Upright RGB arrays of `frames` stacked (a frame chosen several times is converted once)."""
    converted = {}
    for frame in frames:
        if id(frame) not in converted:
            converted[id(frame)] = upright_rgb(frame)
    return np.stack([converted[id(frame)] for frame in frames])
