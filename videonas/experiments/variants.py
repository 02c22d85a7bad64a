"""Fixed networks trained over seeds: ablations (frames, scaling), noise floors and baselines.

Each (variant, task, seed) is one job on one executor (persistent workers, see ``videonas.search.pool``), trained with
the same recipe as a search's candidates: ``videonas.train:evaluate_trial`` for a genome,
``videonas.train:evaluate_model`` for a named model (a baseline). Every arm of a comparison gets the same budget and
the same seeds; ``VariantRuns`` reports held-out test scores and pairs them by seed for verdicts. A declared seed trains
with ``retrain.training_seed(seed)``, as in every experiment, so "seed 0" is one training seed everywhere.
"""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any, Mapping, Sequence

from videonas import search, train
from videonas.checks import check_seeds
from videonas.experiments import claims, retrain, stats


@dataclasses.dataclass(frozen=True)
class Variant:
    """A network to train: a ``genome``, or a registry ``model`` name with ``model_options`` (e.g. width)."""

    label: str
    genome: Any = None
    model: str | None = None
    model_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"variant label must be a non-empty string, got {self.label!r}")
        if (self.genome is None) == (self.model is None):
            raise ValueError(f"variant {self.label!r} needs exactly one of genome and model")

    def job(self, *, seed: int, task: Mapping[str, Any], budget: Mapping[str, Any]):
        """The job of declared seed ``seed``: it trains with ``retrain.training_seed(seed)``, as every experiment's
        fixed networks do (the rule is stated there)."""

        options: dict[str, Any] = {"task": dict(task), "budget": dict(budget)}
        if self.model is not None:
            options.update(model=self.model, model_options=dict(self.model_options))
        return search.Job(self.genome, seed=retrain.training_seed(seed), options=train.typed_options(options))


class VariantRuns:
    """``results[(variant label, task name, seed)]`` is a ``TrialResult``."""

    def __init__(self, results: Mapping[tuple[str, str, int], Any]) -> None:
        self.results = dict(results)

    def _values(self, label: str, task: str, read) -> dict[int, Any]:
        values = {seed: read(result) for (lab, name, seed), result in self.results.items()
                  if (lab, name) == (label, task)}
        if not values:
            raise ValueError(f"no runs of variant {label!r} on task {task!r}; have "
                             f"{sorted({(lab, name) for lab, name, _ in self.results})}")
        return values

    def scores(self, label: str, task: str, *, split: str = "test") -> dict[int, float | None]:
        """Per seed, the score on ``split`` (``None`` for a failed run)."""
        if split not in ("test", "val"):
            raise ValueError(f"split must be 'test' or 'val', got {split!r}")
        if split == "val":
            return self._values(label, task, lambda r: r.fitness if r.status == "done" else None)
        return {seed: retrain.required_test_score(result, f"variant {label!r} on task {task!r} seed {seed}")
                for seed, result in self._values(label, task, lambda r: r).items()}

    def figure(self, label: str, task: str, field: str) -> float | None:
        """A seed-independent figure of the variant (``params``, ``flops``): the first run's that has it."""
        if field not in ("params", "flops", "latency_ms"):
            raise ValueError(f"field must be params, flops or latency_ms, got {field!r}")
        values = [v for v in self._values(label, task, lambda r: getattr(r, field)).values() if v is not None]
        return values[0] if values else None

    def noise_floor(self, label: str, task: str) -> float | None:
        """The spread (standard deviation) of the variant's test scores over seeds: what retraining alone moves."""
        return stats.spread(list(self.scores(label, task).values()))

    def table(self) -> list[dict[str, Any]]:
        """One row per (variant, task): mean test score over seeds, its spread, n, params and FLOPs."""
        rows = []
        for label, task in dict.fromkeys((lab, name) for lab, name, _ in self.results):
            values = [v for v in self.scores(label, task).values() if v is not None]
            rows.append({"variant": label, "task": task, "seeds": len(values),
                         "mean test": statistics.fmean(values) if values else None,
                         "spread": self.noise_floor(label, task),
                         "params": self.figure(label, task, "params"), "flops": self.figure(label, task, "flops")})
        return rows

    def best_of(self, labels: Sequence[str], task: str) -> dict[int, float | None]:
        """Per seed, the highest test score among ``labels`` (a seed where any of them failed gives ``None``)."""
        per_label = [self.scores(label, task) for label in labels]
        seeds = sorted(set.intersection(*(set(values) for values in per_label)))
        return {seed: None if any(v[seed] is None for v in per_label) else max(v[seed] for v in per_label)
                for seed in seeds}

    def verdict(self, key: str, *, a: tuple[str, str], b: tuple[str, str] | Mapping[int, float | None]):
        """The verdict on question ``key`` for ``a = (variant, task)`` against ``b`` (a ``(variant, task)`` or per-seed
        scores such as ``best_of``), paired by seed; the noise floor is ``a``'s spread over seeds."""
        other = self.scores(*b) if isinstance(b, tuple) else b
        return claims.ask_scores(key, a=self.scores(*a), b=other, noise_floor=self.noise_floor(*a))


def train_variants(variants: Sequence[Variant], *, tasks: Mapping[str, Mapping[str, Any]], seeds: Sequence[int],
                   budget: Mapping[str, Any], executor: Any = "subprocess",
                   executor_options: Mapping[str, Any] | None = None, progress: bool = True) -> VariantRuns:
    """Train every variant on every task with every seed (same budget everywhere) on ``executor`` (a name with
    ``executor_options``, or an executor, closed at the end); failures are recorded, not raised. Options are checked
    once, before anything trains."""

    if not variants or len({v.label for v in variants}) != len(variants):
        raise ValueError(f"variants must be a non-empty list of distinct labels, got {[v.label for v in variants]}")
    check_seeds("seeds", seeds)
    if not tasks:
        raise ValueError("tasks must name at least one training task")
    keys, jobs = [], []
    for variant in variants:
        for name, task in tasks.items():
            typed = variant.job(seed=seeds[0], task=task, budget=budget).options  # checked here, once
            (typed.trial if variant.model else typed).task.open_dataset()
            for seed in seeds:
                keys.append((variant.label, name, seed))
                jobs.append(variant.job(seed=seed, task=task, budget=budget))
    results: dict[tuple[str, str, int], Any] = {}
    runner = search.make_executor(executor, **dict(executor_options or {}))
    bar = _bar(len(jobs), enabled=progress)
    try:
        for kind in ("videonas.train:evaluate_trial", "videonas.train:evaluate_model"):
            chosen = [i for i, job in enumerate(jobs) if (job.genome is None) == kind.endswith("model")]
            for position, result in runner.run(kind, [jobs[i] for i in chosen]):
                results[keys[chosen[position]]] = result
                bar.update(1)
    finally:
        runner.close()
        bar.close()
    return VariantRuns({key: results[key] for key in keys})


def _bar(total: int, *, enabled: bool):
    from tqdm.auto import tqdm

    # None: shown on a terminal or a notebook widget, off where no one watches (Papermill's kernel, a log file).
    return tqdm(total=total, desc="training", disable=None if enabled else True, dynamic_ncols=True)
