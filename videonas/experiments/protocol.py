"""The protocol of every comparison of fixed networks (a found net against baselines, an ensemble against its
members, scaled variants): each side trained so that it could have won.

- **Until validation stops improving**: a budget with ``patience`` (``videonas.task.Budget``); its ``epochs`` is the
  most any network trains.
- **A learning rate chosen on validation**, once per network: ``choose_learning_rate`` trains the network once per
  rate of a small grid with one selection seed, on the executor, and keeps the best validation score (ties: the
  smaller rate); ``train_at`` then trains it at that rate over the experiment's seeds.
- **A baseline never trains fewer steps than its rival**: ``check_steps`` (the rule is in its docstring).
- **Where the epoch cap, not validation, ended a training**: ``still_improving`` counts the trainings whose best
  validation epoch was their last one of the whole budget, so a report can say how binding its budget was.
- **FLOPs-matched within 10% by construction**: ``match_flops`` (one target), ``match_per_seed`` (a target per seed,
  e.g. each seed's ensemble) and ``check_flops`` (any pair, e.g. two scaled variants) raise ``ValueError`` naming
  both counts when the closest match is further off; ``train_matched`` trains each seed's baseline at its own width.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

from videonas import search, train
from videonas.checks import check_float, check_int, check_seeds
from videonas.experiments import retrain

RATES = (0.001, 0.003, 0.01)
FLOPS_TOLERANCE = 0.10
EVALUATE_TRIAL = "videonas.train:evaluate_trial"
EVALUATE_MODEL = "videonas.train:evaluate_model"


@dataclasses.dataclass(frozen=True)
class LearningRateChoice:
    """The learning rate chosen for one network, every grid rate's validation score (``None``: that training failed)
    and the declared selection seed; ``results`` are the grid's trial results, by rate."""

    rate: float
    scores: Mapping[float, float | None]
    seed: int
    results: Mapping[float, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` (``{"task", "budget", ...}``) with the task's learning rate set to the chosen one."""
        return with_learning_rate(options, self.rate)

    def to_dict(self) -> dict[str, Any]:
        """The report's form: the choice, and each grid rate with its validation score."""
        return {"learning_rate": self.rate, "selection_seed": self.seed,
                "grid": [{"learning_rate": rate, "val": score} for rate, score in self.scores.items()]}


def with_learning_rate(options: Mapping[str, Any], rate: float) -> dict[str, Any]:
    """A copy of trial ``options`` whose task trains at ``rate`` (a ``TrainTask`` or its plain form)."""
    task = options.get("task") or {}
    task = task.to_dict() if hasattr(task, "to_dict") else dict(task)
    return {**options, "task": {**task, "learning_rate": rate}}


def reported(options: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of trial ``options`` whose task scores the held-out test split (``score_test``): the trainings of a
    comparison report test scores, whatever the task they were handed says (a search's task scores validation only,
    its trials on test only when selected). The learning-rate grid trains with it too, so that its training at the
    chosen rate is the same job as the first seed's reported one (a stored executor answers it once); the choice
    still reads validation only."""
    task = options.get("task") or {}
    task = task.to_dict() if hasattr(task, "to_dict") else dict(task)
    return {**options, "task": {**task, "score_test": True}}


def network_job(model: Any, function: str | None = None) -> tuple[Any, str, dict[str, Any]]:
    """``(genome, function, extra options)`` of a job training ``model``: a genome with ``evaluate_trial``, or a
    ``retrain.Baseline`` with ``evaluate_model`` (no genome; the model named in the options)."""
    if isinstance(model, retrain.Baseline):
        return None, function or EVALUATE_MODEL, model.options()
    return model, function or EVALUATE_TRIAL, {}


def _run(executor: Any, function: str, jobs: Sequence[search.Job]) -> dict[int, Any]:
    """Run ``jobs`` on ``executor`` (closing it only if it was built here, from a name): ``{position: result}``."""
    runner = search.make_executor(executor)
    try:
        return dict(runner.run(function, jobs))
    finally:
        if runner is not executor:
            runner.close()


def choose_learning_rate(model: Any, *, executor: Any, options: Mapping[str, Any], rates: Sequence[float] = RATES,
                         seed: int = 0, function: str | None = None) -> LearningRateChoice:
    """Train ``model`` (a genome or a ``retrain.Baseline``) once per rate of ``rates`` with the training seed of
    declared seed ``seed`` (``retrain.training_seed``) and ``options`` (``{"task", "budget"}``; a budget with
    patience trains each rate as long as it profits), all on ``executor`` at once; choose the rate of the best
    validation score, the smaller of equal ones (each training also scores test: ``reported``). Raises
    ``ValueError`` when every training failed."""
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Sequence) or not rates:
        raise ValueError(f"rates must be a non-empty list of learning rates, got {rates!r}")
    for index, rate in enumerate(rates):
        check_float(f"rates[{index}]", rate, 1e-8, 10.0)
    if len(set(rates)) != len(rates):
        raise ValueError(f"rates must be distinct, got {list(rates)!r}")
    check_int("seed", seed, 0, 2**32 - 1)
    genome, function, extra = network_job(model, function)
    jobs = [search.Job(genome=genome, seed=retrain.training_seed(seed),
                       options=train.job_options(function, {**with_learning_rate(reported(options), rate), **extra}))
            for rate in rates]
    by_position = _run(executor, function, jobs)
    results = {float(rate): by_position[position] for position, rate in enumerate(rates)}
    scores = {rate: (float(result.fitness) if result.status == "done" and result.fitness is not None
                     and math.isfinite(result.fitness) else None) for rate, result in results.items()}
    scored = [rate for rate, value in scores.items() if value is not None]
    if not scored:
        errors = "; ".join(f"{rate:g}: {(result.error or result.status).splitlines()[0]}"
                           for rate, result in results.items())
        raise ValueError(f"learning rates {list(rates)!r}: every training failed ({errors})")
    best = min(scored, key=lambda rate: (-scores[rate], rate))
    return LearningRateChoice(best, scores, seed, results)


def train_at(model: Any, choice: LearningRateChoice, *, seeds: Sequence[int], executor: Any,
             options: Mapping[str, Any], function: str | None = None) -> dict[int, Any]:
    """``retrain.retrain`` of ``model`` at the chosen learning rate, the same for every seed: ``{seed: result}``.

    These are the trainings a comparison reports, so each scores the held-out test split (``reported``)."""
    genome, function, extra = network_job(model, function)
    chosen = reported(choice.options(options))
    return retrain.retrain(genome, seeds=seeds, executor=executor, options={**chosen, **extra}, function=function)


def allowed_steps(result: Any) -> int:
    """The most steps ``result``'s budget allowed: ``max_steps`` when patience could stop it (a time budget that
    stopped it makes that what it trained), else the steps it trained (it ran its whole budget)."""
    metrics = result.metrics or {}
    if "max_steps" in metrics and not metrics.get("stopped_by_time"):
        return int(metrics["max_steps"])
    return int(metrics["steps"])


def check_steps(compared: Mapping[str, Mapping[int, Any]], *, reference: str) -> dict[str, int]:
    """Check that no arm of ``compared`` (``{label: {seed: TrialResult}}``) had less training than ``reference``
    (the found network) trained; returns ``{label: the fewest steps its budget allowed over its seeds}``.

    The rule, for arms trained on the same clips at the same batch size: every seed of every other arm had a budget
    of at least the most steps the reference trained in any seed (``allowed_steps``: with patience, its maximum
    epochs times its steps per epoch), and a patience at least the reference's (none: never stops early). So a
    baseline that stops early stopped because its validation score no longer improved, never for lack of budget.
    Failed trials are skipped. Raises ``ValueError`` naming the arm, the seed and both step counts."""
    if reference not in compared:
        raise ValueError(f"reference {reference!r} is not among the compared arms {sorted(compared)!r}")
    done = {label: {seed: r for seed, r in results.items() if getattr(r, "status", "done") == "done"}
            for label, results in compared.items()}
    for label, results in done.items():
        for seed, result in results.items():
            if "steps" not in (result.metrics or {}):
                raise ValueError(f"arm {label!r} seed {seed}: its metrics have no 'steps' (not trained by "
                                 f"videonas.train)")
    if not done[reference]:
        raise ValueError(f"reference {reference!r} has no finished trial: nothing to compare steps with")
    ref_seed, ref_result = max(done[reference].items(), key=lambda item: item[1].metrics["steps"])
    ref_steps, ref_patience = int(ref_result.metrics["steps"]), ref_result.metrics.get("patience")
    allowed: dict[str, int] = {}
    for label, results in done.items():
        if label == reference or not results:
            continue
        for seed, result in results.items():
            steps, patience = allowed_steps(result), result.metrics.get("patience")
            if steps < ref_steps:
                raise ValueError(f"arm {label!r} seed {seed}: its budget allowed {steps} training steps, fewer than "
                                 f"the {ref_steps} that {reference!r} trained (seed {ref_seed})")
            if patience is not None and (ref_patience is None or patience < ref_patience):
                raise ValueError(f"arm {label!r} seed {seed}: patience {patience} (training {steps} steps at most) "
                                 f"may stop it sooner than {reference!r} (patience {ref_patience}, {ref_steps} steps "
                                 f"trained in seed {ref_seed})")
        allowed[label] = min(allowed_steps(result) for result in results.values())
    return allowed


def still_improving(results: Mapping[int, Any]) -> tuple[int, int]:
    """``(k, n)``: of the ``n`` finished trainings in ``results`` (``{seed: TrialResult}``) that patience could have
    stopped, the ``k`` that trained every step their budget allowed with their best validation score at the last
    epoch: the cap on epochs ended them while they still improved. Trainings without patience are not counted
    (nothing but the budget could stop them)."""
    counted = [result.metrics for result in results.values()
               if getattr(result, "status", "done") == "done" and (result.metrics or {}).get("patience") is not None
               and "best_epoch" in result.metrics and "max_steps" in result.metrics]
    capped = [metrics for metrics in counted if int(metrics["steps"]) >= int(metrics["max_steps"])
              and int(metrics["best_epoch"]) >= int(metrics["epochs_trained"])]
    return len(capped), len(counted)


@dataclasses.dataclass(frozen=True)
class FlopsMatch:
    """A width multiplier and its model's FLOPs, matched to ``target_flops``."""

    width: float
    flops: int
    target_flops: float

    @property
    def ratio(self) -> float:
        """The matched FLOPs over the target's."""
        return self.flops / self.target_flops

    def to_dict(self) -> dict[str, Any]:
        return {"width_multiplier": self.width, "flops": self.flops, "target_flops": self.target_flops}


def check_flops(flops: float, target_flops: float, *, label: str = "matched model", target: str = "target",
                tolerance: float = FLOPS_TOLERANCE) -> None:
    """Raise ``ValueError`` naming both counts unless the larger of ``flops`` and ``target_flops`` is at most
    ``1 + tolerance`` times the smaller (symmetric, so the order of a pair does not matter)."""
    check_float(f"{label} FLOPs", flops, 1.0, 1e18)
    check_float(f"{target} FLOPs", target_flops, 1.0, 1e18)
    check_float("tolerance", tolerance, 0.0, 10.0)
    if max(flops, target_flops) > (1 + tolerance) * min(flops, target_flops):
        raise ValueError(f"{label} has {flops:.4g} FLOPs and {target} {target_flops:.4g} FLOPs "
                         f"({flops / target_flops - 1:+.1%}): not FLOPs-matched within {tolerance:.0%}")


def match_flops(build: Callable[[float], Any], *, target_flops: float, tolerance: float = FLOPS_TOLERANCE,
                label: str = "matched model", **search_range: Any) -> FlopsMatch:
    """``retrain.match_width`` (``search_range``: ``low``, ``high``, ``steps``) as a contract: the closest width and
    both FLOP counts, or ``ValueError`` (``check_flops``) when even the closest is more than ``tolerance`` off."""
    width, flops = retrain.match_width(build, target_flops=target_flops, **search_range)
    check_flops(flops, target_flops, label=f"{label} x{width:.3g}", tolerance=tolerance)
    return FlopsMatch(width, int(flops), float(target_flops))


def match_per_seed(build: Callable[[float], Any], targets: Mapping[int, float], *,
                   tolerance: float = FLOPS_TOLERANCE, label: str = "matched model",
                   **search_range: Any) -> dict[int, FlopsMatch]:
    """``match_flops`` for each seed's own target (``{seed: target FLOPs}``, e.g. each seed's ensemble) instead of
    one median: ``{seed: FlopsMatch}``; equal targets are matched once."""
    matched: dict[float, FlopsMatch] = {}
    for seed, target in targets.items():
        if float(target) not in matched:
            matched[float(target)] = match_flops(build, target_flops=target, tolerance=tolerance,
                                                 label=f"{label} (seed {seed})", **search_range)
    return {seed: matched[float(target)] for seed, target in targets.items()}


def train_matched(name: str, matches: Mapping[int, FlopsMatch], *, executor: Any, options: Mapping[str, Any],
                  function: str = EVALUATE_MODEL) -> dict[int, Any]:
    """Train named model ``name`` once per seed of ``matches``, each at its own seed's matched width, in one run on
    ``executor`` (so they train in parallel), with ``options`` (``{"task", "budget"}``), scoring the held-out test
    split (``reported``): ``{seed: result}``."""
    seeds = list(matches)
    check_seeds("seeds", seeds)
    jobs = [search.Job(genome=None, seed=retrain.training_seed(seed), options=train.job_options(
        function, {**reported(options), **retrain.Baseline(name, matches[seed].width).options()})) for seed in seeds]
    results = _run(executor, function, jobs)
    return {seed: results[position] for position, seed in enumerate(seeds)}
