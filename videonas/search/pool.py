"""The default executor: a pool of worker processes that live across candidates (see ``videonas.search.worker``).

A candidate's fixed costs (a fresh Python, importing TensorFlow and Keras, opening the clip cache) are paid once per
worker instead of once per candidate. Every guarantee of a process per candidate stays: a candidate that raises,
diverges or runs out of memory is a failed trial; one that kills its worker (segfault, the OOM killer, ``os._exit``)
is a failed trial with the exit code, and the worker is replaced; one that passes ``timeout_s`` is killed with its
worker. ``trials_per_worker=1`` is a fresh process per candidate, as before.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping

import videonas
from videonas.checks import check_float, check_int
from videonas.search.executors import Executor, Job, check_env
from videonas.search.lease import pid_alive
from videonas.search.store import TrialResult
from videonas.search.worker import DRIVER_PID

FOLDER_PREFIX = "videonas-trials-"

# Workers and run folders of this process, cleaned at interpreter exit (SystemExit, a SIGTERM turned into one by the
# CLI) even when an executor is never closed.
_LIVE_PROCESSES: set[subprocess.Popen] = set()
_LIVE_FOLDERS: set[str] = set()


@atexit.register
def _cleanup_at_exit() -> None:
    for process in list(_LIVE_PROCESSES):
        _kill_group(process)
    for folder in list(_LIVE_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill a worker and whatever it started (its own process group), and reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()
    _LIVE_PROCESSES.discard(process)


def sweep_stale_folders() -> None:
    """Remove run folders whose driver (pid in the name) has ended: a SIGKILLed driver cannot remove its own."""
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*-*"):
        pid = folder.name[len(FOLDER_PREFIX):].partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@dataclasses.dataclass
class _Worker:
    process: subprocess.Popen
    served: int = 0
    rss_mib: float = 0.0
    position: int | None = None  # the job it is running, if any
    result_path: str = ""
    started: float = 0.0


class SubprocessExecutor(Executor):
    """At most ``max_workers`` worker processes, each training up to ``trials_per_worker`` candidates.

    A worker is recycled (replaced by a fresh one) after ``trials_per_worker`` candidates, or as soon as its resident
    memory after a candidate passes ``worker_memory_mib``. ``env`` adds environment variables of the workers, e.g.
    ``{"KERAS_BACKEND": "torch"}`` to train candidates on the other backend while the driver imports no Keras. Workers are started with ``python -c`` rather than
    multiprocessing's spawn, so scripts without an ``if __name__ == "__main__"`` guard and notebooks work too.

    Workers never outlive their driver: each leads its own process group (killed as a whole on timeout, recycling or
    exit) and ends when the driver ends, even by SIGKILL. The run folder (``<tmp>/videonas-trials-<driver pid>-*``)
    is removed on every exit path: by ``close``, by orphaned workers, or by the next driver when neither could.
    """

    def __init__(self, *, max_workers: int = 1, timeout_s: float | None = None, trials_per_worker: int = 100,
                 worker_memory_mib: float | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(timeout_s=timeout_s)
        self.env = check_env(env)
        check_int("max_workers", max_workers, 1, 4096)
        check_int("trials_per_worker", trials_per_worker, 1, 10**9)
        if worker_memory_mib is not None:
            check_float("worker_memory_mib", worker_memory_mib, 1.0, 1e9)
        self.max_workers = max_workers
        self.trials_per_worker = trials_per_worker
        self.worker_memory_mib = worker_memory_mib
        self.workers: list[_Worker] = []
        self.started_workers = 0  # over the executor's life: how often the stack was imported
        self._folder: str | None = None

    def _spawn(self) -> _Worker:
        # The worker must import the driver's videonas (a worktree or checkout), not whichever one is installed.
        package_root = str(Path(videonas.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-c", "from videonas.search.worker import main; main()"],
            stdin=subprocess.PIPE, start_new_session=True,
            env={**os.environ, **self.env, "PYTHONPATH": python_path, DRIVER_PID: str(os.getpid())})
        _LIVE_PROCESSES.add(process)
        self.started_workers += 1
        worker = _Worker(process)
        self.workers.append(worker)
        return worker

    def _send(self, worker: _Worker, function: str, job: Job, position: int) -> bool:
        """Give ``worker`` the job; False if the worker had already died (it is then removed)."""
        worker.result_path = os.path.join(self._folder, f"result-{position}-{worker.process.pid}.pickle")
        payload = pickle.dumps({"function": function, "genome": pickle.dumps(job.genome), "seed": job.seed,
                                "options": job.options, "sys_path": list(sys.path),
                                "result_path": worker.result_path})
        try:
            worker.process.stdin.write(payload)
            worker.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._retire(worker)
            return False
        worker.position, worker.started = position, time.monotonic()
        return True

    def _retire(self, worker: _Worker) -> None:
        self.workers.remove(worker)
        _kill_group(worker.process)

    def _collect(self, worker: _Worker) -> TrialResult | None:
        """The running job's result if it is over (finished, worker died or timed out), else ``None``."""
        if os.path.exists(worker.result_path):
            with open(worker.result_path, "rb") as handle:
                result = pickle.load(handle)
            os.unlink(worker.result_path)
            worker.served += 1
            worker.rss_mib = float((result.metrics.get("worker") or {}).get("rss_mib", 0.0))
            worker.position = None
            memory_full = self.worker_memory_mib is not None and worker.rss_mib > self.worker_memory_mib
            if worker.served >= self.trials_per_worker or memory_full:
                self._retire(worker)
            return result
        code = worker.process.poll()
        if code is not None:
            self._retire(worker)
            return TrialResult.failed(f"worker died (exit code {code})")
        elapsed = time.monotonic() - worker.started
        if self.timeout_s is not None and elapsed > self.timeout_s:
            self._retire(worker)
            return TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s (killed after {elapsed:.1f} s)")
        return None

    def run(self, function, jobs, on_start=None):
        if self._folder is None:
            sweep_stale_folders()
            self._folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
            _LIVE_FOLDERS.add(self._folder)
        waiting = list(enumerate(jobs))[::-1]
        try:
            while waiting or any(worker.position is not None for worker in self.workers):
                while waiting:
                    idle = [worker for worker in self.workers if worker.position is None]
                    if not idle and len(self.workers) >= self.max_workers:
                        break
                    worker = idle[0] if idle else self._spawn()
                    position, job = waiting[-1]
                    if self._send(worker, function, job, position):
                        waiting.pop()
                        if on_start is not None:
                            on_start(position)
                    elif not idle:  # a worker that dies before its first job would be replaced forever
                        waiting.pop()
                        yield position, TrialResult.failed(f"worker died at start (exit code "
                                                           f"{worker.process.returncode})")
                time.sleep(0.02)
                for worker in list(self.workers):
                    position = worker.position
                    if position is None:
                        continue
                    result = self._collect(worker)
                    if result is not None:
                        yield position, result
        except BaseException:
            self.close()  # an interrupted round leaves no worker mid-candidate
            raise

    def close(self) -> None:
        for worker in list(self.workers):
            self._retire(worker)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            _LIVE_FOLDERS.discard(self._folder)
            self._folder = None
