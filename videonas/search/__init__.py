"""The one evolution loop: strategies (ask/tell), constraints, SQLite trial store, executors and resume.

A notebook runs a search in three lines::

    from videonas.search import run_search
    experiment = run_search("tvn-smoke", space={"family": "tvn"}, store="runs/tvn.sqlite", num_trials=8,
                            strategy="mutate-best", evaluate_options={"budget": {"epochs": 1}})
    experiment.history()   # pandas DataFrame; experiment.best(3), experiment.best_genome()

Importing this package is cheap (no Keras, no pandas, no Ray): pool workers and Ray actors import it first.
``RayExecutor`` lives in ``videonas.search.ray_pool``.
"""

from __future__ import annotations

from videonas.search.constraints import Constraints
from videonas.search.executors import Executor, InProcessExecutor, Job, make_executor
from videonas.search.pool import SubprocessExecutor
from videonas.search.loop import Experiment, run_search, space_from_config, trial_seed
from videonas.search.store import Trial, TrialResult, TrialStore
from videonas.search.strategies import STRATEGIES, Evolution, Proposal, RandomSearch, Strategy, make_strategy

__all__ = [
    "Constraints", "Executor", "InProcessExecutor", "Job", "SubprocessExecutor", "make_executor",
    "Experiment", "run_search", "space_from_config", "trial_seed", "Trial", "TrialResult", "TrialStore",
    "STRATEGIES", "Evolution", "Proposal", "RandomSearch", "Strategy", "make_strategy",
]
