"""Models trained outside a search, on the search's executor and recipe: the noise floor and matched baselines.

A difference between two arms means something only beside the noise of training itself, so an experiment retrains
one genome over its seeds and reports the spread of its test scores (``noise_floor``). Hand-made baselines (a
two-stream late-fusion net, an R(2+1)D) are named models of ``videonas.models``; ``Baseline`` ships one to the
executor (``videonas.train:evaluate_model``), so its seeds train in parallel with one thread per worker, with the
candidates' recipe (``videonas.train.train_model``: data subset, Adam, batch size, epochs) and score the held-out test
split.
``match_width`` picks a baseline's width multiplier so that its FLOPs match a target (a comparison at equal compute).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Mapping, Sequence

from videonas import models, search, train
from videonas.checks import check_float, check_seeds
from videonas.experiments import arms, stats


@dataclasses.dataclass(frozen=True)
class Baseline:
    """A named model of ``videonas.models`` (``"r2plus1d-18"``, ``"two-stream"``) at ``width_multiplier``."""

    name: str
    width_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"baseline name must be a model name, got {self.name!r}")
        check_float("baseline.width_multiplier", self.width_multiplier, 1e-3, 64.0)

    @property
    def label(self) -> str:
        return f"{self.name} x{self.width_multiplier:.3g}"

    def options(self) -> dict[str, Any]:
        """The options of ``videonas.train:evaluate_model`` that name this baseline."""
        return {"model": self.name, "model_options": {"width_multiplier": self.width_multiplier}}

    def build(self, *, num_classes: int, num_frames: int, image_size: int, multi_label: bool = False):

        return models.create_model(self.name, num_classes=num_classes, num_frames=num_frames, image_size=image_size,
                                   multi_label=multi_label, width_multiplier=self.width_multiplier)


def training_seed(seed: int) -> int:
    """The training seed of a fixed network trained "with seed ``seed``", in every experiment.

    The rule: a declared seed is an experiment seed, never a raw training seed. A search's trial ``i`` trains with
    ``videonas.search.trial_seed(search seed, i)``; a fixed network (a retrained winner, a baseline, an ablation
    variant) declared with seed ``s`` trains with ``trial_seed(s, 0)``, the seed trial 0 of a search with seed ``s``
    trains with. So "seed 0" means one training seed in ``retrain`` and in ``videonas.experiments.variants`` alike,
    and a network retrained with seed ``s`` trains exactly as it would have as the first trial of search ``s``.
    """
    return search.trial_seed(seed, 0)


def retrain(model: Any, *, seeds: Sequence[int], executor: Any, options: Mapping[str, Any],
            function: str = "videonas.train:evaluate_trial") -> dict[int, Any]:
    """Train ``model`` (a genome; ``None`` with ``function="videonas.train:evaluate_model"`` and the model named in
    ``options``) once per seed on ``executor`` with ``options`` (``{"task", "budget"}``); ``{seed: TrialResult}``."""

    check_seeds("seeds", seeds)
    runner = search.make_executor(executor)
    typed = train.job_options(function, options)
    jobs = [search.Job(genome=model, seed=training_seed(seed), options=typed) for seed in seeds]
    results = dict(runner.run(function, jobs))
    return {seed: results[position] for position, seed in enumerate(seeds)}


def train_baselines(baseline: Baseline, *, seeds: Sequence[int], executor: Any, task: Mapping[str, Any],
                    budget: Mapping[str, Any]) -> dict[int, Any]:
    """``retrain`` of a hand-made baseline: ``{seed: TrialResult}`` (its ``metrics["test"]`` is the held-out score)."""
    return retrain(None, seeds=seeds, executor=executor, options={"task": dict(task), "budget": dict(budget),
                                                                  **baseline.options()},
                   function="videonas.train:evaluate_model")


def required_test_score(result: Any, what: str) -> float | None:
    """The held-out test score of a fixed network's training (``None``: it failed). A finished training without one
    was trained on a task that does not score test: a ``ValueError`` naming ``what``, not a verdict of "n/a"."""
    if getattr(result, "status", "done") != "done":
        return None
    value = arms.held_out_score(result)
    if value is None:
        raise ValueError(f"{what} finished without a test score: its task did not score the test split "
                         f"(score_test); a comparison reports held-out scores")
    return value


def held_out_scores(results: Mapping[int, Any]) -> dict[int, float | None]:
    """``{seed: held-out test score}`` of retrained results (``None`` for a failed one; ``required_test_score``)."""
    return {seed: required_test_score(result, f"seed {seed}") for seed, result in results.items()}


def noise_floor(results: Mapping[int, Any]) -> float | None:
    """The spread (standard deviation over seeds) of one configuration's test scores; ``None`` below two seeds."""
    return stats.spread(list(held_out_scores(results).values()))


def match_width(build: Callable[[float], Any], *, target_flops: float, low: float = 1 / 64, high: float = 1.0,
                steps: int = 8) -> tuple[float, int]:
    """``(width, flops)``: the width multiplier in [``low``, ``high``] whose model (``build(width)``) has the FLOPs
    closest to ``target_flops``, by bisection on the width (FLOPs grow with width; channel rounding makes them
    step, so the closest of all widths tried is returned). ``protocol.match_flops`` holds a comparison to 10%."""
    import keras

    from videonas import measure

    check_float("target_flops", target_flops, 1.0, 1e18)
    if not 0 < low < high:
        raise ValueError(f"width range must satisfy 0 < low < high, got {low!r}, {high!r}")
    tried: dict[float, int] = {}

    def flops(width: float) -> int:
        keras.backend.clear_session()
        tried[width] = measure.count_flops(build(width))
        return tried[width]

    if flops(low) < target_flops < flops(high):
        lower, upper = math.log(low), math.log(high)
        for _ in range(steps):
            middle = (lower + upper) / 2
            lower, upper = (middle, upper) if flops(math.exp(middle)) < target_flops else (lower, middle)
    width = min(tried, key=lambda w: (abs(math.log(tried[w] / target_flops)), w))
    return width, tried[width]


def retrain_best(runs: Any, *, label: str, executor: Any, options: Mapping[str, Any],
                 function: str = "videonas.train:evaluate_trial") -> tuple[Any, dict[int, Any]]:
    """The noise floor's runs: the genome that arm ``label`` found best (on validation) in its first seed, retrained
    once per seed of ``runs`` with ``options`` (the search's task and budget); ``(trial, {seed: TrialResult})``."""
    seed = runs.seeds[0]
    trial = runs.best(label)[seed]
    if trial is None:
        raise ValueError(f"arm {label!r} has no finished trial in seed {seed}: nothing to retrain")
    genome = runs.experiments[label, seed].genome(trial)
    task_budget = {name: options[name] for name in ("task", "budget") if name in options}
    return trial, retrain(genome, seeds=runs.seeds, executor=executor, options=task_budget, function=function)
