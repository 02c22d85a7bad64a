"""The trial store's file: its tables, its schema version, and how readers and writers open it.

Version. A store carries its schema version in SQLite's ``PRAGMA user_version`` (a field of the file header), not in
a table of its own: it is written in the same transaction as the tables when a store is born, it can be read through
a read-only connection before anything else is looked at, and an old store needs no new table to say "no version"
(a store written before versions existed reads 0). ``SCHEMA_VERSION`` is what this code reads and writes; bump it
whenever the tables *or the shape of what they hold* (the stored run configuration, metrics) change.

Old and new stores. Readers (``Experiment``, ``videonas trials``, ``export``, the reports) read any store up to
``SCHEMA_VERSION``; a newer one is refused ("upgrade videonas"). A writer (a driver that opens an experiment, takes
its lease or writes a trial) needs exactly ``SCHEMA_VERSION``, and any other version is refused with a ``ValueError``
that says what to do, because resuming would mix two formats in one history (an unversioned store, written before
versions existed, holds its run configuration as ``evaluate_options``: it reads, through
``videonas.config.stored_trial_options``, but does not resume).

Read-only. Readers open the file with ``mode=ro`` and never write (so a store in a read-only folder, or a read-only
file, can be read, and a reader cannot damage a store). SQLite reads a WAL store read-only only when it can use the
``-shm`` index (the folder is writable, or the ``-shm`` and ``-wal`` files already exist); in a read-only folder
without them there is no log to read, and the file is opened ``immutable=1`` (which skips locking and the log).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
import uuid
from pathlib import Path

from videonas.search import lease

# 1: the first stamped layout; 2: the stored run configuration is ``videonas.config.SearchConfig.stored()`` (task,
# budget and constraints at the top) instead of ``evaluate_options``; 3: trials carry the rung they reached and the
# epochs they trained (multi-fidelity search).
SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    experiment TEXT NOT NULL,
    idx INTEGER NOT NULL,
    round INTEGER NOT NULL,
    parent INTEGER,
    genome TEXT NOT NULL,
    genome_key TEXT NOT NULL,
    status TEXT NOT NULL,
    fitness REAL,
    metrics TEXT NOT NULL DEFAULT '{}',
    params INTEGER,
    flops INTEGER,
    latency_ms REAL,
    error TEXT,
    seed INTEGER,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    host TEXT,
    rung INTEGER,
    epochs INTEGER,
    PRIMARY KEY (experiment, idx)
);
CREATE INDEX IF NOT EXISTS trials_key ON trials (experiment, genome_key);
""" + lease.SCHEMA

STORE_TABLES = ("experiments", "trials")

# SQLite's result codes of a read-only open that needs the -shm file it cannot create.
_CANNOT_OPEN = ("SQLITE_CANTOPEN", "SQLITE_READONLY")


def _uri(path: Path, query: str) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?" + query


def create(path: Path) -> None:
    """Make a new store at ``path`` whole, at ``SCHEMA_VERSION``, unless one appears there first.

    The store is initialised under a temporary name and hard-linked into place, so no process ever sees an empty or
    unversioned file at ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.new")
    try:
        with contextlib.closing(sqlite3.connect(str(temporary))) as connection, connection:
            initialise(connection)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process created it first: open theirs
    finally:
        temporary.unlink(missing_ok=True)


def initialise(connection: sqlite3.Connection) -> None:
    """Create the tables in an empty database and stamp it with ``SCHEMA_VERSION``."""
    connection.executescript(TABLES)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def open_read_write(path: Path) -> sqlite3.Connection:
    """A writer's connection: the store is created when missing, never created by accident when present."""
    if not path.exists():
        create(path)
    elif path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"trial store {path} is an empty file, not a SQLite trial store (a failed copy?); "
                         "delete it or pass another path")
    try:
        return sqlite3.connect(_uri(path, "mode=rw"), uri=True, timeout=60.0)
    except sqlite3.Error as error:
        raise ValueError(f"trial store {path} cannot be opened: {error}") from error


def open_read_only(path: Path) -> sqlite3.Connection:
    """A reader's connection, which cannot write: ``mode=ro``, or ``immutable=1`` in a read-only folder with no log."""
    if not path.is_file():
        raise ValueError(f"trial store {path} not found")
    if path.stat().st_size == 0:
        raise ValueError(f"trial store {path} is an empty file, not a SQLite trial store (a failed copy?)")
    connection = sqlite3.connect(_uri(path, "mode=ro"), uri=True, timeout=60.0)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.OperationalError as error:
        connection.close()
        if not str(getattr(error, "sqlite_errorname", "")).startswith(_CANNOT_OPEN):
            raise ValueError(f"trial store {path} cannot be opened: {error}") from error
    except sqlite3.DatabaseError as error:
        connection.close()
        raise ValueError(f"trial store {path} cannot be opened as SQLite: {error}") from error
    log_file = path.with_name(path.name + "-wal")
    if log_file.exists() and log_file.stat().st_size > 0:
        # immutable=1 would skip the log and silently miss the trials in it.
        raise ValueError(f"trial store {path} has trials in its write-ahead log {log_file.name} but no usable "
                         f"{path.name}-shm, and its folder is not writable, so SQLite cannot read the log: copy "
                         f"{path.name} and {log_file.name} to a writable folder and read the copy")
    try:
        connection = sqlite3.connect(_uri(path, "mode=ro&immutable=1"), uri=True, timeout=60.0)
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        raise ValueError(f"trial store {path} cannot be opened read-only: {error}") from error
    return connection


def version(connection: sqlite3.Connection) -> int:
    """The store's schema version as stamped (0: written before stores had one)."""
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def tables(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def check_readable(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse a store this code cannot read: a newer schema, or a database without the store's tables."""
    found = version(connection)
    if found > SCHEMA_VERSION:
        raise ValueError(f"trial store {path} was written by a newer videonas (store schema {found}; this videonas "
                         f"reads schema {SCHEMA_VERSION} at most): upgrade videonas to read it")
    if not set(STORE_TABLES) <= tables(connection):
        raise ValueError(f"{path} is a SQLite database but not a trial store (tables {sorted(tables(connection))})")


def check_writable(connection: sqlite3.Connection, path: Path) -> None:
    """Refuse to write (open an experiment, resume, add trials) in a store of another schema version, with a
    ``ValueError`` that says what happened and what to do."""
    found = version(connection)
    if found == SCHEMA_VERSION:
        return
    if found > SCHEMA_VERSION:
        raise ValueError(f"trial store {path} was written by a newer videonas (store schema {found}; this videonas "
                         f"writes schema {SCHEMA_VERSION}): upgrade videonas to resume a search in it")
    raise ValueError(
        f"trial store {path} was written by an older videonas (store schema {found}; this videonas writes schema "
        f"{SCHEMA_VERSION}): it can still be read (videonas trials, export, reports), but a search cannot resume in "
        f"it: start a new store (another store path), or copy the trials out with "
        f"`videonas trials --store {path} --name NAME --format csv`")
