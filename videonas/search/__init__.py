"""The one evolution loop: strategies (ask/tell), constraints, SQLite trial store, executors and resume.

A notebook runs a search in three lines::

    from videonas.search import run_search
    experiment = run_search("tvn-smoke", space={"family": "tvn"}, store="runs/tvn.sqlite", num_trials=8,
                            strategy="mutate-best", budget={"epochs": 1})
    experiment.history()   # pandas DataFrame; experiment.best(3), experiment.best_genome()

The keys are those of ``videonas.config.SearchConfig`` (the CLI's YAML has the same ones). Importing this package is
cheap and imports none of its modules: each public name is loaded from its module on first use (PEP 562), so that a
module low in the package (``videonas.task`` needs ``search.constraints``) can import one part without the loop.
``RayExecutor`` lives in ``videonas.search.ray_pool``.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Constraints": "constraints",
    "Executor": "executors", "InProcessExecutor": "executors", "Job": "executors", "make_executor": "executors",
    "SubprocessExecutor": "pool",
    "Experiment": "loop", "run_search": "loop", "space_from_config": "loop", "trial_seed": "loop",
    "Trial": "store", "TrialResult": "store", "TrialStore": "store",
    "STRATEGIES": "strategies", "Evolution": "strategies", "Proposal": "strategies", "RandomSearch": "strategies",
    "Strategy": "strategies", "make_strategy": "strategies",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'videonas.search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"videonas.search.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = sorted(_HOMES)
