"""Steps of the comparison protocol (``videonas.experiments.protocol``) that every experiment comparing fixed networks
takes the same way: each network's learning rate (chosen on validation from a grid, or the task's own rate when the
configuration gives no grid), FLOPs matching that leaves out a seed no width can match, the steps check against every
network a baseline is compared with, and how each of these reads in a conclusion."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from videonas.experiments import protocol, retrain


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


def matches_text(matches: Mapping[int, protocol.FlopsMatch], *, target: str) -> str:
    """Both FLOP counts of each seed's matched pair, one clause per distinct pair: "seeds 0, 1: <target> 17.00 vs
    x0.1 16.20 MFLOPs (-4.7%)"."""
    groups: dict[tuple[float, int, float], list[int]] = {}
    for seed, match in matches.items():
        groups.setdefault((match.target_flops, match.flops, match.width), []).append(seed)
    return "; ".join(f"{'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}: {target} "
                     f"{goal / 1e6:.2f} vs x{width:.3g} {flops / 1e6:.2f} MFLOPs ({flops / goal - 1:+.1%})"
                     for (goal, flops, width), seeds in groups.items())


def rates_text(choices: Mapping[str, protocol.LearningRateChoice]) -> str:
    """How the networks' learning rates were set: "each chosen on validation (a 0.003, b 0.01)" or "the task's
    learning rate 0.003"."""
    if any(choice.scores for choice in choices.values()):
        return "learning rates chosen on validation, once per network (" + ", ".join(
            f"{name} {choice.rate:g}" for name, choice in choices.items()) + ")"
    return "the task's learning rate " + "/".join(sorted({f"{choice.rate:g}" for choice in choices.values()}))


def steps_text(steps: Mapping[str, int]) -> str:
    """``check_references``' result for prose: "width: 40, flops: 40"."""
    return ", ".join(f"{label}: {count}" for label, count in steps.items())


def still_improving(runs: Mapping[str, Mapping[int, Any]]) -> dict[str, dict[str, int]]:
    """``protocol.still_improving`` per network (``{name: {seed: TrialResult}}``) that trained with patience:
    ``{name: {"still_improving": k, "trainings": n}}``, for ``results.json``."""
    counts = {name: protocol.still_improving(results) for name, results in runs.items()}
    return {name: {"still_improving": k, "trainings": n} for name, (k, n) in counts.items() if n}


def still_improving_text(runs: Mapping[str, Mapping[int, Any]]) -> str:
    """A sentence on how binding the epoch cap was: "Still improving when the epoch cap stopped them (best validation
    at their last epoch): a 3 of 10, b 0 of 10." ("" when no network trained with patience)."""
    counts = still_improving(runs)
    if not counts:
        return ""
    listed = ", ".join(f"{name} {count['still_improving']} of {count['trainings']}" for name, count in counts.items())
    return (f"Still improving when the epoch cap stopped them (best validation at their last epoch, so a longer "
            f"budget could change the comparison): {listed}.")


def match_reachable(build: Callable[[float], Any], targets: Mapping[int, float], *, label: str,
                    **search_range: Any) -> tuple[dict[int, protocol.FlopsMatch], dict[int, str]]:
    """``protocol.match_per_seed`` that leaves out the seeds whose target no width can match within 10% (a baseline
    whose narrowest width costs more than the network it would be compared with): ``(matches, {seed: why not})``.
    A seed left out is not compared, rather than compared at unequal FLOPs."""
    matches: dict[int, protocol.FlopsMatch] = {}
    unmatched: dict[int, str] = {}
    by_target: dict[float, list[int]] = {}
    for seed, target in targets.items():
        by_target.setdefault(float(target), []).append(seed)
    for target, seeds in by_target.items():
        width, flops = retrain.match_width(build, target_flops=target, **search_range)
        try:
            protocol.check_flops(flops, target, label=f"{label} x{width:.3g}")
        except ValueError as error:
            unmatched.update({seed: f"{error} (its closest width)" for seed in seeds})
            continue
        matches.update({seed: protocol.FlopsMatch(width, int(flops), target) for seed in seeds})
    return {seed: matches[seed] for seed in targets if seed in matches}, unmatched


def unmatched_text(unmatched: Mapping[int, str]) -> str:
    """``match_reachable``'s left-out seeds for prose: "seeds 0, 1: <why>", one clause per reason."""
    groups: dict[str, list[int]] = {}
    for seed, why in unmatched.items():
        groups.setdefault(why, []).append(seed)
    return "; ".join(f"{'seed' if len(seeds) == 1 else 'seeds'} {', '.join(map(str, seeds))}: {why}"
                     for why, seeds in groups.items())
