"""Candidates on Ray: a pool of actors that live across candidates, on a local Ray or a cluster.

The Ray form of the subprocess pool (``videonas.search.pool``), on the same scheduling loop
(``videonas.search.scheduler``): each actor imports the stack once and trains up to ``trials_per_worker`` candidates,
clearing Keras' state between them; it is replaced after that many, when its resident memory passes
``worker_memory_mib``, when it dies (a failed trial) and when a candidate passes ``timeout_s`` (the actor is killed,
which is the only way to stop a candidate mid-step).
"""

from __future__ import annotations

from typing import Any, Mapping

from videonas.search import worker as trial_worker
from videonas.search.executors import Job, call_trial, check_env
from videonas.search.scheduler import LOST, Worker, WorkerPool
from videonas.search.store import TrialResult


class TrialActor:
    """Trains candidates one after another in one Ray worker process."""

    served = 0

    def run(self, function: str, genome: Any, seed: int, options: Mapping[str, Any]) -> TrialResult:
        result = call_trial(function, genome, seed, options)
        trial_worker.reset_between_candidates()
        self.served += 1
        if self.served == 1:
            trial_worker.freeze_imported_heap()
        result.metrics = {**(result.metrics or {}), "worker": {"rss_mib": round(trial_worker.rss_mib(), 1)}}
        return result


# How Ray's ActorDiedError says that the actor's node died (ray 2.x), as opposed to its worker process.
NODE_DIED = "because its node has died"
START_ATTEMPTS = 3  # Ray gives a local node a fixed 30 s to register: a loaded machine may need another try


def start_local_ray(*, num_cpus: int | None, runtime_env: Mapping[str, Any] | None) -> None:
    """Start a local Ray node for this driver, trying again when a loaded machine makes its start time out, and
    failing with a message that says so after ``START_ATTEMPTS`` tries."""
    import ray  # Ray: deferred

    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=dict(runtime_env or {}) or None,
                     log_to_driver=False)
            return
        except Exception as error:  # noqa: BLE001 - Ray raises a bare Exception when its node start times out
            ray.shutdown()
            if "timed out during startup" not in str(error) or attempt == START_ATTEMPTS:
                raise RuntimeError(f"Ray's local node did not start ({attempt} attempt(s), 30 s each; a loaded "
                                   f"machine starts it slowly: retry when it is quieter, or start Ray yourself and "
                                   f"pass executor.options.address): {error}") from error


class RayExecutor(WorkerPool):
    """At most ``max_workers`` actors of ``cpus_per_trial`` CPUs (and ``gpus_per_trial`` GPUs) each."""

    def __init__(self, *, address: str | None = None, num_cpus: int | None = None, max_workers: int = 1,
                 cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, timeout_s: float | None = None,
                 runtime_env: Mapping[str, Any] | None = None, trials_per_worker: int = 100,
                 worker_memory_mib: float | None = None, env: Mapping[str, str] | None = None) -> None:
        super().__init__(max_workers=max_workers, timeout_s=timeout_s, trials_per_worker=trials_per_worker,
                         worker_memory_mib=worker_memory_mib, most_workers=1_000_000)
        import ray  # Ray: deferred (importing the search stays light)

        if not ray.is_initialized():
            if address is not None:
                ray.init(address=address, runtime_env=dict(runtime_env or {}) or None)
            else:
                start_local_ray(num_cpus=num_cpus, runtime_env=runtime_env)
        self._ray = ray
        self.env = check_env(env)
        actor_env = {"env_vars": self.env} if self.env else None  # the actors' own, on top of runtime_env
        self._actor_class = ray.remote(num_cpus=cpus_per_trial, num_gpus=gpus_per_trial, max_restarts=0,
                                       max_task_retries=0, runtime_env=actor_env)(TrialActor)
        self._ready: set[Any] = set()  # object references of the jobs found finished by the last ``_wait``

    def _start(self) -> Any:
        return self._actor_class.remote()

    def _submit(self, worker: Worker, function: str, job: Job, position: int) -> str | None:
        worker.ticket = worker.handle.run.remote(function, job.genome, job.seed, job.options)
        return None  # an actor that has died shows when its result is fetched

    def _wait(self, busy: list[Worker]) -> None:
        ready, _ = self._ray.wait([worker.ticket for worker in busy], num_returns=1, timeout=0.1)
        self._ready = set(ready)

    def _outcome(self, worker: Worker) -> tuple[TrialResult, bool] | None:
        if worker.ticket not in self._ready:
            return None
        try:
            return self._ray.get(worker.ticket), True
        except Exception as error:  # noqa: BLE001 - a crashed actor is a failed trial
            if NODE_DIED in str(error):  # the machine went, not the candidate: it runs again elsewhere
                return LOST, False
            return TrialResult.failed(f"worker died: {type(error).__name__}: {str(error)[:2000]}"), False

    def _kill(self, worker: Worker) -> None:
        self._ray.kill(worker.handle, no_restart=True)
