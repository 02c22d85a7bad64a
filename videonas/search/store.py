"""The trial store: one SQLite file per experiment, the single source of truth for resume and reports.

Every state change is its own committed transaction (WAL journal), so a run killed at any moment loses no finished
trial. A strategy is never pickled: it is rebuilt by replaying the stored trials, which is why the store keeps each
trial's round, parent and full genome JSON.

One driver per experiment: a driver takes the experiment's *lease* (holder host, pid, since, heartbeat) before it
proposes or re-queues anything, so a second driver cannot re-queue the first one's running trials or interleave its
proposals. The lease is refreshed by a heartbeat thread and by every write, and taken over only when it is stale.

Stores outlive the code that wrote them, so each carries a schema version (``PRAGMA user_version``, see
``videonas.search.storefile`` for why and for the rules). Readers (``TrialStore(path, read_only=True)``, which
``Experiment``, ``videonas trials`` and ``export`` use) open the file read-only and read every version up to this
code's. A writer refuses a store of another version when it opens an experiment, takes a lease or writes a trial,
with a ``ValueError`` that says what to do: a search cannot resume across a format change. A store written before
versions existed whose tables are exactly version 1's differs only by the missing stamp, so it is stamped in place
rather than refused (resuming a search across that upgrade keeps working); real format differences are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from videonas import jsonio
from videonas.search import lease, storefile
from videonas.search.lease import LEASE_TIMEOUT_S, LeaseHeldError, LeaseLostError, pid_alive  # noqa: F401

STATUSES = ("pending", "running", "done", "failed", "rejected")
FINISHED = ("done", "failed", "rejected")

@dataclasses.dataclass
class TrialResult:
    """What evaluating one candidate produced. ``rejected_by`` names the constraint filter that rejected it;
    ``learned`` is the family's learned context (plain JSON, e.g. AssembleNet's edge weights) that its children's
    mutation receives."""

    status: str = "done"
    fitness: float | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    params: int | None = None
    flops: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    rejected_by: str | None = None
    learned: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in FINISHED:
            raise ValueError(f"status must be one of {list(FINISHED)}, got {self.status!r}")
        if self.status == "done" and (self.fitness is None or not math.isfinite(float(self.fitness))):
            # A NaN or missing fitness is a failure, whoever produced it.
            self.status, self.error = "failed", self.error or f"non-finite fitness {self.fitness!r}"
            self.fitness = None

    @classmethod
    def failed(cls, error: str, **fields: Any) -> "TrialResult":
        return cls(status="failed", error=error, **fields)

    @classmethod
    def coerce(cls, value: "TrialResult | Mapping[str, Any]") -> "TrialResult":
        """Accept a ``TrialResult`` or a plain dict (what an evaluate function in another process may return)."""
        if isinstance(value, TrialResult):
            return value
        if isinstance(value, Mapping):
            return cls(**value)
        raise ValueError(f"evaluate function must return a TrialResult or dict, got {type(value).__name__}")


@dataclasses.dataclass
class Trial:
    """One stored row; ``genome`` is the canonical JSON text (decode with the space's genome type)."""

    experiment: str
    index: int
    round: int
    parent: int | None
    genome: str
    genome_key: str
    status: str
    fitness: float | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    params: int | None = None
    flops: int | None = None
    latency_ms: float | None = None
    error: str | None = None
    seed: int | None = None
    created: float | None = None
    started: float | None = None
    finished: float | None = None
    host: str | None = None
    rung: int | None = None  # the highest rung it reached in a multi-fidelity search (None: a search without rungs)
    epochs: int | None = None  # training epochs it received in all (None: not trained, or a copied duplicate)

    @property
    def rejected_by(self) -> str | None:
        """The name of the constraint filter that rejected this trial (``None`` unless rejected)."""
        return self.metrics.get("rejected_by")

    @property
    def learned(self) -> dict[str, Any]:
        """The family's learned context of this trial (``{}`` when there is none)."""
        return dict(self.metrics.get("learned") or {})

    def result(self) -> TrialResult:
        """The stored outcome as a ``TrialResult`` (used to copy a duplicate's result)."""
        metrics = {k: v for k, v in self.metrics.items() if k not in ("learned", "rejected_by")}
        return TrialResult(status=self.status, fitness=self.fitness, metrics=metrics, params=self.params,
                           flops=self.flops, latency_ms=self.latency_ms, error=self.error,
                           rejected_by=self.rejected_by, learned=self.learned or None)


def config_hash(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


class TrialStore:
    """SQLite trial store. Safe for one writer (the driver) and any number of readers (reports, notebooks).

    ``lease_timeout_s`` is how old a lease's heartbeat must be before another driver may take it over.
    ``read_only=True`` is a reader's store: it opens the file read-only (so a store in a read-only folder can be read),
    never creates one, reads stores of older schema versions, and refuses every write with a ``ValueError``. A writer
    (the default) may open an older store to read it too; it is refused (``storefile.check_writable``) only when it
    opens an experiment, takes a lease or writes a trial.
    """

    def __init__(self, path: str | Path, *, lease_timeout_s: float = LEASE_TIMEOUT_S, read_only: bool = False) -> None:
        if not (isinstance(lease_timeout_s, (int, float)) and lease_timeout_s > 0):
            raise ValueError(f"lease_timeout_s must be > 0, got {lease_timeout_s!r}")
        self.path = Path(path)
        self.lease_timeout_s = float(lease_timeout_s)
        self.read_only = bool(read_only)
        self._leases: dict[str, lease.Heartbeat] = {}
        self._writable = False  # the schema version was checked for writing (storefile.check_writable)
        self._conn = storefile.open_read_only(self.path) if self.read_only else storefile.open_read_write(self.path)
        self._conn.row_factory = sqlite3.Row
        try:
            tables = storefile.tables(self._conn)
            if tables and not tables & set(storefile.STORE_TABLES):
                raise ValueError(f"{self.path} is a SQLite database but not a trial store (tables {sorted(tables)})")
            if self.read_only:
                storefile.check_readable(self._conn, self.path)
            else:
                self._conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL with WAL survives a killed process (only an OS crash can lose the last commits).
                self._conn.execute("PRAGMA synchronous=NORMAL")
                if not tables:  # a SQLite file with nothing in it yet: make it a store
                    with self._conn:
                        storefile.initialise(self._conn)
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise ValueError(f"trial store {self.path} cannot be opened as SQLite: {error}") from error
        except ValueError:
            self._conn.close()
            raise

    def _has_rungs(self) -> bool:
        """Whether the trials table has the rung column (stores written before multi-fidelity search do not)."""
        return any(row[1] == "rung" for row in self._conn.execute("PRAGMA table_info(trials)"))

    @property
    def schema_version(self) -> int:
        """The store's schema version (``storefile.SCHEMA_VERSION`` for a store this code wrote; 0 for an old one)."""
        return storefile.version(self._conn)

    def _require_writable(self) -> None:
        """Before the first write: refuse a reader, and a store of another schema version (outside a transaction)."""
        if self.read_only:
            raise ValueError(f"trial store {self.path} was opened read-only (read_only=True): open it with "
                             "TrialStore(path) to write")
        if not self._writable:
            storefile.check_writable(self._conn, self.path)
            self._writable = True

    def close(self) -> None:
        for experiment in list(self._leases):
            self.release_lease(experiment)
        self._conn.close()

    def __enter__(self) -> "TrialStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- experiments -------------------------------------------------------------------------------------------------

    def experiment_config(self, name: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT config FROM experiments WHERE name = ?", (name,)).fetchone()
        return None if row is None else json.loads(row["config"])

    def experiments(self) -> list[str]:
        return [row["name"] for row in self._conn.execute("SELECT name FROM experiments ORDER BY created")]

    def open_experiment(self, name: str, config: Mapping[str, Any], *, force: bool = False) -> None:
        """Create the experiment, or check that a resumed one has the same configuration.

        Resuming with a different configuration would silently mix two searches in one history, so it is refused
        unless ``force`` (then the new configuration replaces the stored one). A store of another schema version is
        refused first, with what to do (``storefile.check_writable``).
        """
        self._require_writable()
        config = json.loads(json.dumps(config, sort_keys=True, default=str))
        stored = self.experiment_config(name)
        if stored is not None and stored != config and not force:
            changed = sorted(k for k in set(stored) | set(config) if stored.get(k) != config.get(k))
            raise ValueError(
                f"experiment {name!r} in {self.path} was run with a different configuration (changed: {changed}); "
                "use another name or store, or continue anyway with force=True (command line: --force)"
            )
        if stored is not None and stored != config and name not in self._leases:
            # Never replace the configuration under a running driver.
            lease.refuse_if_held(self._conn, self.path, name, self.lease_timeout_s)
        with self._conn:
            self._touch(name)
            self._conn.execute(
                "INSERT INTO experiments (name, config, config_hash, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET config = excluded.config, config_hash = excluded.config_hash",
                (name, json.dumps(config, sort_keys=True), config_hash(config), time.time()),
            )

    # --- the lease: one driver per experiment --------------------------------------------------------------------

    def acquire_lease(self, experiment: str, *, force: bool = False) -> None:
        """Become the experiment's one driver, or raise ``LeaseHeldError`` naming the live holder (host, pid, since).

        A stale lease is taken over: heartbeat more than ``lease_timeout_s`` old (or that far in the future: a host
        whose clock is ahead), holder on this host and ended, or left by an earlier call in this very thread (a
        driver that raised before releasing it). ``force=True`` also takes over a lease that looks live but is held
        from another host (its driver is known to be gone and you will not wait for the timeout); a live driver on
        this host is never taken over. A store of another schema version is refused first.
        """
        self._require_writable()
        if experiment not in self._leases:
            self._leases[experiment] = lease.acquire(self._conn, self.path, experiment, self.lease_timeout_s,
                                                     force=force)

    def release_lease(self, experiment: str) -> None:
        """Give the lease up (normal exit); a no-op when this store does not hold it."""
        if experiment in self._leases:
            lease.release(self._conn, self._leases.pop(experiment))

    def lease_holder(self, experiment: str) -> dict[str, Any] | None:
        """The stored lease (host, pid, since, heartbeat), stale or not; ``None`` when nobody holds one."""
        if "leases" not in storefile.tables(self._conn):  # a store older than leases, opened read-only
            return None
        return lease.holder(self._conn, experiment)

    def _touch(self, experiment: str) -> None:
        """First in a write transaction: refresh our lease, or fail (rolling the write back) if it was taken over."""
        self._require_writable()
        if experiment in self._leases:
            try:
                lease.touch(self._conn, self.path, self._leases[experiment], self.lease_timeout_s)
            except lease.LeaseLostError:
                self._leases.pop(experiment)
                raise

    # --- trials ------------------------------------------------------------------------------------------------------

    def add_trials(self, trials: Iterable[Trial]) -> None:
        trials = list(trials)
        now = time.time()
        with self._conn:
            for experiment in {t.experiment for t in trials}:
                self._touch(experiment)
            self._conn.executemany(
                "INSERT INTO trials (experiment, idx, round, parent, genome, genome_key, status, seed, created) "
                "VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                [(t.experiment, t.index, t.round, t.parent, t.genome, t.genome_key, t.seed, now) for t in trials],
            )

    def mark_running(self, experiment: str, index: int, host: str | None = None) -> None:
        with self._conn:
            self._touch(experiment)
            self._conn.execute(
                "UPDATE trials SET status = 'running', started = ?, host = ? WHERE experiment = ? AND idx = ?",
                (time.time(), host or socket.gethostname(), experiment, index),
            )

    def finish(self, experiment: str, index: int, result: TrialResult, *, rung: int | None = None,
               epochs: int | None = None) -> None:
        """Record a finished trial (or its evaluation at a higher ``rung``, after ``epochs`` of training in all) and
        commit at once: this is the durability point of the search."""
        metrics = dict(result.metrics)
        if result.learned:
            metrics["learned"] = result.learned
        if result.rejected_by is not None:
            metrics["rejected_by"] = result.rejected_by
        with self._conn:
            self._touch(experiment)
            self._conn.execute(
                "UPDATE trials SET status = ?, fitness = ?, metrics = ?, params = ?, flops = ?, latency_ms = ?, "
                "error = ?, finished = ?, rung = ?, epochs = ? WHERE experiment = ? AND idx = ?",
                (result.status, None if result.fitness is None else float(result.fitness),
                 jsonio.dumps(metrics, sort_keys=True),
                 None if result.params is None else int(result.params),
                 None if result.flops is None else int(result.flops),
                 None if result.latency_ms is None else float(result.latency_ms),
                 result.error, time.time(), rung, epochs, experiment, index),
            )

    def update_metrics(self, experiment: str, index: int, updates: Mapping[str, Any]) -> None:
        """Merge ``updates`` into a finished trial's metrics (a score computed after the search, such as the test
        score of a selected trial); its status, fitness and timestamps stay as they are."""
        self._require_writable()
        row = self._conn.execute("SELECT status, metrics FROM trials WHERE experiment = ? AND idx = ?",
                                 (experiment, index)).fetchone()
        if row is None or row["status"] not in FINISHED:
            raise ValueError(f"trial {index} of experiment {experiment!r} must be finished to update its metrics, "
                             f"got {None if row is None else row['status']!r}")
        metrics = {**json.loads(row["metrics"] or "{}"), **updates}
        with self._conn:
            self._conn.execute("UPDATE trials SET metrics = ? WHERE experiment = ? AND idx = ?",
                               (jsonio.dumps(metrics, sort_keys=True), experiment, index))

    def requeue_unfinished(self, experiment: str) -> int:
        """Trials left ``running`` by a killed driver go back to ``pending``; returns how many.

        Only the lease holder may do this: otherwise a second driver would re-queue the first one's running trials.
        """
        if experiment not in self._leases:
            raise RuntimeError(f"re-queuing trials of experiment {experiment!r} needs its lease (acquire_lease)")
        with self._conn:
            self._touch(experiment)
            cursor = self._conn.execute(
                "UPDATE trials SET status = 'pending', started = NULL, host = NULL "
                "WHERE experiment = ? AND status = 'running'", (experiment,))
        return cursor.rowcount

    def count(self, experiment: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM trials WHERE experiment = ?", (experiment,)).fetchone()[0]

    def trials(self, experiment: str, *, status: str | Sequence[str] | None = None, start: int = 0,
               stop: int | None = None) -> list[Trial]:
        """Trials in index order (indices ``start <= index < stop``), optionally only the given status(es)."""
        query, args = "SELECT * FROM trials WHERE experiment = ? AND idx >= ?", [experiment, int(start)]
        if stop is not None:
            query, args = query + " AND idx < ?", args + [int(stop)]
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            for s in statuses:
                if s not in STATUSES:
                    raise ValueError(f"status must be one of {list(STATUSES)}, got {s!r}")
            query += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += statuses
        return [_row_to_trial(row) for row in self._conn.execute(query + " ORDER BY idx", args)]

    def best(self, experiment: str, k: int = 1) -> list[Trial]:
        """The ``k`` best finished trials: by the rung they reached, then fitness (ties broken by the earlier index);
        a candidate stopped at a low rung was trained less, so its fitness does not compete with a longer-trained
        one's."""
        rows = self._conn.execute(
            "SELECT * FROM trials WHERE experiment = ? AND status = 'done' "
            f"ORDER BY {'COALESCE(rung, 0) DESC, ' if self._has_rungs() else ''}fitness DESC, idx LIMIT ?",
            (experiment, int(k)))
        return [_row_to_trial(row) for row in rows]

    def history(self, experiment: str):
        """All trials as a pandas DataFrame (one row per trial, metrics expanded into ``metric_*`` columns)."""
        import pandas

        records = []
        for trial in self.trials(experiment):
            record = dataclasses.asdict(trial)
            metrics = record.pop("metrics")
            for key, value in metrics.items():
                if not isinstance(value, (list, dict)):
                    record[f"metric_{key}"] = value
            record["metrics"] = metrics
            records.append(record)
        columns = [f.name for f in dataclasses.fields(Trial)]
        frame = pandas.DataFrame.from_records(records, columns=None if records else columns)
        return frame.set_index("index", drop=False) if records else frame


def _row_to_trial(row: sqlite3.Row) -> Trial:
    return Trial(
        experiment=row["experiment"], index=row["idx"], round=row["round"], parent=row["parent"],
        genome=row["genome"], genome_key=row["genome_key"], status=row["status"], fitness=row["fitness"],
        metrics=json.loads(row["metrics"] or "{}"), params=row["params"], flops=row["flops"],
        latency_ms=row["latency_ms"], error=row["error"], seed=row["seed"], created=row["created"],
        started=row["started"], finished=row["finished"], host=row["host"],
        # Stores written before multi-fidelity search have no rung or epochs columns; they still read.
        rung=row["rung"] if "rung" in row.keys() else None, epochs=row["epochs"] if "epochs" in row.keys() else None,
    )
