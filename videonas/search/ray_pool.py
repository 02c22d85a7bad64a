"""Candidates on Ray: a pool of actors that live across candidates, on a local Ray or a cluster.

The Ray form of the subprocess pool (``videonas.search.pool``): each actor imports the stack once and trains up to
``trials_per_worker`` candidates, clearing Keras' state between them; it is replaced after that many, when its
resident memory passes ``worker_memory_mib``, when it dies (a failed trial) and when a candidate passes
``timeout_s`` (the actor is killed, which is the only way to stop a candidate mid-step).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Mapping

from videonas.checks import check_float, check_int
from videonas.search.executors import Executor, call_trial, check_env
from videonas.search.store import TrialResult


class TrialActor:
    """Trains candidates one after another in one Ray worker process."""

    served = 0

    def run(self, function: str, genome: Any, seed: int, options: Mapping[str, Any]) -> TrialResult:
        from videonas.search.worker import freeze_imported_heap, reset_between_candidates, rss_mib

        result = call_trial(function, genome, seed, options)
        reset_between_candidates()
        self.served += 1
        if self.served == 1:
            freeze_imported_heap()
        result.metrics = {**(result.metrics or {}), "worker": {"rss_mib": round(rss_mib(), 1)}}
        return result


@dataclasses.dataclass
class _Actor:
    handle: Any
    served: int = 0
    reference: Any = None  # the running job's object reference
    position: int | None = None
    started: float = 0.0


class RayExecutor(Executor):
    """At most ``max_workers`` actors of ``cpus_per_trial`` CPUs (and ``gpus_per_trial`` GPUs) each."""

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, max_workers: int = 1,
                 cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, timeout_s: float | None = None,
                 runtime_env: Mapping[str, Any] | None = None, trials_per_worker: int = 100,
                 worker_memory_mib: float | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(timeout_s=timeout_s)
        check_int("max_workers", max_workers, 1, 1_000_000)
        check_int("trials_per_worker", trials_per_worker, 1, 10**9)
        if worker_memory_mib is not None:
            check_float("worker_memory_mib", worker_memory_mib, 1.0, 1e9)
        import ray

        if not ray.is_initialized():
            if address is not None:
                ray.init(address=address, runtime_env=dict(runtime_env or {}) or None)
            else:
                ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=dict(runtime_env or {}) or None,
                         log_to_driver=False)
        self._ray = ray
        self.max_workers = max_workers
        self.trials_per_worker = trials_per_worker
        self.worker_memory_mib = worker_memory_mib
        actor_env = {"env_vars": check_env(env)} if env else None  # the actors' own, on top of runtime_env
        self._actor_class = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_restarts=0,
                                       max_task_retries=0, runtime_env=actor_env)(TrialActor)
        self.actors: list[_Actor] = []
        self.started_workers = 0

    def _retire(self, actor: _Actor) -> None:
        self.actors.remove(actor)
        self._ray.kill(actor.handle, no_restart=True)

    def _finish(self, actor: _Actor) -> TrialResult:
        """The result of an actor's job that is ready; recycles the actor when it is due."""
        try:
            result = self._ray.get(actor.reference)
        except Exception as error:  # noqa: BLE001 - a crashed actor is a failed trial
            self._retire(actor)
            return TrialResult.failed(f"worker died: {type(error).__name__}: {str(error)[:2000]}")
        actor.served += 1
        actor.position = actor.reference = None
        rss = float((result.metrics.get("worker") or {}).get("rss_mib", 0.0))
        memory_full = self.worker_memory_mib is not None and rss > self.worker_memory_mib
        if actor.served >= self.trials_per_worker or memory_full:
            self._retire(actor)
        return result

    def run(self, function, jobs, on_start=None):
        ray = self._ray
        waiting = list(enumerate(jobs))[::-1]
        try:
            while waiting or any(actor.position is not None for actor in self.actors):
                while waiting:
                    idle = [actor for actor in self.actors if actor.position is None]
                    if not idle and len(self.actors) >= self.max_workers:
                        break
                    if not idle:
                        idle = [_Actor(self._actor_class.remote())]
                        self.actors.append(idle[0])
                        self.started_workers += 1
                    actor = idle[0]
                    position, job = waiting.pop()
                    actor.reference = actor.handle.run.remote(function, job.genome, job.seed, job.options)
                    actor.position, actor.started = position, time.monotonic()
                    if on_start is not None:
                        on_start(position)
                busy = {actor.reference: actor for actor in self.actors if actor.position is not None}
                ready, _ = ray.wait(list(busy), num_returns=1, timeout=0.1)
                for reference in ready:
                    actor = busy[reference]
                    position = actor.position
                    yield position, self._finish(actor)
                if self.timeout_s is None:
                    continue
                now = time.monotonic()
                for actor in [a for a in self.actors if a.position is not None]:
                    if now - actor.started > self.timeout_s:
                        position = actor.position
                        self._retire(actor)
                        yield position, TrialResult.failed(f"timeout: exceeded {self.timeout_s:g} s")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for actor in list(self.actors):
            self._retire(actor)
