"""The default executor: a pool of worker processes that live across candidates (see ``videonas.search.worker``).

A candidate's fixed costs (a fresh Python, importing TensorFlow and Keras, opening the clip cache) are paid once per
worker instead of once per candidate. Every guarantee of a process per candidate stays: a candidate that raises,
diverges or runs out of memory is a failed trial; one that kills its worker (segfault, the OOM killer, ``os._exit``)
is a failed trial with the exit code, and the worker is replaced; one that passes ``timeout_s`` is killed with its
worker. ``trials_per_worker=1`` is a fresh process per candidate, as before.
"""

from __future__ import annotations

import atexit
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
from videonas.search.executors import Job, check_env
from videonas.search.lease import pid_alive
from videonas.search.scheduler import Worker, WorkerPool
from videonas.search.store import TrialResult
from videonas.search.worker import DRIVER_PID, RUN_FOLDER

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


def default_worker_memory_mib(max_workers: int) -> float | None:
    """Half of this machine's memory shared among the workers: the resident size past which a worker is replaced
    after its candidate. TensorFlow workers keep memory from every candidate (about 70 MiB per AssembleNet candidate
    here, 1.4 to 7.4 GiB over 90), so without a ceiling two of them could fill the machine. ``None`` where the
    machine does not say."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return total / 2**20 / 2 / max(1, int(max_workers)) if total > 0 else None


class SubprocessExecutor(WorkerPool):
    """At most ``max_workers`` worker processes, each training up to ``trials_per_worker`` candidates.

    A worker is recycled (replaced by a fresh one) after ``trials_per_worker`` candidates, or as soon as its resident
    memory after a candidate passes ``worker_memory_mib`` (default ``default_worker_memory_mib``; the loop is
    ``videonas.search.scheduler``'s, shared with Ray). ``env`` adds environment variables of the workers, e.g.
    ``{"KERAS_BACKEND": "torch"}`` to train candidates on the other backend while the driver imports no Keras.
    Workers are started with ``python -c`` rather than multiprocessing's spawn, so scripts without an
    ``if __name__ == "__main__"`` guard and notebooks work too.

    Workers never outlive their driver: each leads its own process group (killed as a whole on timeout, recycling or
    exit) and ends when the driver ends, even by SIGKILL. The run folder (``<tmp>/videonas-trials-<driver pid>-*``)
    is removed on every exit path: by ``close``, by orphaned workers, or by the next driver when neither could.
    """

    def __init__(self, *, max_workers: int = 1, timeout_s: float | None = None, trials_per_worker: int = 100,
                 worker_memory_mib: float | None = None, env: Mapping[str, str] | None = None) -> None:
        self.env = check_env(env)
        if worker_memory_mib is None:
            worker_memory_mib = default_worker_memory_mib(max_workers)
        super().__init__(max_workers=max_workers, timeout_s=timeout_s, trials_per_worker=trials_per_worker,
                         worker_memory_mib=worker_memory_mib, most_workers=4096)
        self._folder: str | None = None

    def _prepare(self) -> None:
        if self._folder is None:
            sweep_stale_folders()
            self._folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
            _LIVE_FOLDERS.add(self._folder)

    def _start(self) -> subprocess.Popen:
        # The worker must import the driver's videonas (a worktree or checkout), not whichever one is installed.
        package_root = str(Path(videonas.__file__).resolve().parent.parent)
        python_path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        process = subprocess.Popen(
            [sys.executable, "-c", "from videonas.search.worker import main; main()"],
            stdin=subprocess.PIPE, start_new_session=True,
            env={**os.environ, **self.env, "PYTHONPATH": python_path, DRIVER_PID: str(os.getpid()),
                 RUN_FOLDER: self._folder})
        _LIVE_PROCESSES.add(process)
        return process

    def _submit(self, worker: Worker, function: str, job: Job, position: int) -> str | None:
        process = worker.handle
        worker.ticket = os.path.join(self._folder, f"result-{position}-{process.pid}.pickle")
        payload = pickle.dumps({"function": function, "genome": pickle.dumps(job.genome), "seed": job.seed,
                                "options": job.options, "sys_path": list(sys.path),
                                "result_path": worker.ticket})
        try:
            process.stdin.write(payload)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            _kill_group(process)  # reaped, so its exit code is known
            return f"exit code {process.returncode}"
        return None

    def _wait(self, busy: list[Worker]) -> None:
        time.sleep(0.02)

    def _outcome(self, worker: Worker) -> tuple[TrialResult, bool] | None:
        if os.path.exists(worker.ticket):
            with open(worker.ticket, "rb") as handle:
                result = pickle.load(handle)
            os.unlink(worker.ticket)
            return result, True
        code = worker.handle.poll()
        if code is not None:
            return TrialResult.failed(f"worker died (exit code {code})"), False
        return None

    def _kill(self, worker: Worker) -> None:
        _kill_group(worker.handle)

    def close(self) -> None:
        super().close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            _LIVE_FOLDERS.discard(self._folder)
            self._folder = None
