"""Source cache: every video of a split decoded once, at its native resolution, with its frame times.

A TVN genome carries its own input (frames, size, stride), so without this every new combination decodes the whole
split again. From the source, a ClipSpec's clips are cut in memory by the same rule as `decode_clip`
(`decode.sample_frames` on the stored frame times, with the usable range and stream end computed as decode_clip
does), then resized: the clips are identical to decoding each file directly, and a new input costs a resize instead
of a decode.

A record's frames come from its video file or, for a frame folder (`record.frame_rate` set), from its numbered images
(`frames.py`); `decode_record` is the one place that chooses, for clips cut per spec too.

Layout, per (dataset fingerprint, split): `frames.u8` (the upright RGB frames of all videos, one flat uint8 file,
memory-mapped), `times.f8` (flat float64 presentation times, seconds from the stream start) and `index.json` (per video:
byte offset, frame count, height, width, rate, lo, hi, end, problems, packet counts, or the reason it gives no clip).
Files are written under temporary names and moved into place with os.replace, the index last, so concurrent and
killed processes are safe. A split whose frames would pass the byte budget is not stored (`too_large.json` says so,
for that budget), and the caller decodes per spec as before.

Differences from direct decoding, by design, only in damaged or oddly built files: a file is judged by all its
packets (decode_clip counts those it read for the clip), so one damaged outside a clip's window is reported (or,
when most packets fail, skipped with the same reason) for every spec alike; and frames come from one decode from the
start, where decode_clip seeks to a late window: a seek that lands on lost packets or seeks inexactly can make it
take a later frame for the first target than the one on screen, which the source keeps.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import os
import threading
import uuid
from pathlib import Path

import av
import numpy as np

from videonas.data import decode, frames
from videonas.data.decode import ClipSpec, DecodedClip

logger = logging.getLogger(__name__)

SOURCE_VERSION = 1
PROBED_RECORDS = 16  # headers read to estimate a split's size before decoding it
OPENED_LIMIT = 4  # sources kept open per process


class RecordedError(ValueError):
    """A video that gave no clip when the source was built: its VideoError reason and message, as decoding says."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class _SizeChanges(Exception):
    """The frame size changes inside a video."""


def decode_record(record, spec: ClipSpec) -> DecodedClip:
    """The record's clip at `spec` (centre placement) decoded from its file, or read from its frame folder: where the
    data layer chooses how a video is opened. See `window_problems` for what is added to the clip's problems."""
    if record.frame_rate is not None:
        if spec.sampling != "clip":
            raise ValueError(f"ClipSpec.sampling {spec.sampling!r} reads video files only; {record.path} is a frame "
                             "folder (use sampling 'clip')")
        clip = frames.decode_clip(record.path, rate=record.frame_rate, num_frames=spec.num_frames,
                                  frame_stride=spec.frame_stride, fps=spec.fps, start=spec.start,
                                  window=(record.start, record.end), with_next=spec.flow)
    else:
        clip = decode.decode_clip(record.path, num_frames=spec.num_frames, frame_stride=spec.frame_stride,
                                  fps=spec.fps, start=spec.start, window=(record.start, record.end),
                                  with_next=spec.flow, sampling=spec.sampling)
    return window_problems(record, clip)


def window_problems(record, clip: DecodedClip) -> DecodedClip:
    """The clip, with a problem when the record has action segments and the clip's window misses every one (its
    multi-label target is all zeros). Kept, not skipped: such a window is a true negative for every class, and
    skipping would make a split's size depend on the clip length; the load report counts them (as damaged)."""
    if not record.segments or any(start < clip.window[1] and end > clip.window[0]
                                  for _, start, end in record.segments):
        return clip
    problem = (f"window {clip.window[0]:.2f}-{clip.window[1]:.2f} s misses every action of the video "
               f"(all-zero target)")
    return dataclasses.replace(clip, problems=(*clip.problems, problem))


@dataclasses.dataclass
class Source:
    """An opened source: the index entries, in record order, the memory-mapped frames and times, and the records."""

    entries: list[dict]
    frames: np.ndarray
    times: np.ndarray
    records: list = dataclasses.field(default_factory=list)

    def clip(self, index: int, spec: ClipSpec) -> DecodedClip:
        """What `decode_record` gives for record `index` at `spec` (centre placement, next frames when spec.flow)."""
        entry = self.entries[index]
        if entry["error"] is not None:
            raise RecordedError(*entry["error"])
        if entry["direct"]:
            return decode_record(self.records[index], spec)
        rate, hi = entry["rate"], entry["hi"]
        interval, tolerance = decode.sample_timing(rate, spec.frame_stride, spec.fps)
        times = self.times[entry["first"]:entry["first"] + entry["count"]]
        end = entry["end"]
        targets, chosen, nexts, problems = decode.sample_frames(
            lambda _: (times, end), lo=entry["lo"], hi=hi, num_frames=spec.num_frames, interval=interval, rate=rate,
            start=spec.start, offset=0.5, tolerance=tolerance, problems=entry["problems"])
        problems += decode.check_decoded(entry["path"], decoded=entry["decoded"], failed=entry["failed"],
                                         chosen=len(chosen))
        shape = (entry["count"], entry["height"], entry["width"], 3)
        video = self.frames[entry["offset"]:entry["offset"] + int(np.prod(shape))].reshape(shape)
        clip = DecodedClip(np.asarray(video[chosen]), np.asarray(video[nexts]) if spec.flow else None,
                           (float(targets[0]), float(targets[-1] + interval)), np.asarray(times[chosen]),
                           tuple(problems))
        return window_problems(self.records[index], clip) if self.records else clip


def source_key(fingerprint: str, split: str) -> str:
    payload = json.dumps([SOURCE_VERSION, fingerprint, split])
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


class Opened:
    """Files opened once per process, by key: a bounded, thread-safe LRU map (a worker training many candidates
    shares one set of memory maps instead of reopening them per candidate)."""

    def __init__(self, limit: int):
        self.limit, self._items, self._lock = limit, collections.OrderedDict(), threading.Lock()

    def get(self, key, make):
        """The value under `key`, made by `make()` on first use."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return value


_opened = Opened(OPENED_LIMIT)


def open_source(folder: str | Path, records, *, budget_bytes: int) -> Source | None:
    """The source in `folder` for `records`, built on first use; None when the frames would pass `budget_bytes`.
    Opened once per process (a worker deriving many specs reuses the memory maps)."""
    folder = Path(folder)
    index_path = folder / "index.json"
    if not index_path.is_file():
        if _too_large(folder, budget_bytes):
            return None
        if not _build(folder, records, budget_bytes):
            return None

    def make() -> Source:
        entries = json.loads(index_path.read_text())["entries"]
        if [entry["path"] for entry in entries] != [str(record.path) for record in records]:
            raise ValueError(f"source cache {str(folder)!r}: its records differ from the dataset's (same key)")
        return Source(entries, _memmap(folder / "frames.u8", np.uint8), _memmap(folder / "times.f8", np.float64),
                      list(records))

    return _opened.get((str(folder), index_path.stat().st_mtime_ns), make)


def _memmap(path: Path, dtype) -> np.ndarray:
    """Read-only memory map of a flat file (an empty array for an empty file, which cannot be mapped)."""
    return np.memmap(path, dtype, "r") if path.stat().st_size else np.zeros(0, dtype)


def _too_large(folder: Path, budget_bytes: int) -> bool:
    """Whether an earlier try found the split larger than this budget (or a header estimate says so now)."""
    try:
        return json.loads((folder / "too_large.json").read_text())["bytes"] > budget_bytes
    except (OSError, ValueError, KeyError):
        return False


def _estimate(records) -> float:
    """Bytes of the split's frames, from the headers of its first PROBED_RECORDS readable videos."""
    sizes = []
    for record in records[:PROBED_RECORDS]:
        try:
            header = frames.probe(record.path, record.frame_rate) if record.frame_rate is not None else \
                decode.probe(record.path)
        except ValueError:
            continue
        sizes.append((header["duration"] or 0.0) * header["fps"] * header["width"] * header["height"] * 3)
    return float(np.mean(sizes)) * len(records) if sizes else 0.0


def _mark_too_large(folder: Path, size: float, budget_bytes: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".too_large.{uuid.uuid4().hex}.tmp"
    temporary.write_text(json.dumps({"bytes": int(size), "budget_bytes": budget_bytes}))
    os.replace(temporary, folder / "too_large.json")
    logger.info("source cache %s: %.0f MiB of frames, over the %.0f MiB budget: decoding per spec", folder,
                size / 2**20, budget_bytes / 2**20)


def _build(folder: Path, records, budget_bytes: int) -> bool:
    """Decode every record into `folder`; False (and a too_large.json) when the frames pass `budget_bytes`."""
    estimate = _estimate(records)
    if estimate > budget_bytes:
        _mark_too_large(folder, estimate, budget_bytes)
        return False
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    frames_path, times_path = folder / f".frames.{token}.tmp", folder / f".times.{token}.tmp"
    entries, times = [], []
    try:
        with frames_path.open("wb") as handle:
            for record in records:
                entry = _decode_record(record, handle, first=len(times), times=times)
                entries.append(entry)
                if handle.tell() > budget_bytes:
                    _mark_too_large(folder, max(handle.tell(), handle.tell() / len(entries) * len(records)),
                                    budget_bytes)
                    return False
        times_path.write_bytes(np.array(times, np.float64).tobytes())
        os.replace(frames_path, folder / "frames.u8")
        os.replace(times_path, folder / "times.f8")
        temporary = folder / f".index.{token}.tmp"
        temporary.write_text(json.dumps({"version": SOURCE_VERSION, "entries": entries}))
        os.replace(temporary, folder / "index.json")
        return True
    finally:
        for path in (frames_path, times_path):
            path.unlink(missing_ok=True)


def _write(pictures, entry: dict, handle, times: list[float]) -> float:
    """Append (time, image, end) pictures to `handle` and `times`, sizes into `entry`; the last picture's end."""
    end = 0.0
    for time, image, end in pictures:
        if not entry["count"]:
            entry["height"], entry["width"] = image.shape[:2]
        elif image.shape[:2] != (entry["height"], entry["width"]):
            raise _SizeChanges
        handle.write(np.ascontiguousarray(image).tobytes())
        times.append(float(time))
        entry["count"] += 1
    return end


def _read(record, entry: dict, handle, times: list[float]) -> dict:
    """Write the record's frames; what the index stores besides them (rate, usable range, problems, counts)."""
    if record.frame_rate is not None:
        rate = record.frame_rate
        frame_times, images = frames.read_all(record.path, rate)
        lo, hi = frames.usable_range(len(frame_times), rate, (record.start, record.end))
        end = _write(((time, image, time + 1.0 / rate) for time, image in zip(frame_times, images)), entry, handle,
                     times)
        return {"rate": rate, "lo": lo, "hi": hi, "end": end, "problems": [], "decoded": len(frame_times),
                "failed": 0}
    container = decode.open_video(record.path)
    try:
        rate, lo, hi, problems = decode.usable_range(record.path, container, (record.start, record.end))
        reader = decode.FrameReader(container, rate)
        end = _write(((time, decode.upright_rgb(frame), decode.frame_end(time, frame, rate))
                      for time, frame in reader.frames()), entry, handle, times)
    finally:
        container.close()
    return {"rate": rate, "lo": lo, "hi": hi, "end": end, "problems": problems, "decoded": reader.decoded,
            "failed": reader.failed}


def _decode_record(record, handle, *, first: int, times: list[float]) -> dict:
    """Append the record's upright frames to `handle` and their times to `times`; its index entry."""
    entry = {"path": str(record.path), "window": [record.start, record.end], "first": first,
             "offset": handle.tell(), "count": 0, "height": 0, "width": 0, "error": None, "direct": False}
    try:
        info = _read(record, entry, handle, times)  # fills entry's count and size
        return {**entry, **info}
    except (ValueError, av.FFmpegError, _SizeChanges) as error:
        if isinstance(error, av.FFmpegError):
            error = decode.VideoError(record.path, "decoding failed", str(error))
        del times[first:]
        handle.seek(entry["offset"])
        handle.truncate()
        if isinstance(error, _SizeChanges):  # frames of one size per video here: decode_record cuts this one
            return {**entry, "count": 0, "direct": True}
        return {**entry, "count": 0, "error": [getattr(error, "reason", "unreadable"), str(error)]}
