"""Small videos with known timing, for the tests and the data bench: any presentation timestamps (variable frame
rate), rotation metadata, and frames whose colour encodes their index so that a decoded clip says which source frame
each of its frames is.

    write_video("vfr.mp4", indexed_frames(10), times=[0, 0.1, 0.15, 0.5, ...], rotation=90)
    read_indices(decode_clip("vfr.mp4", num_frames=4, fps=4).frames)  # -> [0, 2, 5, 6]
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

TIME_BASE = Fraction(1, 1000)
STEP = 16  # colour levels between consecutive indices: survives lossy coding and yuv420 conversion
LEVELS = 14  # indices per channel: 14 * 14 = 196 frames


def index_colour(index: int) -> tuple[int, int, int]:
    if not 0 <= index < LEVELS * LEVELS:
        raise ValueError(f"index must be in [0, {LEVELS * LEVELS}), got {index!r}")
    return 24 + STEP * (index % LEVELS), 24 + STEP * (index // LEVELS), 128


def indexed_frames(count: int, *, size: tuple[int, int] = (48, 32)) -> np.ndarray:
    """uint8 (count, height, width, 3): frame i is flat `index_colour(i)` with a white block in its top-left corner
    (a quarter of each side), which shows the orientation."""
    width, height = size
    frames = np.empty((count, height, width, 3), np.uint8)
    for index in range(count):
        frames[index] = index_colour(index)
    frames[:, :height // 4, :width // 4] = 255
    return frames


def read_indices(frames: np.ndarray) -> list[int]:
    """The index each frame encodes (median colour, so the marker block does not count)."""
    medians = np.median(frames.reshape(len(frames), -1, frames.shape[-1]), axis=1)
    low = np.round((medians[:, 0] - 24) / STEP).astype(int)
    high = np.round((medians[:, 1] - 24) / STEP).astype(int)
    return (low + LEVELS * high).tolist()


def marker_corner(frame: np.ndarray) -> str:
    """Which corner holds the white marker block: "top-left", "top-right", "bottom-left" or "bottom-right"."""
    height, width = frame.shape[:2]
    corners = {"top-left": frame[:height // 8, :width // 8], "top-right": frame[:height // 8, -(width // 8):],
               "bottom-left": frame[-(height // 8):, :width // 8],
               "bottom-right": frame[-(height // 8):, -(width // 8):]}
    return max(corners, key=lambda name: float(corners[name].mean()))


def write_video(path: str | Path, frames: np.ndarray, *, times: Sequence[float] | None = None, fps: float = 10,
                codec: str = "libx264", rotation: int = 0, faststart: bool = False) -> Path:
    """Encode `frames` with presentation timestamps `times` (seconds, millisecond precision; default i / fps).
    `rotation` (counter-clockwise degrees) is stored as the display matrix a phone writes; `faststart` puts an mp4's
    index first, so that a truncated copy still opens."""
    times = [index / fps for index in range(len(frames))] if times is None else list(times)
    if len(times) != len(frames) or any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError(f"times must be increasing, one per frame ({len(frames)}), got {times!r}")
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        if rotation:
            stream.set_display_rotation(rotation)
        for image, time in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = round(time / TIME_BASE), TIME_BASE
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return Path(path)
