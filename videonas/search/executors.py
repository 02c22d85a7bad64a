"""Where candidates are evaluated: in this process, in a fresh subprocess each, or as Ray tasks.

The trial function is named by a dotted path (``"videonas.train:evaluate_trial"``) so that a spawned process or a Ray
worker can import it. Every executor turns whatever goes wrong in a candidate (exception, MemoryError, NaN, a worker
that dies, a timeout) into a *failed* ``TrialResult`` instead of stopping the search. Results come back as they finish;
the loop restores ask order before telling the strategy, so worker timing never changes the genomes.
"""

from __future__ import annotations

import abc
import atexit
import dataclasses
import importlib
import logging
import os
import pickle
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import videonas
from videonas.genome.base import Genome, check_choice, check_int
from videonas.search.lease import pid_alive
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


FOLDER_PREFIX = "videonas-trials-"
_DRIVER_PID = "VIDEONAS_DRIVER_PID"
_worker_folder: str | None = None  # the run folder of this worker, removed if its driver dies


def worker_main() -> None:
    """Entry point of a subprocess worker: job from stdin (pickle), result to the file named in the job."""
    global _worker_folder
    _die_with_driver(int(os.environ.get(_DRIVER_PID, "0")) or os.getppid())
    job = pickle.load(sys.stdin.buffer)
    _worker_folder = os.path.dirname(job["result_path"])
    sys.path[:0] = [entry for entry in job["sys_path"] if entry not in sys.path]
    result = call_trial(job["function"], pickle.loads(job["genome"]), job["seed"], job["options"])
    temporary = job["result_path"] + ".tmp"
    with open(temporary, "wb") as handle:
        pickle.dump(result, handle)
    os.replace(temporary, job["result_path"])  # atomic: the parent never reads half a result


def _die_with_driver(driver: int) -> None:
    """Make this worker (and its process group) end as soon as its driver does, however the driver ends.

    Linux: the kernel sends SIGTERM when the parent dies (``PR_SET_PDEATHSIG``). SIGTERM's handler does nothing but
    wake a watchdog thread through the signal wakeup fd, whichever thread the signal lands on, and the watchdog runs
    even while the main thread is busy in native code (training). Elsewhere the watchdog polls the parent pid. If the
    driver is gone, the watchdog removes the run folder (no driver is left to do it), then kills the worker's process
    group (it leads one, so whatever it started dies with it).
    """
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the watchdog's polling still covers it
    if os.getppid() != driver:  # the driver died before the line above took effect
        os._exit(1)

    def watch() -> None:
        while True:
            terminated = bool(select.select([wake_read], [], [], 0.5)[0])
            # A dying driver's threads end one by one and the kernel signals when the first (the one that started
            # this worker) ends: give the rest a moment so that a dying driver is told apart from a plain SIGTERM.
            deadline = time.monotonic() + (2.0 if terminated else 0.0)
            while os.getppid() == driver and time.monotonic() < deadline:
                time.sleep(0.02)
            orphaned = os.getppid() != driver
            if terminated or orphaned:
                if orphaned and _worker_folder is not None:
                    shutil.rmtree(_worker_folder, ignore_errors=True)
                try:
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=watch, name="videonas-watchdog", daemon=True).start()


def _kill_group(process: subprocess.Popen) -> None:
    """Kill a worker and whatever it started (its own process group), and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _sweep_stale_folders() -> None:
    """Remove run folders whose driver (pid in the name) has ended: a SIGKILLed driver cannot remove its own."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX):].partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


# Workers and run folders of this process, cleaned at interpreter exit (SystemExit, a SIGTERM turned into one by the
# CLI) even when a run generator is never closed.
_LIVE_PROCESSES: set[subprocess.Popen] = set()
_LIVE_FOLDERS: set[str] = set()


@atexit.register
def _cleanup_at_exit() -> None:
    for process in list(_LIVE_PROCESSES):
        _kill_group(process)
    for folder in list(_LIVE_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)


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

    Workers never outlive their driver: each leads its own process group (killed as a whole on timeout or exit) and
    ends when the driver ends, even by SIGKILL (see ``_die_with_driver``). The run folder
    (``<tmp>/videonas-trials-<driver pid>-*``) is removed on every exit path: by the driver, by its orphaned workers,
    or by the next driver when neither could.
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
        # The worker must import the driver's videonas (a worktree or checkout), not whichever one is installed.
        package_root = str(Path(videonas.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-c", "from videonas.search.executors import worker_main; worker_main()"],
            stdin=subprocess.PIPE, start_new_session=True,
            env={**os.environ, "PYTHONPATH": python_path, _DRIVER_PID: str(os.getpid())})
        _LIVE_PROCESSES.add(process)
        try:
            process.stdin.write(payload)
            process.stdin.close()
        except BrokenPipeError:
            pass  # the worker died at once; _finish reports its exit code
        return _Running(process, result_path, time.monotonic())

    def _finish(self, running: _Running) -> TrialResult | None:
        """The result if the job is over (finished, died or timed out), else ``None``."""
        code = running.process.poll()
        if code is not None:
            _LIVE_PROCESSES.discard(running.process)
            if os.path.exists(running.result_path):
                with open(running.result_path, "rb") as handle:
                    return pickle.load(handle)
            return TrialResult.failed(f"worker died (exit code {code})")
        elapsed = time.monotonic() - running.started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            _kill_group(running.process)
            _LIVE_PROCESSES.discard(running.process)
            return TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s (killed after {elapsed:.1f} s)")
        return None

    def run(self, function, jobs, on_start=None):
        waiting = list(enumerate(jobs))[::-1]
        running: dict[int, _Running] = {}
        _sweep_stale_folders()
        folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
        _LIVE_FOLDERS.add(folder)
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
                _kill_group(leftover.process)
                _LIVE_PROCESSES.discard(leftover.process)
            shutil.rmtree(folder, ignore_errors=True)
            _LIVE_FOLDERS.discard(folder)


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
