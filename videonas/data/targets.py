"""Target times and the frame-on-screen rule: where a clip's targets fall in a video and which frame each takes.

The contract: at each target time, the frame on screen, the last frame whose presentation time is at or before the
target (the first frame for a target before it). Targets are `frame_stride / average frame rate` apart, or `1 / fps`.
An explicit start is honoured; where it cannot be (at or past the end of the content) the clip's problems say so.
Targets past the end of the usable range take its last frame, so a short video is padded with its *last* frame in
stride and fps mode alike (repeating it keeps the motion direction intact, which looping would break). The only
slack is TIME_TOLERANCE_S: Matroska and WebM store whole milliseconds, so a frame due at a target can be stored up to
half a millisecond after it; nothing wider is allowed, so on a variable frame rate a frame that starts later than
that never wins early. Sparse segment sampling (TSN) puts one target in each of N equal segments.
"""

from __future__ import annotations

import numpy as np

TIME_TOLERANCE_S = 0.0005 + 1e-6  # half a millisecond clock tick, plus float noise
MAX_TOLERANCE_FRACTION = 0.05  # of a frame interval: above 100 fps the slack shrinks with the interval


def sample_timing(rate: float, frame_stride: int, fps: float | None) -> tuple[float, float]:
    """(interval between targets, tolerance of a hit) in seconds."""
    interval = frame_stride / rate if fps is None else 1.0 / fps
    return interval, min(TIME_TOLERANCE_S, MAX_TOLERANCE_FRACTION * min(interval, 1.0 / rate))


def place_targets(lo: float, hi: float | None, count: int, interval: float, rate: float, start: float | None,
                  offset: float) -> tuple[np.ndarray, list[str]]:
    """(targets, problems): `count` targets `interval` apart from `start` when it is before `hi`; else (no start,
    or one past the end, which is a problem) at `offset` (0: first, 1: last) of the room left inside [lo, hi].
    Targets a whole number of frames apart (stride mode) start on the grid of the stream's nominal frame times, so
    that they hit frames rather than the millisecond rounding between them. A clip longer than the content starts
    at the content's start (its end is padded)."""
    steps = interval * np.arange(count)
    problems = []
    if start is not None:
        if hi is None or start < hi:
            return start + steps, problems
        problems.append(f"start {start:.3f} s is at or past the end of the content ({hi:.3f} s): "
                        f"the clip takes the content's last part instead")
        offset = 1.0
    if hi is None:
        return lo + steps, problems
    span = steps[-1]
    lo = min(lo, max(0.0, hi - span - 1.0 / rate))
    slack = max(0.0, hi - lo - span - 1.0 / rate)
    placed = lo + offset * slack
    if abs(interval * rate - round(interval * rate)) < 1e-6:  # whole frames apart (stride mode): start on a frame
        on_grid = [grid / rate for grid in (np.floor(placed * rate), np.ceil(placed * rate))
                   if lo - 1e-9 <= grid / rate <= lo + slack + 1e-9]
        # Nearest grid time; a tie (to the nanosecond, so that a header's rounding cannot decide it) takes the
        # earlier one, so a video file and the same frames as a folder place a clip alike.
        placed = min(on_grid, key=lambda time: (round(abs(time - placed), 9), time), default=placed)
    return placed + steps, problems


def segment_targets(lo: float, hi: float, count: int, offsets: np.ndarray | float) -> np.ndarray:
    """One target per segment of [lo, hi] cut in `count` equal parts, at `offsets` (0 to 1) of each: 0.5 for the
    centres (evaluation), uniform draws for training (TSN)."""
    return lo + (hi - lo) / count * (np.arange(count) + offsets)


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


def _serve(read, targets: np.ndarray, hi: float | None, tolerance: float):
    """(chosen, nexts, short) for `targets`, those at or past `hi` taking the frame on screen just before it (the
    last frame of the usable range); the clip is filled up with the last frame read when the frames end first."""
    wanted = targets if hi is None else np.minimum(targets, hi - tolerance - 1e-9)
    times, end = read(wanted)
    chosen, nexts, short = select_frames(times, end, wanted, tolerance)
    if len(chosen) and len(chosen) < len(targets):
        padding = np.full(len(targets) - len(chosen), len(times) - 1)
        chosen, nexts = np.concatenate([chosen, padding]), np.concatenate([nexts, padding])
    return chosen, nexts, short


def sample_frames(read, *, lo: float, hi: float | None, num_frames: int, interval: float, rate: float,
                  start: float | None, offset: float, tolerance: float, problems: list[str]):
    """(targets, chosen, nexts, problems) for a clip, by `select_frames` on what `read(targets) -> (times, end)`
    gives; when the frames stop before `hi` the targets are placed again inside them (a problem unless `problems`
    already says why). decode_clip and the source cache both cut here."""
    targets, placing = place_targets(lo, hi, num_frames, interval, rate, start, offset)
    chosen, nexts, short = _serve(read, targets, hi, tolerance)
    if short and (hi is None or short < hi - tolerance):  # the frames stop before the packets: cut inside them
        if not problems:
            expected = f", before the {hi:.3f} s expected" if hi is not None else ""
            problems = [f"frames end at {short:.3f} s{expected}"]
        targets, placing = place_targets(lo, short, num_frames, interval, rate, start, offset)
        chosen, nexts, _ = _serve(read, targets, short, tolerance)
    return targets, chosen, nexts, list(problems) + placing
