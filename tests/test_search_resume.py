"""Resume: a search killed with SIGKILL and run again ends with exactly the history of an uninterrupted run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import yaml

from videonas.search import TrialStore, run_search
from videonas.search.synthetic import ToySpace

SYNTHETIC = "videonas.search.synthetic:evaluate"
CONFIG = dict(space={"family": "toy", "options": {"length": 8, "choices": 3}},
              num_trials=24, strategy={"name": "regularized", "options": {"population_size": 8}}, batch_size=4,
              seed=5, executor="inprocess")


def _rows(trials):
    return [(t.index, t.round, t.parent, t.genome_key, t.status, t.fitness) for t in trials]


def _done_count(path):
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # the driver has not created the tables yet
        return 0


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(tmp_path):
    store_path = tmp_path / "killed.sqlite"
    config_path = tmp_path / "search.yaml"
    config_path.write_text(yaml.safe_dump({**CONFIG, "name": "exp", "store": str(store_path),
                                           "evaluate": {"function": SYNTHETIC, "options": {"delay_s": 0.15}}}))
    command = [sys.executable, "-m", "videonas", "search", "--config", str(config_path), "--no-progress"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _done_count(store_path) < 6 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    with TrialStore(store_path) as store:
        before = store.trials("exp")
    finished_before = {t.index: t.finished for t in before if t.status == "done"}
    assert len(finished_before) >= 6 and len(before) < 24, "the kill must land mid-run"
    assert any(t.status in ("running", "pending") for t in before)

    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    with TrialStore(store_path) as store:
        resumed = store.trials("exp")
    reference = run_search("exp", store=tmp_path / "reference.sqlite", progress=False,
                           evaluate={"function": SYNTHETIC, "options": {"delay_s": 0.0}}, **CONFIG).trials()
    assert _rows(resumed) == _rows(reference)
    assert len(resumed) == 24 and [t.index for t in resumed] == list(range(24))
    # Finished trials were kept, not re-run: their completion times did not change.
    assert {i: t.finished for i, t in enumerate(resumed) if i in finished_before} == finished_before


def test_trials_left_running_are_requeued_and_finished_ones_kept(tmp_path):
    path = tmp_path / "s.sqlite"
    first = run_search("exp", store=path, progress=False, **{**CONFIG, "num_trials": 12}).trials()
    with sqlite3.connect(path) as connection:  # what a crash in the middle of the last round leaves behind
        connection.execute("UPDATE trials SET status = 'running', fitness = NULL, finished = NULL WHERE idx >= 10")
        connection.execute("UPDATE trials SET status = 'pending', fitness = NULL, finished = NULL WHERE idx = 9")
    again = run_search("exp", store=path, progress=False, **{**CONFIG, "num_trials": 12}).trials()
    assert _rows(again) == _rows(first)
    assert [t.finished for t in again[:8]] == [t.finished for t in first[:8]]
    assert all(again[i].finished > first[i].finished for i in (9, 10, 11))


def test_growing_num_trials_continues_the_same_search(tmp_path):
    run_search("exp", store=tmp_path / "grow.sqlite", progress=False, **{**CONFIG, "num_trials": 8})
    grown = run_search("exp", store=tmp_path / "grow.sqlite", progress=False, **{**CONFIG, "num_trials": 16})
    direct = run_search("exp", store=tmp_path / "direct.sqlite", progress=False, **{**CONFIG, "num_trials": 16})
    assert _rows(grown.trials()) == _rows(direct.trials())


def test_changed_configuration_is_refused_unless_forced(tmp_path):
    path = tmp_path / "s.sqlite"
    run_search("exp", store=path, progress=False, **{**CONFIG, "num_trials": 4})
    with pytest.raises(ValueError, match=r"different configuration \(changed: \['seed'\]\)"):
        run_search("exp", store=path, progress=False, **{**CONFIG, "num_trials": 8, "seed": 6})
    experiment = run_search("exp", store=path, progress=False, force=True, **{**CONFIG, "num_trials": 8, "seed": 6})
    assert len(experiment.trials()) == 8


def test_duplicate_genomes_reuse_the_stored_result(tmp_path):
    experiment = run_search("dups", space=ToySpace(length=2, choices=2), store=tmp_path / "d.sqlite",
                            num_trials=12, strategy="random", batch_size=4, seed=0, evaluate=SYNTHETIC,
                            executor="inprocess", progress=False)
    trials = experiment.trials()
    evaluated = [t for t in trials if "reused_from" not in t.metrics]
    assert len({t.genome_key for t in trials}) == len(evaluated) < len(trials)  # 4 possible genomes, 12 trials
    for trial in trials:
        if "reused_from" in trial.metrics:
            source = trials[trial.metrics["reused_from"]]
            assert source.genome_key == trial.genome_key and source.fitness == trial.fitness
            assert source.index < trial.index
    history = experiment.history()
    assert len(history) == 12 and experiment.best_genome().values == tuple(ToySpace(length=2, choices=2).target)
