"""Clip image operations after decoding: resize with a square crop, and horizontal flip (flow-aware)."""

from __future__ import annotations

import cv2
import numpy as np


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
