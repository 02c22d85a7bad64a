"""Stores outlive the code: schema versions (old stores read, resume refused with what to do) and read-only readers."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from videonas.deploy import cli
from videonas.search import Experiment
from videonas.search import storefile
from videonas.search.store import Trial, TrialResult, TrialStore

ROOT = Path(__file__).resolve().parents[1]
# A store that videonas wrote before stores had a version: the TVN search report's store as committed before 5731116
# (frozen here, because the report's own store is rewritten by every `make reproduce`).
COMMITTED = ROOT / "tests" / "data" / "unversioned_store.sqlite"
NAME = "evolution-seed0"

# The tables as the code wrote them before versions existed and before the lease (no `leases` table).
OLD_TABLES = """
CREATE TABLE experiments (name TEXT PRIMARY KEY, config TEXT NOT NULL, config_hash TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE trials (experiment TEXT NOT NULL, idx INTEGER NOT NULL, round INTEGER NOT NULL, parent INTEGER,
    genome TEXT NOT NULL, genome_key TEXT NOT NULL, status TEXT NOT NULL, fitness REAL,
    metrics TEXT NOT NULL DEFAULT '{}', params INTEGER, flops INTEGER, latency_ms REAL, error TEXT, seed INTEGER,
    created REAL NOT NULL, started REAL, finished REAL, host TEXT, PRIMARY KEY (experiment, idx));
"""
CONFIG = {"space": {"family": "toy", "options": {"length": 4, "choices": 3}}, "seed": 0}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def committed(tmp_path):
    """A copy of the committed unversioned store (the committed file itself is never opened)."""
    copy = tmp_path / "search.sqlite"
    shutil.copyfile(COMMITTED, copy)
    return copy


def _old_store(path: Path, extra_column: bool = False) -> Path:
    """A store as an unversioned videonas wrote it (optionally with a column version 1 does not have)."""
    with sqlite3.connect(path) as connection:
        connection.executescript(OLD_TABLES)
        if extra_column:
            connection.execute("ALTER TABLE trials ADD COLUMN rung INTEGER")
        connection.execute("INSERT INTO experiments VALUES ('exp', ?, 'h', 0.0)", (json.dumps(CONFIG),))
        connection.execute("INSERT INTO trials (experiment, idx, round, genome, genome_key, status, fitness, created) "
                           "VALUES ('exp', 0, 0, '[0, 1, 2, 0]', 'k0', 'done', 0.5, 0.0)")
    connection.close()
    return path


def test_a_new_store_carries_the_version(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    assert store.schema_version == storefile.SCHEMA_VERSION == 3
    store.close()
    with sqlite3.connect(tmp_path / "s.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 3
    connection.close()


def test_a_committed_store_without_version_is_read_without_being_written(committed, capsys):
    before = _digest(committed)
    experiment = Experiment(NAME, committed)
    assert experiment.store.read_only and experiment.store.schema_version == 0
    trials = experiment.trials()
    assert len(trials) == 12 and len(experiment.history()) == 12
    best = experiment.best(1)[0]
    assert best.status == "done" and experiment.genome(best).key == best.genome_key
    assert experiment.best_genome() == experiment.genome(best)
    assert experiment.store.lease_holder(NAME) is None
    experiment.store.close()
    assert cli.trials_main(["--store", str(committed), "--name", NAME, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("index,status,fitness") and len(lines) == 13
    assert _digest(committed) == before  # reading stamped nothing


def test_an_older_format_reads_but_resuming_says_what_to_do(tmp_path, committed, monkeypatch):
    # An unversioned store (its configuration in the old shape) is refused at once, and no trial is written.
    path = _old_store(tmp_path / "old.sqlite")
    store = TrialStore(path)
    with pytest.raises(ValueError, match=r"written by an older videonas \(store schema 0; this videonas writes schema "
                                         r"3\): it can still be read .*cannot resume in it: start a new store.*"
                                         r"videonas trials --store .*old.sqlite --name NAME --format csv"):
        store.open_experiment("exp", CONFIG)
    for write in (lambda: store.acquire_lease("exp"), lambda: store.finish("exp", 0, TrialResult(fitness=0.9))):
        with pytest.raises(ValueError, match="older videonas"):
            write()
    assert store.schema_version == 0 and store.trials("exp")[0].fitness == 0.5
    # When the code's version moves on (a new configuration format), every older store reads but cannot resume.
    version_2 = _new_store(tmp_path / "v2.sqlite")
    monkeypatch.setattr(storefile, "SCHEMA_VERSION", 4)
    for old, name, version in ((committed, NAME, 0), (version_2, "exp", 3)):
        assert Experiment(name, old).trials()
        with pytest.raises(ValueError, match=rf"older videonas \(store schema {version}; this videonas writes"):
            TrialStore(old).acquire_lease(name)
    assert TrialStore(committed, read_only=True).schema_version == 0


def _new_store(path: Path) -> Path:
    with TrialStore(path) as store:
        store.open_experiment("exp", CONFIG)
        store.add_trials([Trial("exp", 0, 0, None, "[0, 1, 2, 0]", "k0", "pending")])
    return path


def test_a_newer_store_is_refused_with_upgrade_videonas(tmp_path):
    path = _new_store(tmp_path / "s.sqlite")
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 7")
    connection.close()
    store = TrialStore(path)
    for write in (lambda: store.open_experiment("exp", CONFIG), lambda: store.acquire_lease("exp")):
        with pytest.raises(ValueError, match=r"newer videonas \(store schema 7; this videonas writes schema 3\): "
                                             "upgrade videonas"):
            write()
    with pytest.raises(ValueError, match=r"newer videonas \(store schema 7.*upgrade videonas to read it"):
        Experiment("exp", path)


def test_readers_open_read_only_even_a_read_only_file_in_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _new_store(folder / "s.sqlite")
    path.chmod(0o444)
    folder.chmod(0o555)
    try:
        experiment = Experiment("exp", path)
        assert [t.index for t in experiment.trials()] == [0]
        with pytest.raises(sqlite3.OperationalError, match="attempt to write a readonly database"):
            experiment.store._conn.execute("UPDATE trials SET status = 'failed'")
        with pytest.raises(ValueError, match="opened read-only"):
            experiment.store.finish("exp", 0, TrialResult(fitness=0.9))
        experiment.store.close()
        assert cli.open_experiment(str(path), "exp").store.read_only
    finally:
        folder.chmod(0o755)
    with pytest.raises(ValueError, match="not found"):
        Experiment("exp", tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def _run_unprivileged(arguments: list[str], folder: Path) -> subprocess.CompletedProcess:
    """``python -m videonas ...`` as a user for whom chmod holds (``nobody``, through setpriv, when run as root)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            nobody = None
        if nobody is None or shutil.which("setpriv") is None:
            pytest.skip("running as root without 'nobody' and setpriv: chmod cannot make a folder read-only")
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*prefix, sys.executable, "-m", "videonas", *arguments], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_videonas_trials_reads_a_store_in_a_read_only_folder():
    folder = Path(tempfile.mkdtemp(prefix="videonas-ro-"))  # not under pytest's root-only tmp folder
    try:
        shutil.copyfile(COMMITTED, folder / "search.sqlite")  # checkpointed: no -wal, no -shm beside it
        logged = folder / "logged"  # a store whose last trials are still in its log, without the -shm index
        logged.mkdir()
        shutil.copyfile(COMMITTED, logged / "search.sqlite")
        writer = sqlite3.connect(logged / "search.sqlite")
        writer.execute("PRAGMA wal_autocheckpoint=0")
        with writer:
            writer.execute("UPDATE trials SET host = 'later' WHERE idx = 0")
        shutil.copyfile(logged / "search.sqlite-wal", logged / "log-copy")
        writer.close()
        (logged / "log-copy").rename(logged / "search.sqlite-wal")
        for path in (folder / "search.sqlite", logged / "search.sqlite", logged / "search.sqlite-wal"):
            path.chmod(0o444)
        for path in (logged, folder):
            path.chmod(0o555)
        result = _run_unprivileged(["trials", "--store", "search.sqlite", "--name", NAME, "--format", "csv"], folder)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.splitlines()) == 13 and sorted(os.listdir(folder)) == ["logged", "search.sqlite"]
        result = _run_unprivileged(["trials", "--store", "logged/search.sqlite", "--name", NAME], folder)
        assert result.returncode == 2 and "copy search.sqlite and search.sqlite-wal to a writable folder" in \
            result.stderr
    finally:
        for path in (folder, folder / "logged"):
            if path.exists():
                path.chmod(stat.S_IRWXU)
        shutil.rmtree(folder)
