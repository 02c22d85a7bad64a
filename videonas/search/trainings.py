"""Finished trainings of fixed networks, kept on disk: what makes a killed comparison resumable.

A search keeps every trial in its store; the trainings outside a search (a learning-rate grid, a network retrained
over ten seeds, a FLOPs-matched baseline) go straight to an executor. ``StoredExecutor`` wraps that executor: each job
is keyed by what determines its result (the trial function, the genome, the training seed and the options), a job
whose key is already in the file is answered from it, and every other job's result is written the moment it finishes.
So the same comparison run again (``make reproduce RESUME=1`` after a kill) trains only what it had not finished.

Only finished trainings (``done``) are kept: a failure may be the kill itself (a worker that died), so it runs again.
The file is a plain SQLite table; the notebook's output folder removes it whenever a run starts afresh
(``videonas.experiments.summaries.output_folder``), so a result is never reused across different code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from videonas import jsonio
from videonas.search.executors import Executor, Job
from videonas.search.store import TrialResult

TABLE = ("CREATE TABLE IF NOT EXISTS trainings (key TEXT PRIMARY KEY, function TEXT NOT NULL, seed INTEGER NOT NULL, "
         "job TEXT NOT NULL, result TEXT NOT NULL, finished REAL NOT NULL)")


def job_description(function: str, job: Job, backend: str = "tensorflow") -> dict[str, Any]:
    """What determines a job's result, as plain JSON: the function, the genome, the seed, the options and the Keras
    backend (named only when it is not TensorFlow, so keys written before backends were chosen still match)."""
    options = job.options.to_dict() if hasattr(job.options, "to_dict") else dict(job.options)
    genome = None if job.genome is None else job.genome.to_dict()
    other = {} if backend == "tensorflow" else {"backend": backend}
    return {"function": function, "genome": genome, "seed": int(job.seed), "options": options, **other}


def job_key(function: str, job: Job, backend: str = "tensorflow") -> str:
    """The job's identity: a hash of ``job_description`` as canonical JSON (sorted keys)."""
    text = jsonio.dumps(job_description(function, job, backend), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class StoredExecutor(Executor):
    """``inner`` with its finished results kept in the SQLite file ``path`` (created on first use).

    ``run`` first yields the jobs the file already holds, then runs the others on ``inner`` and stores each as it
    finishes. ``hits`` counts the jobs answered from the file over this executor's life (for a log line or a test)."""

    def __init__(self, inner: Executor, path: str | Path) -> None:
        super().__init__(timeout_s=inner.timeout_s)
        self.inner, self.path, self.hits = inner, Path(path), 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(TABLE)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60)

    def stored(self, keys: Sequence[str]) -> dict[str, TrialResult]:
        """``{key: result}`` of the ``keys`` the file holds."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT key, result FROM trainings WHERE key IN ({','.join('?' * len(keys))})",
                                      list(keys)).fetchall() if keys else []
        return {key: TrialResult(**json.loads(text)) for key, text in rows}

    def _store(self, key: str, function: str, job: Job, result: TrialResult) -> None:
        description = jsonio.dumps(job_description(function, job, self.inner.backend), sort_keys=True, default=str)
        with self._connect() as connection:
            connection.execute("INSERT OR REPLACE INTO trainings VALUES (?, ?, ?, ?, ?, ?)",
                               (key, function, int(job.seed), description,
                                jsonio.dumps(dataclasses.asdict(result)), time.time()))

    def run(self, function: str, jobs: Sequence[Job], on_start=None) -> Iterator[tuple[int, TrialResult]]:
        keys = [job_key(function, job, self.inner.backend) for job in jobs]
        stored = self.stored(sorted(set(keys)))
        missing = [position for position, key in enumerate(keys) if key not in stored]
        for position, key in enumerate(keys):
            if key in stored:
                self.hits += 1
                yield position, stored[key]
        started = None if on_start is None else (lambda index: on_start(missing[index]))
        for index, result in self.inner.run(function, [jobs[position] for position in missing], on_start=started):
            position = missing[index]
            if result.status == "done":
                self._store(keys[position], function, jobs[position], result)
            yield position, result

    def close(self) -> None:
        self.inner.close()
