"""Views: how a model's input is cut out of a cached clip that is longer and larger than the input.

The clip cache keeps one centred window per video (``window`` frames, a square of ``cache`` pixels). Training cuts a
clip at a random offset inside the window every epoch (temporal jitter) and, optionally, a random resized crop
(torchvision's ``RandomResizedCrop``: an area fraction and an aspect ratio, then a resize to the input size);
evaluation cuts fixed views: ``clips`` temporal positions evenly spaced over the window times ``crops`` spatial
positions evenly spaced across the square (SlowFast's "uniform" views), whose logits the caller averages. Decoding a
video anew every epoch costs about as much as training a small TVN, so jitter moves inside the cached window instead.

Pure functions over numpy arrays ``(N, T, H, W, C)``; randomness only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

ATTEMPTS = 10  # random resized crop: draws before falling back to a centre crop, as torchvision does


def spaced_offsets(length: int, size: int, count: int) -> np.ndarray:
    """``count`` start offsets of a ``size`` span evenly spaced over ``[0, length - size]``; one is the centre."""
    if size > length:
        raise ValueError(f"a span of {size} does not fit in {length}")
    if count == 1:
        return np.array([(length - size) // 2])
    return np.round(np.linspace(0, length - size, count)).astype(int)


def take_frames(array: np.ndarray, offsets: np.ndarray, num_frames: int) -> np.ndarray:
    """Row ``i`` of ``array`` from frame ``offsets[i]``, ``num_frames`` long."""
    steps = np.asarray(offsets)[:, None] + np.arange(num_frames)
    return array[np.arange(len(array))[:, None], steps]


def random_resized_boxes(rng: np.random.Generator, count: int, height: int, width: int,
                         scale: tuple[float, float], ratio: tuple[float, float]) -> np.ndarray:
    """``(count, 4)`` boxes ``(top, left, box_height, box_width)``: an area fraction drawn from ``scale`` and a
    width/height ratio drawn log-uniformly from ``ratio``; after ``ATTEMPTS`` misfits, the largest centred box whose
    ratio is within ``ratio``."""
    boxes = np.empty((count, 4), int)
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for row in range(count):
        for _ in range(ATTEMPTS):
            area = height * width * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            box_width, box_height = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
            if 0 < box_width <= width and 0 < box_height <= height:
                top = int(rng.integers(0, height - box_height + 1))
                left = int(rng.integers(0, width - box_width + 1))
                boxes[row] = top, left, box_height, box_width
                break
        else:
            aspect = min(max(width / height, ratio[0]), ratio[1])
            box_width, box_height = (width, round(width / aspect)) if width / height < aspect else (
                round(height * aspect), height)
            box_height, box_width = min(box_height, height), min(box_width, width)
            boxes[row] = (height - box_height) // 2, (width - box_width) // 2, box_height, box_width
    return boxes


def resize_boxes(array: np.ndarray, boxes: np.ndarray, size: int, *, is_flow: bool = False) -> np.ndarray:
    """Each row's box resized to ``size`` x ``size`` (bilinear). Flow vectors are in pixels, so they scale with the
    box: x by ``size / box_width``, y by ``size / box_height``."""
    source = array.astype(np.float32) if is_flow else array
    out = np.empty((len(array), array.shape[1], size, size, array.shape[4]), source.dtype)
    for row, (top, left, box_height, box_width) in enumerate(boxes):
        for frame in range(array.shape[1]):
            patch = source[row, frame, top:top + box_height, left:left + box_width]
            out[row, frame] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR).reshape(out.shape[2:])
        if is_flow:
            out[row, ..., 0] *= size / box_width
            out[row, ..., 1] *= size / box_height
    return out


@dataclasses.dataclass(frozen=True)
class Sampler:
    """Cuts ``num_frames`` x ``image_size`` inputs from a batch of cached clips. Training (``jitter``,
    ``crop_scale``) draws from the generator it is given; a fixed view (``clip`` of ``clips`` temporal positions,
    ``crop`` of ``crops`` positions across the width) draws nothing. ``crop_scale`` ``None``: a fixed crop."""

    num_frames: int
    image_size: int
    jitter: bool = False
    crop_scale: tuple[float, float] | None = None
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    clip: int = 0
    clips: int = 1
    crop: int = 0
    crops: int = 1

    def check(self, shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` unless clips of ``shape`` ``(N, T, H, W, C)`` hold this sampler's input."""
        if shape[1] < self.num_frames or min(shape[2:4]) < self.image_size:
            raise ValueError(f"cached clips of {shape[1]} frames at {shape[2]}x{shape[3]} cannot give "
                             f"{self.num_frames} frames at {self.image_size}x{self.image_size}")

    def cut(self, arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The input cut from each stream of one batch (the same offsets and boxes for every stream of a clip)."""
        first = next(iter(arrays.values()))
        count, frames, height, width = first.shape[:4]
        if self.jitter:
            offsets = rng.integers(0, frames - self.num_frames + 1, count)
        else:
            offsets = np.full(count, spaced_offsets(frames, self.num_frames, self.clips)[self.clip])
        boxes = None
        if self.crop_scale is not None:
            boxes = random_resized_boxes(rng, count, height, width, self.crop_scale, self.crop_ratio)
        top = (height - self.image_size) // 2
        left = int(spaced_offsets(width, self.image_size, self.crops)[self.crop])
        cut = {}
        for name, array in arrays.items():
            clip = take_frames(array, offsets, self.num_frames)
            if boxes is not None:
                cut[name] = resize_boxes(clip, boxes, self.image_size, is_flow=name == "flow")
            else:
                cut[name] = clip[:, :, top:top + self.image_size, left:left + self.image_size]
        return cut
