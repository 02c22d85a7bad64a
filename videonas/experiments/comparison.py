"""Two steps of the comparison protocol (``videonas.experiments.protocol``) that every experiment comparing fixed
networks takes the same way: each network's learning rate (chosen on validation from a grid, or the task's own rate
when the configuration gives no grid), and the steps check against every network a baseline is compared with."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from videonas.experiments import protocol


def task_rate(options: Mapping[str, Any], seed: int) -> protocol.LearningRateChoice:
    """The "choice" of a comparison without a grid: the task's own learning rate (no grid scores)."""
    task = options.get("task") or {}
    task = task.to_dict() if hasattr(task, "to_dict") else dict(task)
    if "learning_rate" not in task:
        raise ValueError(f"options.task has no learning_rate to train at, got keys {sorted(task)}")
    return protocol.LearningRateChoice(float(task["learning_rate"]), {}, seed)


def rate_choices(networks: Mapping[str, Any], *, learning_rates: Sequence[float] | None, executor: Any,
                 options: Mapping[str, Any], seed: int,
                 functions: Mapping[str, str | None] | None = None) -> dict[str, protocol.LearningRateChoice]:
    """``{name: learning-rate choice}`` for each network (a genome or a ``retrain.Baseline``):
    ``protocol.choose_learning_rate`` from ``learning_rates`` with selection seed ``seed``, once per network, or the
    task's rate for all when ``learning_rates`` is ``None``. ``functions``: a trial function per name (default: the
    protocol's)."""
    functions = dict(functions or {})
    if learning_rates is None:
        return {name: task_rate(options, seed) for name in networks}
    return {name: protocol.choose_learning_rate(model, executor=executor, options=options, rates=learning_rates,
                                                seed=seed, function=functions.get(name))
            for name, model in networks.items()}


def check_references(references: Mapping[str, Mapping[int, Any]],
                     others: Mapping[str, Mapping[int, Any]]) -> dict[str, int]:
    """``protocol.check_steps`` with each of ``references`` (the evolved or found networks) as the reference: no arm
    of ``others`` (the baselines) could train fewer steps, or with less patience, than any reference trained.
    Returns the fewest steps each arm of ``others`` was allowed (a ``ValueError`` names the arm, seed and counts)."""
    if not references:
        raise ValueError("references must name at least one network to check the baselines' steps against")
    allowed: dict[str, int] = {}
    for name, runs in references.items():
        checked = protocol.check_steps({name: runs, **others}, reference=name)
        allowed = {label: min(steps, allowed.get(label, steps)) for label, steps in checked.items()}
    return allowed
