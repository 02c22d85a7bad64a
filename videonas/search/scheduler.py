"""The scheduling loop of the worker pools: one loop for worker processes (``pool``) and Ray actors (``ray_pool``).

``WorkerPool.run`` hands each job to an idle worker (starting one while fewer than ``max_workers`` run), yields
results in completion order, turns a worker's death into a failed trial (the worker is replaced by the next job that
needs one), fails a job that passes ``timeout_s`` by killing its worker (the only way to stop a candidate mid-step),
and recycles a worker after ``trials_per_worker`` candidates or once its resident memory passes
``worker_memory_mib``. A job lost with the machine its worker ran on (a Ray node that died) is not the candidate's
fault: it runs again on another worker (at most ``MAX_LOSSES`` times), while a candidate that kills its own worker is
a failed trial. A pool says only how to start, feed, wait on, poll and kill one of its workers.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import Any

from videonas.checks import check_float, check_int
from videonas.search.executors import Executor, Job
from videonas.search.store import TrialResult


LOST = object()  # an outcome: the job was lost with its worker's machine, and runs again
MAX_LOSSES = 3  # a job lost this often is failed: the cluster, not one node, is in trouble


@dataclasses.dataclass
class Worker:
    """One worker of a pool and the job it runs, if any."""

    handle: Any  # a ``subprocess.Popen`` or a Ray actor handle
    served: int = 0
    position: int | None = None  # the running job's position in the jobs
    started: float = 0.0  # ``time.monotonic()`` when the running job was handed over
    ticket: Any = None  # where the running job's result appears: a file path, a Ray object reference


class WorkerPool(Executor):
    """At most ``max_workers`` workers, each running up to ``trials_per_worker`` candidates one after another."""

    def __init__(self, *, max_workers: int, timeout_s: float | None, trials_per_worker: int,
                 worker_memory_mib: float | None, most_workers: int) -> None:
        super().__init__(timeout_s=timeout_s)
        check_int("max_workers", max_workers, 1, most_workers)
        check_int("trials_per_worker", trials_per_worker, 1, 10**9)
        if worker_memory_mib is not None:
            check_float("worker_memory_mib", worker_memory_mib, 1.0, 1e9)
        self.max_workers = max_workers
        self.trials_per_worker = trials_per_worker
        self.worker_memory_mib = worker_memory_mib
        self.workers: list[Worker] = []
        self.started_workers = 0  # over the executor's life: how often the stack was imported

    @abc.abstractmethod
    def _start(self) -> Any:
        """A new worker's handle."""

    @abc.abstractmethod
    def _submit(self, worker: Worker, function: str, job: Job, position: int) -> str | None:
        """Hand ``job`` to ``worker`` (setting its ``ticket``); ``None``, or why the worker could not take it."""

    @abc.abstractmethod
    def _wait(self, busy: list[Worker]) -> None:
        """Block for a short while, or until one of the ``busy`` workers may have finished."""

    @abc.abstractmethod
    def _outcome(self, worker: Worker) -> tuple[Any, bool] | None:
        """``(result, worker survived)`` when the running job is over (``result`` is ``LOST`` when the worker's
        machine died under it), ``None`` while it runs."""

    @abc.abstractmethod
    def _kill(self, worker: Worker) -> None:
        """Stop the worker and whatever it runs."""

    def _prepare(self) -> None:
        """Called at the start of every ``run`` (default: nothing)."""

    def _retire(self, worker: Worker) -> None:
        self.workers.remove(worker)
        self._kill(worker)

    def _dispatch(self, function: str, waiting: list[tuple[int, Job]], on_start):
        """Hand waiting jobs (last is next) to idle or new workers; yields the failures of workers that die at start."""
        while waiting:
            idle = [worker for worker in self.workers if worker.position is None]
            if not idle and len(self.workers) >= self.max_workers:
                return
            if idle:
                worker = idle[0]
            else:
                worker = Worker(self._start())
                self.workers.append(worker)
                self.started_workers += 1
            position, job = waiting[-1]
            why = self._submit(worker, function, job, position)
            if why is None:
                waiting.pop()
                worker.position, worker.started = position, time.monotonic()
                if on_start is not None:
                    on_start(position)
                continue
            self._retire(worker)
            if not idle:  # a worker that dies before its first job would be replaced forever
                waiting.pop()
                yield position, TrialResult.failed(f"worker died at start ({why})")

    def _collect(self, worker: Worker) -> Any:
        """The running job's result if it is over (finished, worker died or timed out; ``LOST``: run it again), else
        ``None``."""
        outcome = self._outcome(worker)
        if outcome is not None:
            result, alive = outcome
            if not alive:
                self._retire(worker)
                return result
            worker.served += 1
            worker.position = worker.ticket = None
            rss = float((result.metrics.get("worker") or {}).get("rss_mib", 0.0))
            memory_full = self.worker_memory_mib is not None and rss > self.worker_memory_mib
            if worker.served >= self.trials_per_worker or memory_full:
                self._retire(worker)
            return result
        elapsed = time.monotonic() - worker.started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            self._retire(worker)
            return TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s (killed after {elapsed:.1f} s)")
        return None

    def run(self, function, jobs, on_start=None):
        self._prepare()
        jobs = list(jobs)
        waiting = list(enumerate(jobs))[::-1]
        losses = [0] * len(jobs)
        try:
            while waiting or any(worker.position is not None for worker in self.workers):
                yield from self._dispatch(function, waiting, on_start)
                busy = [worker for worker in self.workers if worker.position is not None]
                if not busy:
                    continue
                self._wait(busy)
                for worker in busy:
                    position = worker.position
                    result = self._collect(worker)
                    if result is LOST:
                        losses[position] += 1
                        if losses[position] < MAX_LOSSES:
                            waiting.insert(0, (position, jobs[position]))  # after the jobs already waiting
                            continue
                        result = TrialResult.failed(f"lost with its worker's machine {MAX_LOSSES} times")
                    if result is not None:
                        yield position, result
        except BaseException:
            self.close()  # an interrupted round leaves no worker mid-candidate
            raise

    def close(self) -> None:
        for worker in list(self.workers):
            self._retire(worker)
