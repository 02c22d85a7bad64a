"""Where candidates are evaluated: in this process, in a fresh subprocess each, or as Ray tasks.

The trial function is named by a dotted path (``"videonas.train:evaluate_trial"``) so that a spawned process or a Ray
worker can import it. Every executor turns whatever goes wrong in a candidate (exception, MemoryError, NaN, a worker
that dies, a timeout) into a *failed* ``TrialResult`` instead of stopping the search. Results come back as they finish;
the loop restores ask order before telling the strategy, so worker timing never changes the genomes.
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import logging
import os
import pickle
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Iterator, Mapping, Sequence

from videonas.genome.base import Genome, check_choice, check_int
from videonas.search.store import TrialResult

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    """One candidate to evaluate: ``function(genome, seed=seed, **options)``."""

    genome: Genome
    seed: int
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def resolve(path: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"function must be 'module:function', got {path!r}")
    return getattr(importlib.import_module(module_name), attribute)


def call_trial(function: str, genome: Genome, seed: int, options: Mapping[str, Any]) -> TrialResult:
    """Run the trial function and turn any exception (MemoryError included) into a failed result."""
    try:
        return TrialResult.coerce(resolve(function)(genome, seed=seed, **dict(options)))
    except BaseException as error:  # noqa: BLE001 - the search must go on whatever a candidate does
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        tail = "".join(traceback.format_exception(error)[-3:])
        return TrialResult.failed(f"{type(error).__name__}: {error}\n{tail}")


class Executor(abc.ABC):
    """Evaluates jobs; ``run`` yields ``(position in jobs, result)`` as each finishes."""

    def __init__(self, *, timeout_s: float | None = None) -> None:
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s!r}")
        self.timeout_s = timeout_s

    @abc.abstractmethod
    def run(self, function: str, jobs: Sequence[Job],
            on_start: Callable[[int], None] | None = None) -> Iterator[tuple[int, TrialResult]]:
        """Evaluate ``jobs``; ``on_start(position)`` is called when a job actually starts."""

    def close(self) -> None:
        """Release workers (Ray keeps its cluster connection until this is called)."""


class InProcessExecutor(Executor):
    """One candidate after another in this process: for debugging and tiny runs.

    Timeouts cannot be enforced here (a thread cannot be killed); use the subprocess executor for them. Keras state
    accumulates across candidates, which is why this is not the default.
    """

    def run(self, function, jobs, on_start=None):
        for position, job in enumerate(jobs):
            if on_start is not None:
                on_start(position)
            yield position, call_trial(function, job.genome, job.seed, job.options)


def worker_main() -> None:
    """Entry point of a subprocess worker: job from stdin (pickle), result to the file named in ``argv[1]``."""
    job = pickle.load(sys.stdin.buffer)
    sys.path[:0] = [entry for entry in job["sys_path"] if entry not in sys.path]
    result = call_trial(job["function"], pickle.loads(job["genome"]), job["seed"], job["options"])
    temporary = job["result_path"] + ".tmp"
    with open(temporary, "wb") as handle:
        pickle.dump(result, handle)
    os.replace(temporary, job["result_path"])  # atomic: the parent never reads half a result


@dataclasses.dataclass
class _Running:
    process: subprocess.Popen
    result_path: str
    started: float


class SubprocessExecutor(Executor):
    """A fresh Python process per candidate, at most ``max_workers`` at a time (the default executor).

    A new process per candidate means Keras/TF memory never accumulates in a long search. Workers are started with
    ``python -c`` rather than multiprocessing's spawn, so scripts without an ``if __name__ == "__main__"`` guard and
    notebooks work too. A worker that exceeds ``timeout_s`` is killed; one that dies (segfault, OOM killer,
    ``os._exit``) leaves no result file and is reported with its exit code.
    """

    def __init__(self, *, max_workers: int = 1, timeout_s: float | None = None) -> None:
        super().__init__(timeout_s=timeout_s)
        check_int("max_workers", max_workers, 1, 4096)
        self.max_workers = max_workers

    def _start(self, function: str, job: Job, folder: str, position: int) -> _Running:
        result_path = os.path.join(folder, f"result-{position}.pickle")
        payload = pickle.dumps({"function": function, "genome": pickle.dumps(job.genome), "seed": job.seed,
                                "options": dict(job.options), "sys_path": list(sys.path),
                                "result_path": result_path})
        process = subprocess.Popen(
            [sys.executable, "-c", "from videonas.search.executors import worker_main; worker_main()"],
            stdin=subprocess.PIPE)
        process.stdin.write(payload)
        process.stdin.close()
        return _Running(process, result_path, time.monotonic())

    def _finish(self, running: _Running) -> TrialResult | None:
        """The result if the job is over (finished, died or timed out), else ``None``."""
        code = running.process.poll()
        if code is not None:
            if os.path.exists(running.result_path):
                with open(running.result_path, "rb") as handle:
                    return pickle.load(handle)
            return TrialResult.failed(f"worker died (exit code {code})")
        elapsed = time.monotonic() - running.started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            running.process.kill()
            running.process.wait()
            return TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s (killed after {elapsed:.1f} s)")
        return None

    def run(self, function, jobs, on_start=None):
        waiting = list(enumerate(jobs))[::-1]
        running: dict[int, _Running] = {}
        with tempfile.TemporaryDirectory(prefix="videonas-trials-") as folder:
            try:
                while waiting or running:
                    while waiting and len(running) < self.max_workers:
                        position, job = waiting.pop()
                        running[position] = self._start(function, job, folder, position)
                        if on_start is not None:
                            on_start(position)
                    time.sleep(0.02)
                    for position in sorted(running):
                        result = self._finish(running[position])
                        if result is not None:
                            running.pop(position)
                            yield position, result
            finally:
                for leftover in running.values():
                    leftover.process.kill()
                    leftover.process.wait()


class RayExecutor(Executor):
    """The same trial function as Ray tasks: a local Ray (``num_cpus``) or a cluster (``address``).

    Each task runs in a worker that exits afterwards (``max_calls=1``), like the subprocess executor. At most
    ``max_workers`` tasks are in flight so that a task's timeout counts from when it started.
    """

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, max_workers: int = 1,
                 cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, timeout_s: float | None = None,
                 runtime_env: Mapping[str, Any] | None = None) -> None:
        super().__init__(timeout_s=timeout_s)
        check_int("max_workers", max_workers, 1, 1_000_000)
        import ray

        if not ray.is_initialized():
            if address is not None:
                ray.init(address=address, runtime_env=dict(runtime_env or {}) or None)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=dict(runtime_env or {}) or None,
                         log_to_driver=False)
        self._ray = ray
        self.max_workers = max_workers
        self._remote = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_calls=1,
                                  max_retries=0)(call_trial)

    def run(self, function, jobs, on_start=None):
        ray = self._ray
        waiting = list(enumerate(jobs))[::-1]
        running: dict[Any, tuple[int, float]] = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.max_workers:
                    position, job = waiting.pop()
                    reference = self._remote.remote(function, job.genome, job.seed, dict(job.options))
                    running[reference] = (position, time.monotonic())
                    if on_start is not None:
                        on_start(position)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.1)
                for reference in ready:
                    position, _ = running.pop(reference)
                    try:
                        result = ray.get(reference)
                    except Exception as error:  # noqa: BLE001 - a crashed worker is a failed trial
                        result = TrialResult.failed(f"{type(error).__name__}: {str(error)[:2000]}")
                    yield position, result
                if self.timeout_s is None:
                    continue
                now = time.monotonic()
                for reference, (position, started) in list(running.items()):
                    if now - started > self.timeout_s:
                        ray.cancel(reference, force=True)
                        running.pop(reference)
                        yield position, TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s")
        finally:
            for reference in running:
                ray.cancel(reference, force=True)


EXECUTORS = {"inprocess": InProcessExecutor, "subprocess": SubprocessExecutor, "ray": RayExecutor}


def make_executor(kind: str | Executor = "subprocess", **options: Any) -> Executor:
    """An executor by name (``inprocess``, ``subprocess``, ``ray``) or an executor instance unchanged."""
    if isinstance(kind, Executor):
        return kind
    check_choice("executor", kind, sorted(EXECUTORS))
    if kind == "inprocess":
        options.pop("max_workers", None)
    return EXECUTORS[kind](**options)
