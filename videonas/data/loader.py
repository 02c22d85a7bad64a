"""Parallel, streaming clip decoding: a split's records cut by a pool of worker processes, handed over in record order.

`stream` yields one `Cut` per record, in record order, whatever order the workers finish in, so a cache filled from
it is byte-identical with 1 worker or many. At most `workers * PREFETCH_PER_WORKER` clips are in flight or waiting:
the consumer (the clip cache writing memory-mapped files) never holds more than that in memory, however large the
split. Workers are started with "spawn" (a training process has TensorFlow's threads, which a fork would copy
half-way); each receives the records and the spec once, when it starts, and then only record indices. Starting
them costs about a second each (Python, PyAV and OpenCV imported anew), paid once per filled entry; as with any
spawned pool, a script that loads with several workers needs its top level under `if __name__ == "__main__":`.

`loader_workers` 1 (the default) decodes in the calling process, exactly as before this module: more workers help
where decoding is the cost (a split over the source cache's budget, so every input decodes its files), less where
clips are cut from the source cache in memory.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import multiprocessing
from typing import Iterator, Sequence

import numpy as np

from videonas.data import source
from videonas.data.decode import ClipSpec
from videonas.data.flow import compute_flow
from videonas.data.images import resize_clip

LOADER_WORKERS = 1  # decoding processes by default: the caller itself
MAX_LOADER_WORKERS = 64
PREFETCH_PER_WORKER = 4  # clips in flight per worker: keeps each busy while bounding the memory held


def check_workers(value, field: str = "loader_workers") -> int:
    """`value` as a number of decoding processes (None: LOADER_WORKERS); ValueError naming `field` otherwise."""
    value = LOADER_WORKERS if value is None else value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LOADER_WORKERS:
        raise ValueError(f"{field} must be an int in [1, {MAX_LOADER_WORKERS}] (decoding processes), got {value!r}")
    return value


@dataclasses.dataclass
class Cut:
    """One record's clip as the cache stores it (rgb uint8 (T,H,W,3) or None, flow float16 or None, label, problems)
    or, when it gives none, `error` = (reason, message) as the load report lists it."""

    index: int
    rgb: np.ndarray | None = None
    flow: np.ndarray | None = None
    label: object = None
    problems: tuple[str, ...] = ()
    error: tuple[str, str] | None = None


@dataclasses.dataclass
class Job:
    """What every worker needs, sent once: the records, the spec, the label layout and the source cache to cut from
    (its folder and byte budget; None: decode each file)."""

    records: Sequence
    spec: ClipSpec
    num_classes: int
    multi_label: bool
    source_folder: str | None = None
    source_budget: int = 0

    def cut(self, index: int) -> Cut:
        """Record `index` decoded (or cut from the source cache), resized, with flow and label."""
        record, spec = self.records[index], self.spec
        try:
            if self.source_folder is not None:
                opened = source.open_source(self.source_folder, self.records, budget_bytes=self.source_budget)
                decoded = opened.clip(index, spec)
            else:
                decoded = source.decode_record(record, spec)
            rgb = resize_clip(decoded.frames, spec.image_size)
            flow = None
            if spec.flow:
                flow = compute_flow(rgb, resize_clip(decoded.next_frames, spec.image_size), method=spec.flow_method)
            label = record.target(self.num_classes, decoded.window) if self.multi_label else record.labels[0]
        except ValueError as error:
            return Cut(index, error=(getattr(error, "reason", "unreadable"), str(error)))
        return Cut(index, rgb if spec.rgb else None, flow, label, tuple(decoded.problems))


_job: Job | None = None  # the worker process's job, set once by its initializer


def _start_worker(job: Job) -> None:
    global _job
    _job = job


def _cut_in_worker(index: int) -> Cut:
    return _job.cut(index)


def stream(job: Job, *, workers: int = LOADER_WORKERS) -> Iterator[Cut]:
    """Every record's Cut, in record order, from `workers` processes (1: this process), at most
    `workers * PREFETCH_PER_WORKER` ahead of the consumer."""
    workers = check_workers(workers)
    count = len(job.records)
    if workers == 1 or count < 2:
        for index in range(count):
            yield job.cut(index)
        return
    pool = concurrent.futures.ProcessPoolExecutor(min(workers, count), mp_context=multiprocessing.get_context("spawn"),
                                                  initializer=_start_worker, initargs=(job,))
    pending: collections.deque = collections.deque()
    submitted = 0
    try:
        while pending or submitted < count:
            while submitted < count and len(pending) < workers * PREFETCH_PER_WORKER:
                pending.append(pool.submit(_cut_in_worker, submitted))
                submitted += 1
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
