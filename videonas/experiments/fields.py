"""The fields the experiments' ``Config``s share, each parsed one way with the dotted path of a bad key or value in
its ``ValueError``: ``search`` (the ``SearchConfig`` fields every search of an experiment shares), ``arms`` (label ->
strategy), ``seeds``, counts, flags and runtimes. A parser is ``parse_x(value, path) -> value``, the form
``videonas.experiments.experiment.parse_config`` takes.

The fields each search gets from the experiment itself (its name, store, seed, strategy and where weights go) are
refused in ``search``: a value given there would be silently replaced per search.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from videonas import config, runtimes, task
from videonas.checks import check_choice, check_float, check_int, check_keys, check_seeds, quote
from videonas.experiments.arms import Arm

PER_SEARCH = ("name", "store", "seed", "strategy", "save_weights")


def shared_search(search: Mapping[str, Any], *, path: str = "search",
                  set_here: Sequence[str] = PER_SEARCH) -> config.SearchConfig:
    """The typed view of ``search`` (its task, budget, executor, trial function), as one search of it would be
    configured; a bad key is a ``ValueError`` naming ``path.key``; ``set_here`` are the fields the experiment sets
    for each search."""
    given = [key for key in set_here if isinstance(search, Mapping) and key in search]
    if given:
        raise ValueError(f"{path}.{given[0]} is set by the experiment for each search (from its arms, seeds and output "
                         f"folder); remove it from {path}")
    return config.SearchConfig.from_dict({**search, "name": "shared", "store": "shared.sqlite"}, path=path)


def parse_search(value: Any, path: str, *, family: str, set_here: Sequence[str] = PER_SEARCH,
                 compared: bool = False) -> dict[str, Any]:
    """``value`` checked as ``shared_search`` does, on a space of ``family`` (the experiment's questions are about
    that family); returned as the plain mapping ``run_arms`` takes. ``compared``: the searches are arms of a
    comparison, so each must stop at the same training budget (``max_epochs``), not at a number of proposals (an arm
    whose proposals P rejects would otherwise train less)."""
    typed = shared_search(value, path=path, set_here=set_here)
    if typed.space.family != family:
        raise ValueError(f"{path}.space.family must be {family!r} for this experiment, got {typed.space.family!r}")
    if compared and typed.max_epochs is None:
        raise ValueError(f"{path}.max_epochs is missing: the searches of this experiment are compared, so each gets "
                         f"the same training budget in epochs (num_trials only caps the proposals)")
    return dict(value)


def parse_arms(value: Any, path: str, *, labels: Sequence[str]) -> tuple[Arm, ...]:
    """``{label: strategy name or {"name", "options"}}`` with exactly ``labels`` (the experiment's questions compare
    those arms), as ``Arm``s in ``labels`` order."""
    check_keys(path, value, labels)
    parsed = {label: config.StrategyConfig.from_value(value[label], path=f"{path}.{label}") for label in labels}
    return tuple(Arm(label, parsed[label].name, dict(parsed[label].options)) for label in labels)


def parse_seeds(value: Any, path: str) -> tuple[int, ...]:
    """A non-empty list of distinct non-negative seeds: one search per arm and seed, paired across arms by seed."""
    if isinstance(value, Mapping):
        raise ValueError(f"{path} must be a non-empty list of distinct seeds, got {quote(value)}")
    check_seeds(path, value)
    return tuple(value)


def parse_count(value: Any, path: str) -> int:
    """A positive integer option (members, architectures drawn, distances)."""
    check_int(path, value, 1, 1_000_000)
    return value


def parse_flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path} must be true or false, got {quote(value)}")
    return value


def parse_runtime(value: Any, path: str) -> str:
    """Where a network is timed: one of ``videonas.runtimes.RUNTIMES``."""
    check_choice(path, value, runtimes.RUNTIMES)
    return value


def parse_strategy(value: Any, path: str) -> Any:
    """A strategy value (a name, or ``{"name", "options"}``), checked as a search would check it."""
    config.StrategyConfig.from_value(value, path=path)
    return value


def trial_fields(search: config.SearchConfig) -> dict[str, Any]:
    """The options a genome retrained outside the searches gets (``videonas.experiments.retrain``): the default trial
    function's task and budget, or another function's own options."""
    if search.evaluate.default:
        return {"task": search.task.to_dict(), "budget": search.budget.to_dict()}
    return dict(search.evaluate.options)


def parse_learning_rates(value: Any, path: str) -> tuple[float, ...] | None:
    """``None`` (every network trains at its task's rate) or the grid a comparison chooses each network's learning
    rate from on validation (``videonas.experiments.protocol.choose_learning_rate``): distinct positive rates."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{path} must be null or a non-empty list of learning rates, got {quote(value)}")
    for index, rate in enumerate(value):
        check_float(f"{path}[{index}]", rate, 1e-8, 10.0)
    if len(set(value)) != len(value):
        raise ValueError(f"{path} must hold distinct learning rates, got {quote(value)}")
    return tuple(float(rate) for rate in value)


def parse_budget(value: Any, path: str) -> Any:
    """``None`` or a ``videonas.task.Budget`` (e.g. ``{"epochs": 12, "patience": 3}``)."""
    return None if value is None else task.Budget.from_dict(value, path=path)
