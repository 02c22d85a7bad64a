"""The parts of an arms experiment's ``Config`` that every such experiment parses the same way: ``search`` (the
``SearchConfig`` fields all arms share), ``arms`` (label -> strategy), ``seeds`` and counts, each checked once with the
dotted path of a bad key in its ``ValueError``.

The fields each search gets from the experiment itself (its name, store, seed, strategy and where weights go) are
refused in ``search``: a value given there would be silently replaced per search.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from videonas import config
from videonas.checks import check_int, check_keys, quote
from videonas.experiments.arms import Arm

PER_SEARCH = ("name", "store", "seed", "strategy", "save_weights")


def shared_search(search: Mapping[str, Any], *, path: str = "search") -> config.SearchConfig:
    """The typed view of ``search`` (its task, budget, executor, trial function), as one search of it would be
    configured; a bad key is a ``ValueError`` naming ``path.key``."""
    given = [key for key in PER_SEARCH if isinstance(search, Mapping) and key in search]
    if given:
        raise ValueError(f"{path}.{given[0]} is set by the experiment for each search (from its arms, seeds and output "
                         f"folder); remove it from {path}")
    return config.SearchConfig.from_dict({**search, "name": "shared", "store": "shared.sqlite"}, path=path)


def parse_search(value: Any, path: str, *, family: str) -> dict[str, Any]:
    """``value`` checked as ``shared_search`` does, on a space of ``family`` (the experiment's questions are about
    that family); returned as the plain mapping ``run_arms`` takes."""
    typed = shared_search(value, path=path)
    if typed.space.family != family:
        raise ValueError(f"{path}.space.family must be {family!r} for this experiment, got {typed.space.family!r}")
    return dict(value)


def parse_arms(value: Any, path: str, *, labels: Sequence[str]) -> tuple[Arm, ...]:
    """``{label: strategy name or {"name", "options"}}`` with exactly ``labels`` (the experiment's questions compare
    those arms), as ``Arm``s in ``labels`` order."""
    check_keys(path, value, labels)
    parsed = {label: config.StrategyConfig.from_value(value[label], path=f"{path}.{label}") for label in labels}
    return tuple(Arm(label, parsed[label].name, dict(parsed[label].options)) for label in labels)


def parse_seeds(value: Any, path: str) -> tuple[int, ...]:
    """A non-empty list of distinct non-negative seeds: one search per arm and seed, paired across arms by seed."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{path} must be a non-empty list of distinct seeds, got {quote(value)}")
    for seed in value:
        check_int(path, seed, 0, 2**32 - 1)
    if len(set(value)) != len(value):
        raise ValueError(f"{path} must be a non-empty list of distinct seeds, got {quote(list(value))}")
    return tuple(value)


def parse_count(value: Any, path: str) -> int:
    """A positive integer option (members, architectures drawn, distances)."""
    check_int(path, value, 1, 1_000_000)
    return value


def parse_flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path} must be true or false, got {quote(value)}")
    return value


def trial_fields(search: config.SearchConfig) -> dict[str, Any]:
    """The options a genome retrained outside the searches gets (``videonas.experiments.retrain``): the default trial
    function's task and budget, or another function's own options."""
    if search.evaluate.default:
        return {"task": search.task.to_dict(), "budget": search.budget.to_dict()}
    return dict(search.evaluate.options)
