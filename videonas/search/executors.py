"""Where candidates are evaluated: in this process, in a pool of worker processes (``pool``) or of Ray actors
(``ray_pool``); this module holds what they share.

The trial function is named by a dotted path (``"videonas.train:evaluate_trial"``) so that a worker process or a Ray
actor can import it. Every executor turns whatever goes wrong in a candidate (exception, MemoryError, NaN, a worker
that dies, a timeout) into a *failed* ``TrialResult`` instead of stopping the search. Results come back as they finish;
the loop restores ask order before telling the strategy, so worker timing never changes the genomes.
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import traceback
from typing import Any, Callable, Iterator, Mapping, Sequence

from videonas import families, runtimes
from videonas.checks import check_choice
from videonas.genome.base import Genome
from videonas.search.store import TrialResult

log = logging.getLogger(__name__)

# The package's one resolver of "module:function" paths, under the name the loop and the executors' callers use.
resolve = families.resolve


@dataclasses.dataclass(frozen=True)
class Job:
    """One candidate to evaluate: ``function(genome, seed=seed, **options)`` for a mapping of keyword options, or
    ``function(genome, seed=seed, options=options)`` for typed options (``videonas.task.TrialOptions``), which reach
    the worker as they are, never parsed again."""

    genome: Genome | None
    seed: int
    options: Any = dataclasses.field(default_factory=dict)


def call_trial(function: str, genome: Genome | None, seed: int, options: Any) -> TrialResult:
    """Run the trial function and turn any exception (MemoryError included) into a failed result."""
    try:
        trial_function = resolve(function)
        if isinstance(options, Mapping):
            return TrialResult.coerce(trial_function(genome, seed=seed, **dict(options)))
        return TrialResult.coerce(trial_function(genome, seed=seed, options=options))
    except BaseException as error:  # noqa: BLE001 - the search must go on whatever a candidate does
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
        tail = "".join(traceback.format_exception(error)[-3:])
        return TrialResult.failed(f"{type(error).__name__}: {error}\n{tail}")


def check_env(env: Mapping[str, str] | None, *, field: str = "executor env") -> dict[str, str]:
    """Environment variables for workers, checked: names and values must be strings, and a ``KERAS_BACKEND`` must
    name a backend installed here."""
    if env is None:
        return {}
    if not isinstance(env, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ValueError(f"{field} must map variable names to strings, got {str(env)[:200]}")
    if "KERAS_BACKEND" in env:
        runtimes.check_backend(f"{field}.KERAS_BACKEND", env["KERAS_BACKEND"])
    return dict(env)


def workers_backend(env: Mapping[str, str] | None) -> str:
    """The Keras backend workers started with ``env`` train on: theirs, else the one this process uses."""
    return (env or {}).get("KERAS_BACKEND") or runtimes.backend()


class Executor(abc.ABC):
    """Evaluates jobs; ``run`` yields ``(position in jobs, result)`` as each finishes."""

    def __init__(self, *, timeout_s: float | None = None) -> None:
        if timeout_s is not None and not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0 or None, got {timeout_s!r}")
        self.timeout_s = timeout_s

    @abc.abstractmethod
    def run(self, function: str, jobs: Sequence[Job],
            on_start: Callable[[int], None] | None = None) -> Iterator[tuple[int, TrialResult]]:
        """Evaluate ``jobs``; ``on_start(position)`` is called when a job actually starts."""

    def close(self) -> None:
        """Release workers (Ray keeps its cluster connection until this is called)."""

    @property
    def backend(self) -> str:
        """The Keras backend its trials train on: a pool's ``env`` may start workers on another than this process's
        (a result depends on it, so stored trainings are keyed on it)."""
        return workers_backend(getattr(self, "env", None))


class InProcessExecutor(Executor):
    """One candidate after another in this process: for debugging and tiny runs.

    A thread cannot be stopped, so this executor refuses ``timeout_s`` rather than accept a limit it would never
    keep; the subprocess and Ray executors enforce it. Keras state accumulates across candidates, which is why this
    is not the default.
    """

    def __init__(self) -> None:
        super().__init__(timeout_s=None)

    def run(self, function, jobs, on_start=None):
        for position, job in enumerate(jobs):
            if on_start is not None:
                on_start(position)
            yield position, call_trial(function, job.genome, job.seed, job.options)


# Imported when chosen: the pools import this module, and Ray is heavy.
EXECUTORS = {"inprocess": "videonas.search.executors:InProcessExecutor",
             "subprocess": "videonas.search.pool:SubprocessExecutor",
             "ray": "videonas.search.ray_pool:RayExecutor"}


def executor_class(kind: str) -> type[Executor]:
    """The executor class named ``kind`` (imported on demand: Ray is heavy)."""
    check_choice("executor", kind, sorted(EXECUTORS))
    return resolve(EXECUTORS[kind])


def make_executor(kind: str | Executor = "subprocess", **options: Any) -> Executor:
    """An executor by name (``inprocess``, ``subprocess``, ``ray``) or an executor instance unchanged."""
    if isinstance(kind, Executor):
        return kind
    check_choice("executor", kind, sorted(EXECUTORS))
    if kind == "inprocess" and options:
        raise ValueError(f"executor options {sorted(options)} need worker processes (the in-process executor can "
                         f"neither stop a candidate at a timeout nor set its environment): use the subprocess or ray "
                         f"executor")
    return executor_class(kind)(**options)
