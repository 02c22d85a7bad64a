"""The experiment lease: one driver per experiment, so two drivers never interleave or re-queue each other's trials.

A lease row (holder host, pid, since, heartbeat) lives in the trial store. A driver takes it before it proposes or
re-queues anything; a heartbeat thread (and every write of the holder) refreshes it. Another driver takes it over only
when it is stale: its heartbeat is older than the store's ``lease_timeout_s``, or its holder ran on this host and has
ended (a killed driver is taken over at once, without waiting for the timeout).

Clocks. Heartbeats are wall-clock times written by the holder's host, so hosts that share a store must keep their
clocks within ``lease_timeout_s`` of each other. A heartbeat more than ``lease_timeout_s`` in the *future* is stale
too: it was written by a host whose clock is ahead, and counting it as fresh would lock the experiment for as long as
that clock is ahead (for ever, if it was set years ahead), whatever the holder's fate. A driver that knows the holder
is gone may also take a live-looking lease over explicitly (``acquire(..., force=True)``), unless the holder is a live
process on this very host.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    experiment TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    since REAL NOT NULL,
    heartbeat REAL NOT NULL
);
"""

# A lease whose heartbeat is older than this is stale (a driver on another host that died without releasing it).
LEASE_TIMEOUT_S = 120.0


class LeaseHeldError(RuntimeError):
    """Another live driver holds the experiment's lease."""


class LeaseLostError(RuntimeError):
    """This driver's lease was taken over (its heartbeat went stale): it must stop writing."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host is running (a zombie counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class Heartbeat(threading.Thread):
    """One held lease: refreshes it every ``interval`` seconds on its own connection until stopped or taken over."""

    def __init__(self, path: Path, experiment: str, token: str, interval: float) -> None:
        super().__init__(name=f"videonas-lease-{experiment}", daemon=True)
        self.path, self.experiment, self.token, self.interval = path, experiment, token, interval
        self.owner = threading.get_ident()  # the thread that took the lease
        self.stopped = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(str(self.path), timeout=60.0)
        try:
            while not self.stopped.wait(self.interval):
                try:
                    with connection:
                        cursor = connection.execute("UPDATE leases SET heartbeat = ? WHERE experiment = ? AND token = ?",
                                                    (time.time(), self.experiment, self.token))
                except sqlite3.Error as error:  # a busy store: the next beat retries
                    log.warning("lease heartbeat of %s failed: %s", self.experiment, error)
                    continue
                if cursor.rowcount == 0:
                    log.error("experiment %s: lease taken over by another driver", self.experiment)
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        _HELD.pop(self.token, None)


# Leases held in this process, by token.
_HELD: dict[str, Heartbeat] = {}


def acquire(connection: sqlite3.Connection, path: Path, experiment: str, timeout_s: float, *,
            force: bool = False) -> Heartbeat:
    """Take the lease (stale ones are taken over) and start its heartbeat, or raise ``LeaseHeldError``.

    ``force`` also takes over a live-looking lease held from another host (this host cannot tell whether that driver
    still runs; the caller says it does not); a live holder on this host is refused even then.
    """
    token, now = uuid.uuid4().hex, time.time()
    connection.execute("BEGIN IMMEDIATE")  # no other driver can slip in between the check and the write
    try:
        row = connection.execute("SELECT * FROM leases WHERE experiment = ?", (experiment,)).fetchone()
        if row is not None and not is_stale(row, now, timeout_s):
            if not force:
                raise LeaseHeldError(held_message(path, experiment, row, now, timeout_s))
            if row["host"] == socket.gethostname():
                raise LeaseHeldError(held_message(path, experiment, row, now, timeout_s)
                                     + "; force does not take over a live driver on this host: stop it first")
        if row is not None:
            log.warning("experiment %s: taking over the %s lease of host %s pid %d (last heartbeat %s)", experiment,
                        "live-looking" if force and not is_stale(row, now, timeout_s) else "stale", row["host"],
                        row["pid"], heartbeat_age(row, now))
            if row["token"] in _HELD:
                _HELD[row["token"]].stop()
        connection.execute("INSERT OR REPLACE INTO leases (experiment, token, host, pid, since, heartbeat) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (experiment, token, socket.gethostname(), os.getpid(), now, now))
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    heartbeat = Heartbeat(path, experiment, token, max(timeout_s / 4, 0.05))
    _HELD[token] = heartbeat
    heartbeat.start()
    return heartbeat


def release(connection: sqlite3.Connection, heartbeat: Heartbeat) -> None:
    heartbeat.stop()
    with connection:
        connection.execute("DELETE FROM leases WHERE experiment = ? AND token = ?",
                           (heartbeat.experiment, heartbeat.token))


def touch(connection: sqlite3.Connection, path: Path, heartbeat: Heartbeat, timeout_s: float) -> None:
    """Inside the holder's write transaction: refresh the lease, or raise ``LeaseLostError`` if it was taken over."""
    cursor = connection.execute("UPDATE leases SET heartbeat = ? WHERE experiment = ? AND token = ?",
                                (time.time(), heartbeat.experiment, heartbeat.token))
    if cursor.rowcount == 0:
        heartbeat.stop()
        raise LeaseLostError(f"experiment {heartbeat.experiment!r} in {path}: another driver took over this "
                             f"driver's lease (its heartbeat was older than {timeout_s:g} s); stopping")


def holder(connection: sqlite3.Connection, experiment: str) -> dict[str, Any] | None:
    row = connection.execute("SELECT * FROM leases WHERE experiment = ?", (experiment,)).fetchone()
    return None if row is None else {k: row[k] for k in ("host", "pid", "since", "heartbeat")}


def refuse_if_held(connection: sqlite3.Connection, path: Path, experiment: str, timeout_s: float) -> None:
    """Raise ``LeaseHeldError`` when another live driver holds the lease (checked before changing shared state)."""
    row = connection.execute("SELECT * FROM leases WHERE experiment = ?", (experiment,)).fetchone()
    now = time.time()
    if row is not None and not is_stale(row, now, timeout_s):
        raise LeaseHeldError(held_message(path, experiment, row, now, timeout_s))


def is_stale(row: Any, now: float, timeout_s: float) -> bool:
    """Whether the lease ``row`` may be taken over: its heartbeat is more than ``timeout_s`` in the past *or in the
    future* (a host whose clock is ahead), or its holder ran on this host and has ended."""
    if abs(now - row["heartbeat"]) > timeout_s:
        return True
    if row["host"] != socket.gethostname():
        return False
    if row["pid"] != os.getpid():
        return not pid_alive(row["pid"])
    held = _HELD.get(row["token"])
    if held is None:  # an earlier process that had our pid: it has ended
        return True
    # Held in this process: by this very thread means a driver that raised before releasing it (run_search is not
    # re-entrant); by a thread that has ended, likewise. Only another live thread of this process is a real holder.
    return held.owner == threading.get_ident() or held.owner not in {t.ident for t in threading.enumerate()}


def held_message(path: Path, experiment: str, row: Any, now: float, timeout_s: float) -> str:
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["since"]))
    return (f"experiment {experiment!r} in {path} is being run by another driver (host {row['host']}, pid "
            f"{row['pid']}, since {since}, last heartbeat {heartbeat_age(row, now)}); wait for it to finish "
            f"or stop it: its lease is taken over once that process has ended or its heartbeat is older than "
            f"{timeout_s:g} s (a driver on another host known to be gone: TrialStore.acquire_lease(name, force=True))")


def heartbeat_age(row: Any, now: float) -> str:
    """``"12 s ago"``, or ``"30 s in the future (that host's clock is ahead)"``."""
    age = now - row["heartbeat"]
    return f"{age:.0f} s ago" if age >= 0 else f"{-age:.0f} s in the future (that host's clock is ahead)"
