"""Trial store: every finished trial is committed at once, configurations are checked on resume."""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videonas.search import run_search
from videonas.search.store import LeaseHeldError, LeaseLostError, Trial, TrialResult, TrialStore
from videonas.search.synthetic import ToySpace


def _add(store, count, experiment="exp"):
    store.add_trials([Trial(experiment, i, i // 2, None if i < 2 else 0, f'{{"i":{i}}}', f"k{i}", "pending", seed=i)
                      for i in range(count)])


def test_finished_trial_is_visible_to_another_connection_at_once(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 3)
    store.mark_running("exp", 0, host="h")
    store.finish("exp", 0, TrialResult(fitness=0.75, params=123, flops=456, latency_ms=7.5,
                                       metrics={"loss_curve": [2.0, float("nan")]},
                                       learned={"edge_weights": [[0, 1, 0.25]]}))
    reader = TrialStore(tmp_path / "s.sqlite")
    trial = reader.trials("exp", status="done")[0]
    assert (trial.index, trial.fitness, trial.params, trial.flops, trial.latency_ms) == (0, 0.75, 123, 456, 7.5)
    assert trial.host == "h" and trial.started <= trial.finished
    assert trial.learned == {"edge_weights": [[0, 1, 0.25]]}
    assert trial.metrics["loss_curve"] == [2.0, None]  # strict JSON: a diverged step is null, never bare NaN
    assert "NaN" not in store._conn.execute("SELECT metrics FROM trials WHERE idx = 0").fetchone()[0]
    assert [t.status for t in reader.trials("exp")] == ["done", "pending", "pending"]
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_nan_or_missing_fitness_is_stored_as_failed(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 2)
    store.finish("exp", 0, TrialResult(fitness=float("nan")))
    store.finish("exp", 1, TrialResult.coerce({"status": "done", "fitness": None}))
    trials = store.trials("exp")
    assert [t.status for t in trials] == ["failed", "failed"]
    assert "non-finite fitness nan" in trials[0].error and trials[0].fitness is None


def test_best_and_history(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 4)
    for index, fitness in [(0, 0.5), (1, 0.9), (2, 0.9)]:
        store.finish("exp", index, TrialResult(fitness=fitness, metrics={"accuracy": fitness}))
    store.finish("exp", 3, TrialResult(status="rejected", params=10**9, error="params 1e+09 > limit 1e+06"))
    assert [t.index for t in store.best("exp", 2)] == [1, 2]  # ties: the earlier trial first
    history = store.history("exp")
    assert list(history["status"]) == ["done", "done", "done", "rejected"]
    assert list(history["metric_accuracy"].iloc[:3]) == [0.5, 0.9, 0.9]
    assert history.loc[3, "params"] == 10**9 and math.isnan(history.loc[3, "fitness"])
    assert list(history["parent"].iloc[2:]) == [0, 0]


def test_requeue_resets_running_trials_only(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 3)
    store.mark_running("exp", 0)
    store.mark_running("exp", 1)
    store.finish("exp", 1, TrialResult(fitness=0.1))
    with pytest.raises(RuntimeError, match="needs its lease"):
        store.requeue_unfinished("exp")
    store.acquire_lease("exp")
    assert store.requeue_unfinished("exp") == 1
    assert [t.status for t in store.trials("exp")] == ["pending", "done", "pending"]
    assert store.trials("exp")[0].started is None


def test_changed_configuration_is_refused_unless_forced(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    store.open_experiment("exp", {"seed": 0, "strategy": {"name": "tvn"}})
    store.open_experiment("exp", {"strategy": {"name": "tvn"}, "seed": 0})  # same content, other key order
    with pytest.raises(ValueError, match=r"different configuration \(changed: \['seed'\]\).*force=True.*--force"):
        store.open_experiment("exp", {"seed": 1, "strategy": {"name": "tvn"}})
    store.open_experiment("exp", {"seed": 1, "strategy": {"name": "tvn"}}, force=True)
    assert store.experiment_config("exp")["seed"] == 1
    assert store.experiments() == ["exp"]


def test_bad_status_raises_value_error(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="status"):
        store.trials("exp", status="finished")
    with pytest.raises(ValueError, match="status"):
        TrialResult(status="running")
    with pytest.raises(ValueError, match="TrialResult or dict"):
        TrialResult.coerce(0.5)


def test_empty_foreign_and_non_sqlite_files_are_refused(tmp_path):
    (tmp_path / "empty.sqlite").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.sqlite is an empty file"):
        TrialStore(tmp_path / "empty.sqlite")
    assert (tmp_path / "empty.sqlite").stat().st_size == 0  # left as it was
    (tmp_path / "text.sqlite").write_text("not a database, just text\n" * 10)
    with pytest.raises(ValueError, match="text.sqlite cannot be opened"):
        TrialStore(tmp_path / "text.sqlite")
    with sqlite3.connect(tmp_path / "other.sqlite") as connection:
        connection.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(ValueError, match=r"not a trial store \(tables \['songs'\]\)"):
        TrialStore(tmp_path / "other.sqlite")


def test_a_new_store_is_created_whole_and_reopened(tmp_path):
    store = TrialStore(tmp_path / "new" / "s.sqlite")
    store.open_experiment("exp", {"seed": 0})
    assert (tmp_path / "new" / "s.sqlite").stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "new").iterdir() if p.name.endswith(".new")) == []
    assert TrialStore(tmp_path / "new" / "s.sqlite").experiments() == ["exp"]


def _set_lease(store, **fields):
    """Rewrite the stored lease row, as if another driver held it."""
    assignments = ", ".join(f"{key} = ?" for key in fields)
    with store._conn:
        store._conn.execute(f"UPDATE leases SET {assignments} WHERE experiment = 'exp'", tuple(fields.values()))


def test_a_live_holder_is_named_and_a_stale_lease_is_taken_over(tmp_path):
    path = tmp_path / "s.sqlite"
    first = TrialStore(path, lease_timeout_s=60)
    first.acquire_lease("exp")
    holder = first.lease_holder("exp")
    assert (holder["host"], holder["pid"]) == (socket.gethostname(), os.getpid())
    # Another live process on this host (our parent) holds it: refused at once, naming host, pid and since.
    _set_lease(first, pid=os.getppid())
    second = TrialStore(path, lease_timeout_s=60)
    with pytest.raises(LeaseHeldError, match=rf"host {socket.gethostname()}, pid {os.getppid()}, since 20"):
        second.acquire_lease("exp")
    # A driver on another host with a fresh heartbeat is refused too; with a stale heartbeat it is taken over.
    _set_lease(first, host="elsewhere", heartbeat=time.time())
    with pytest.raises(LeaseHeldError, match="host elsewhere"):
        second.acquire_lease("exp")
    _set_lease(first, heartbeat=time.time() - 61)
    second.acquire_lease("exp")
    assert second.lease_holder("exp")["host"] == socket.gethostname()
    # The first driver lost its lease: its next write is refused and rolled back.
    _add(second, 1)
    with pytest.raises(LeaseLostError, match="took over"):
        first.finish("exp", 0, TrialResult(fitness=0.5))
    assert second.trials("exp")[0].status == "pending"
    second.release_lease("exp")
    assert second.lease_holder("exp") is None


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite", lease_timeout_s=3600)
    store.acquire_lease("exp")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _set_lease(store, pid=dead.pid, token="from-a-killed-driver")
    other = TrialStore(tmp_path / "s.sqlite", lease_timeout_s=3600)
    other.acquire_lease("exp")
    assert other.lease_holder("exp")["pid"] == os.getpid()


def test_a_lease_left_by_a_driver_that_raised_in_this_thread_is_taken_over(tmp_path):
    leaked = TrialStore(tmp_path / "s.sqlite")
    leaked.acquire_lease("exp")  # never released, as if run_search had raised between acquiring and its finally
    rerun = TrialStore(tmp_path / "s.sqlite")
    rerun.acquire_lease("exp")
    _add(rerun, 1)
    with pytest.raises(LeaseLostError):
        leaked.mark_running("exp", 0)


def test_forced_configuration_change_is_refused_while_another_driver_runs(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    store.open_experiment("exp", {"seed": 0})
    store.acquire_lease("exp")
    _set_lease(store, host="elsewhere", heartbeat=time.time())
    with pytest.raises(LeaseHeldError, match="host elsewhere"):
        TrialStore(tmp_path / "s.sqlite").open_experiment("exp", {"seed": 1}, force=True)
    assert store.experiment_config("exp") == {"seed": 0}


def test_a_heartbeat_from_a_clock_far_ahead_is_stale_and_force_takes_a_live_looking_lease_over(tmp_path):
    path = tmp_path / "s.sqlite"
    first = TrialStore(path, lease_timeout_s=60)
    first.acquire_lease("exp")
    _set_lease(first, host="elsewhere", heartbeat=time.time() + 3600)  # written by a host whose clock is an hour ahead
    second = TrialStore(path, lease_timeout_s=60)
    second.acquire_lease("exp")  # more than the timeout in the future: stale, not locked for an hour (or for ever)
    assert second.lease_holder("exp")["host"] == socket.gethostname()
    # Less than the timeout ahead looks live, and says so; an explicit force takes it over.
    _set_lease(second, host="elsewhere", heartbeat=time.time() + 30.5)
    third = TrialStore(path, lease_timeout_s=60)
    with pytest.raises(LeaseHeldError, match=r"host elsewhere.*\d+ s in the future \(that host's clock is ahead\).*"
                                             r"acquire_lease\(name, force=True\)"):
        third.acquire_lease("exp")
    third.acquire_lease("exp", force=True)
    assert third.lease_holder("exp")["pid"] == os.getpid()
    # A live driver on this host (our parent) is never taken over, force or not.
    _set_lease(third, pid=os.getppid())
    with pytest.raises(LeaseHeldError, match="force does not take over a live driver on this host: stop it first"):
        TrialStore(path, lease_timeout_s=60).acquire_lease("exp", force=True)


def test_heartbeat_refreshes_the_lease_until_released(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite", lease_timeout_s=0.2)
    store.acquire_lease("exp")
    first = store.lease_holder("exp")["heartbeat"]
    deadline = time.monotonic() + 30
    while store.lease_holder("exp")["heartbeat"] == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.lease_holder("exp")["heartbeat"] > first
    store.close()
    assert TrialStore(tmp_path / "s.sqlite").lease_holder("exp") is None
    with pytest.raises(ValueError, match="lease_timeout_s"):
        TrialStore(tmp_path / "s.sqlite", lease_timeout_s=0)


def gated_evaluate(genome, *, seed, gate, pid_dir=None, **options):
    """The toy trial function, held until the file ``gate`` exists (records its pid in ``pid_dir`` first)."""
    from videonas.search.synthetic import evaluate

    if pid_dir is not None:
        Path(pid_dir, str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while not os.path.exists(gate):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate {gate} never opened")
        time.sleep(0.02)
    return evaluate(genome, seed=seed, **options)


DRIVER = """
import json, sys
from videonas.search import run_search
from videonas.search.synthetic import ToySpace
options = json.loads(sys.argv[1])
run_search("exp", space=ToySpace(length=6, choices=3), progress=False, **options)
"""
TOY_SEARCH = dict(num_trials=8, strategy={"name": "regularized", "options": {"population_size": 4}}, batch_size=2,
                  seed=4)


def start_driver(tmp_path, store, **options):
    """A driver process running the toy search; it imports this worktree's videonas and this test module."""
    here = Path(__file__).resolve().parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here.parent), str(here)]), "TMPDIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps({**TOY_SEARCH, "store": str(store), **options})],
                            env=env, cwd=here.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_running_trial(store_path, driver):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if store_path.exists():
            with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(store_path, timeout=5) as connection:
                if connection.execute("SELECT COUNT(*) FROM trials WHERE status = 'running'").fetchone()[0]:
                    return
        time.sleep(0.05)
    raise AssertionError(f"driver never started a trial: {driver.communicate()}")


def rows(trials):
    return [(t.index, t.round, t.parent, t.genome_key, t.status, t.fitness) for t in trials]


@pytest.mark.slow
def test_a_second_driver_refuses_and_the_history_equals_a_single_drivers(tmp_path):
    store_path, gate = tmp_path / "two.sqlite", tmp_path / "gate"
    options = dict(evaluate={"function": "test_search_store:gated_evaluate", "options": {"gate": str(gate)}},
                   executor="inprocess")
    first = start_driver(tmp_path, store_path, **options)
    wait_for_running_trial(store_path, first)
    second = start_driver(tmp_path, store_path, **options)
    _, error = second.communicate(timeout=120)
    gate.touch()
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert second.returncode != 0
    assert f"LeaseHeldError: experiment 'exp' in {store_path} is being run by another driver" in error
    assert f"host {socket.gethostname()}, pid {first.pid}, since " in error
    reference = run_search("exp", space=ToySpace(length=6, choices=3), store=tmp_path / "one.sqlite",
                           progress=False, evaluate="videonas.search.synthetic:evaluate", executor="inprocess",
                           **TOY_SEARCH)
    with TrialStore(store_path) as store:
        assert rows(store.trials("exp")) == rows(reference.trials())
        assert [t.round for t in store.trials("exp")] == [0, 0, 1, 1, 2, 2, 3, 3]
        assert store.lease_holder("exp") is None  # released on normal exit
