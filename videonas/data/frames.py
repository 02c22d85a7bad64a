"""Frame folders: a video stored as a folder of numbered images (Something-Something v1, Charades RGB frames), read as a
video at a stated frame rate.

Image i (in numeric order of the last number in its name: `00001.jpg`, `46GP8-000001.jpg`) is shown from i / rate to
(i + 1) / rate, so a clip is cut by the same sampling rule as a video file (`decode.sample_frames`: the image on screen
at each target time) and only the chosen images are read. An image that cannot be read is the VideoError the load
report counts, like a damaged video file.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from videonas.data import decode
from videonas.data.decode import DecodedClip, VideoError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _order(path: Path) -> tuple[int, str]:
    match = _NUMBER.search(path.stem)
    return (int(match.group(1)) if match else -1, path.name)


def frame_files(folder: str | Path) -> list[Path]:
    """The images of a frame folder in frame order (hidden files left out)."""
    folder = Path(folder)
    return sorted((path for path in folder.iterdir() if path.suffix.lower() in IMAGE_EXTENSIONS
                   and not path.name.startswith(".") and path.is_file()), key=_order)


def is_frame_folder(path: str | Path) -> bool:
    """A folder holding at least one image."""
    path = Path(path)
    return path.is_dir() and any(entry.suffix.lower() in IMAGE_EXTENSIONS for entry in path.iterdir())


def read_image(path: str | Path, folder: str | Path) -> np.ndarray:
    """RGB uint8 (H, W, 3); VideoError naming the frame folder when the image does not decode."""
    data = np.fromfile(str(path), np.uint8)  # not cv2.imread: it fails on non-ASCII paths on some platforms
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise VideoError(folder, "unreadable frame", Path(path).name)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _files(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise VideoError(folder, "does not exist")
    files = frame_files(folder)
    if not files:
        raise VideoError(folder, "no frames", f"no {'/'.join(IMAGE_EXTENSIONS)} images")
    return files


def probe(folder: str | Path, rate: float) -> dict:
    """What `decode.probe` says of a video file: duration, rate and the first image's size."""
    files = _files(folder)
    height, width = read_image(files[0], folder).shape[:2]
    return {"duration": len(files) / rate, "fps": float(rate), "width": width, "height": height}


def usable_range(count: int, rate: float, window: tuple[float | None, float | None]) -> tuple[float, float]:
    """(lo, hi) seconds: the window inside the frames' span [0, count / rate]."""
    end = count / rate
    return max(0.0, window[0] or 0.0), min(end, window[1]) if window[1] is not None else end


def read_all(folder: str | Path, rate: float):
    """(times, images) of every frame, for the source cache (which keeps a split's frames decoded once)."""
    files = _files(folder)
    return np.arange(len(files)) / rate, (read_image(path, folder) for path in files)


def decode_clip(folder: str | Path, *, rate: float, num_frames: int, frame_stride: int = 1, fps: float | None = None,
                start: float | None = None, window: tuple[float | None, float | None] = (None, None),
                with_next: bool = False) -> DecodedClip:
    """What `decode.decode_clip` gives for a video file (centre placement), for a frame folder at `rate` fps."""
    files = _files(folder)
    times = np.arange(len(files)) / rate
    lo, hi = usable_range(len(files), rate, window)
    interval, tolerance = decode.sample_timing(rate, frame_stride, fps)
    targets, chosen, nexts, problems = decode.sample_frames(
        lambda _: (times, len(files) / rate), lo=lo, hi=hi, num_frames=num_frames, interval=interval, rate=rate,
        start=start, offset=0.5, tolerance=tolerance, problems=[])
    wanted = {*chosen.tolist(), *(nexts.tolist() if with_next else ())}
    images = {index: read_image(files[index], folder) for index in wanted}
    sizes = {image.shape for image in images.values()}
    if len(sizes) > 1:
        raise VideoError(folder, "frames of different sizes", ", ".join(map(str, sorted(sizes))))
    return DecodedClip(np.stack([images[index] for index in chosen]),
                       np.stack([images[index] for index in nexts]) if with_next else None,
                       (float(targets[0]), float(targets[-1] + interval)), times[chosen], tuple(problems))
