"""Sparse segment sampling (TSN): the usable range cut into N equal segments and one frame taken from each, the
centre for evaluation or a seeded random offset for training, each reached by its own seek.

A clip decodes everything between its first and last target; N frames spread over a 10-minute video would decode the
whole video. Here each target is reached by a seek to the keyframe at or before it and decoding forward to the
frame on screen at the target (the rule of targets.py), so the cost is about N keyframe intervals whatever the
length. Targets less than SEEK_THRESHOLD_S ahead of the frames already decoded are reached by decoding on instead.
A seek that lands after its target (inexact seeking, e.g. MPEG-TS) is retried further back, then from the start.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from videonas.data import reader, targets

SEEK_THRESHOLD_S = 1.0  # a target closer than this to the frames decoded is reached by decoding on, not by a seek
RETRY_BACK_S = (2.0, 8.0)  # how far before a target to seek again when a seek lands after it


class SeekingReader:
    """The frame on screen at increasing target times, reached by a keyframe seek per target (see module doc)."""

    def __init__(self, container, rate: float, tolerance: float):
        self.reader, self.tolerance = reader.FrameReader(container, rate), tolerance
        self.run, self.before, self.last = None, None, None  # frames of the current run, the two latest decoded

    def _seek(self, seconds: float) -> None:
        self.reader.seek(max(seconds, 0.0))
        self.run, self.before, self.last = self.reader.frames(), None, None

    def _reachable(self, target: float) -> bool:
        """Whether decoding on from the current run reaches `target`'s frame: it is not passed yet, and near."""
        if self.run is None or self.last is None or target - self.last[0] > SEEK_THRESHOLD_S:
            return False
        kept = self.before if self.before is not None else self.last
        return kept[0] - self.tolerance <= target

    def on_screen(self, target: float):
        """((time, frame), (time, frame) after it) for `target`, or None when no frame decodes at or before it."""
        if not self._reachable(target):
            self._seek(target)
        for back in (*RETRY_BACK_S, None):
            found = self._forward(target)
            if found is not None:
                return found
            if back is None or target - back <= 0:
                self._seek(0.0)
                return self._forward(target)
            self._seek(target - back)
        return None

    def _forward(self, target: float):
        while True:
            if self.last is not None and self.last[0] - self.tolerance > target:  # the frame after the target
                if self.before is not None:
                    return self.before, self.last
                if self.last[0] <= self.tolerance:  # the stream's first frame: it serves targets before it
                    self.before, self.last = self.last, next(self.run, self.last)
                    return self.before, self.last
                return None  # the seek landed after the target
            item = next(self.run, None)
            if item is None:  # end of the stream: its last frame stays on screen
                return (self.last, self.last) if self.last is not None else None
            self.before, self.last = self.last, item


def offsets(temporal: str, count: int, rng: np.random.Generator | None) -> np.ndarray | float:
    """Where in each segment its target falls: the centre, a seeded uniform draw per segment, or its start."""
    if temporal == "random":
        return rng.uniform(0.0, 1.0, count)
    return {"center": 0.5, "start": 0.0}[temporal]


def decode_segments(path: str | Path, *, num_segments: int, window: tuple[float | None, float | None] = (None, None),
                    temporal: str = "center", rng: np.random.Generator | None = None,
                    with_next: bool = False) -> reader.DecodedClip:
    """One frame per segment of the usable range (`window` bounds it, e.g. a CSV's times). `temporal` "center",
    "random" (needs `rng`) or "start" places the target inside each segment. The clip's window is the whole usable
    range. Raises VideoError (a ValueError) naming the file and the reason when the file gives no clip."""
    container = reader.open_video(path)
    try:
        rate, lo, hi, problems = reader.usable_range(path, container, window)
        if hi is None:
            raise reader.VideoError(path, "unknown duration", "segment sampling needs the end of the content")
        tolerance = targets.sample_timing(rate, 1, None)[1]
        times = targets.segment_targets(lo, hi, num_segments, offsets(temporal, num_segments, rng))
        seeker = SeekingReader(container, rate, tolerance)
        found = [seeker.on_screen(float(time)) for time in times]
        served = [pair for pair in found if pair is not None]
        problems += reader.check_decoded(path, decoded=seeker.reader.decoded, failed=seeker.reader.failed,
                                         chosen=len(served))
        if len(served) < len(found):
            problems.append(f"no frame decodes at {len(found) - len(served)} of {len(found)} segment targets")
            fill = served[0]
            for index, pair in enumerate(found):
                found[index] = fill = pair if pair is not None else fill
        return reader.DecodedClip(reader.upright_images([chosen[1] for chosen, _ in found]),
                                  reader.upright_images([after[1] for _, after in found]) if with_next else None,
                                  (lo, hi), np.array([chosen[0] for chosen, _ in found]), tuple(problems),
                                  seeker.reader.decoded)
    except av.FFmpegError as error:
        raise reader.VideoError(path, "decoding failed", str(error)) from error
    finally:
        container.close()
