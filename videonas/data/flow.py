"""Optical flow from decoded frames with OpenCV.

Flow is computed at the clip's resized resolution between each sampled frame and the source frame right after it
(the instantaneous motion at the sampled time, as in two-stream networks), so it has its own frame pairs rather than
the gaps between sampled frames. Units: pixels per source frame at the clip resolution, multiplied by FLOW_SCALE
(1/20), so that typical motion (a few pixels per frame) gives values well inside [-1, 1].
"""

from __future__ import annotations

import cv2
import numpy as np

FLOW_SCALE = 1.0 / 20.0


def _estimator(method: str):
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 9, 3, 5, 1.1, 0)
    if method == "tvl1":
        if not hasattr(cv2, "optflow"):
            raise ValueError("flow method 'tvl1' needs cv2.optflow (opencv-contrib), which is not installed")
        tvl1 = cv2.optflow.DualTVL1OpticalFlow_create()
        return lambda a, b: tvl1.calc(a, b, None)
    raise ValueError(f"flow method must be 'dis', 'farneback' or 'tvl1', got {method!r}")


def compute_flow(frames: np.ndarray, next_frames: np.ndarray, *, method: str = "dis") -> np.ndarray:
    """Flow from frames[t] to next_frames[t] for uint8 RGB arrays (T, H, W, 3); returns float32 (T, H, W, 2) scaled."""
    if frames.shape != next_frames.shape or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames and next_frames must both be (T, H, W, 3), got {frames.shape} and {next_frames.shape}")
    estimate = _estimator(method)
    flows = np.empty(frames.shape[:3] + (2,), np.float32)
    for index, (first, second) in enumerate(zip(frames, next_frames)):
        gray_first = cv2.cvtColor(first, cv2.COLOR_RGB2GRAY)
        gray_second = cv2.cvtColor(second, cv2.COLOR_RGB2GRAY)
        flows[index] = estimate(gray_first, gray_second)
    return flows * FLOW_SCALE
