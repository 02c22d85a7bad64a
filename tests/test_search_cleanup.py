"""Temporary run folders go on every exit path: an idle pool whose driver is SIGKILLed removes its own, and the next
run of any executor removes those whose driver is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from videonas.search import pool, run_search

DRIVER = """
import os, signal, sys
from videonas.search.pool import SubprocessExecutor

executor = SubprocessExecutor(max_workers=2)
executor._prepare()  # the run folder, as the pool's first run makes it
workers = [executor._start(), executor._start()]  # started, and killed before any job reaches them
print(executor._folder, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

@pytest.mark.slow
def test_workers_of_a_driver_killed_before_their_first_job_remove_its_run_folder():
    done = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, timeout=120)
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.name.startswith(pool.FOLDER_PREFIX)
    deadline = time.monotonic() + 15
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not folder.exists()


def test_the_next_run_of_any_executor_sweeps_folders_of_dead_drivers(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = Path(tempfile.mkdtemp(prefix=f"{pool.FOLDER_PREFIX}{dead}-"))
    live = Path(tempfile.mkdtemp(prefix=f"{pool.FOLDER_PREFIX}{os.getpid()}-"))
    try:
        run_search("sweep", space={"family": "toy", "options": {"length": 4, "choices": 2}}, num_trials=1,
                   store=tmp_path / "s.sqlite", evaluate="videonas.search.synthetic:evaluate", executor="inprocess",
                   progress=False)
        assert not stale.exists() and live.exists()
    finally:
        for folder in (stale, live):
            if folder.exists():
                folder.rmdir()
