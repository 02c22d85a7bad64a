"""The worker side of the subprocess pool: one process imports the stack once and trains candidate after candidate.

Protocol: the driver writes pickled jobs to the worker's stdin one at a time; the worker writes each result to the
file its job names (a temporary name, then an atomic rename, so the driver never reads half a result) and waits for
the next job. End of input ends the worker. Between candidates it clears Keras' state and collects garbage, so one
candidate's graphs and layer names never reach the next; the driver recycles a worker after a number of candidates
or when its resident memory passes a limit, and replaces one that dies.

This module imports nothing heavy: the trial function imports Keras on its first job, with the thread settings of
that job's task.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import pickle
import resource
import select
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

from videonas.search.executors import call_trial

DRIVER_PID = "VIDEONAS_DRIVER_PID"
RUN_FOLDER = "VIDEONAS_RUN_FOLDER"  # the driver's run folder, known to a worker before its first job
ORPHAN_GRACE_S = 2.0  # how long end of input may precede the kernel's re-parenting when the driver is killed
_run_folder: str | None = None  # the driver's run folder, removed by this worker if its driver dies


def rss_mib() -> float:
    """This process's resident memory now (``/proc``), or its peak where ``/proc`` is absent."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_between_candidates() -> None:
    """Drop what the last candidate left: Keras' global state (graphs, layer-name counters) and unreachable objects
    (``clear_session`` collects them itself: one full collection, not two)."""
    keras = sys.modules.get("keras")
    if keras is not None:
        keras.backend.clear_session()
    else:
        gc.collect()


def freeze_imported_heap() -> None:
    """Move every object alive now (the imported TensorFlow/Keras/torch stack, half a million objects) out of the
    garbage collector's view: a full collection then takes milliseconds instead of about 0.3 s, and a worker runs
    several per candidate (``clear_session``, and Python's own). Called once, after the first candidate's reset, so
    what is frozen is what every later candidate shares; objects freed by reference counting are still freed."""
    gc.freeze()


def main() -> None:
    """Entry point of a pool worker (``python -c "from videonas.search.worker import main; main()"``)."""
    global _run_folder
    driver = int(os.environ.get(DRIVER_PID, "0")) or os.getppid()
    _run_folder = os.environ.get(RUN_FOLDER) or None
    _die_with_driver(driver)
    # A worker traces new functions for every candidate by design: TensorFlow's retracing warnings and C++ start-up
    # lines would only bury the messages that matter in a notebook's or a driver's log.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    stdin = sys.stdin.buffer
    served = 0
    while True:
        try:
            job = pickle.load(stdin)
        except EOFError:
            _leave(driver)
            return
        _run_folder = os.path.dirname(job["result_path"])
        sys.path[:0] = [entry for entry in job["sys_path"] if entry not in sys.path]
        result = call_trial(job["function"], pickle.loads(job["genome"]), job["seed"], job["options"])
        served += 1
        reset_between_candidates()
        if served == 1:
            freeze_imported_heap()
        result.metrics = {**(result.metrics or {}), "worker": {"served": served, "rss_mib": round(rss_mib(), 1),
                                                               "frozen_objects": gc.get_freeze_count()}}
        temporary = job["result_path"] + ".tmp"
        with open(temporary, "wb") as handle:
            pickle.dump(result, handle)
        os.replace(temporary, job["result_path"])


def _leave(driver: int) -> None:
    """End of input: a driver that closes its pool removes the run folder itself; one that was killed cannot, so an
    idle worker that finds itself orphaned removes it (the pipe closes a moment before the kernel re-parents us)."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while os.getppid() == driver and time.monotonic() < deadline:
        time.sleep(0.02)
    if os.getppid() != driver and _run_folder is not None:
        shutil.rmtree(_run_folder, ignore_errors=True)


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
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass  # the watchdog's polling still covers it
    if os.getppid() != driver:  # the driver died before the line above took effect
        if _run_folder is not None:
            shutil.rmtree(_run_folder, ignore_errors=True)
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
                if orphaned and _run_folder is not None:
                    shutil.rmtree(_run_folder, ignore_errors=True)
                try:
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=watch, name="videonas-watchdog", daemon=True).start()
