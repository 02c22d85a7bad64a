"""Searches compared as arms over seeds: the shape of every "does X beat Y" search experiment.

An arm is a strategy with its options (evolution, random search, guided or unguided mutation); ``run_arms`` runs each
arm once per seed, in one trial store and on one executor (its workers live across all the searches), at the same
budget and the same number of candidates, so arms differ only in how they propose. ``ArmRuns`` reads the results the
way the experiments report them: each search's best is chosen on validation (its fitness), and what is reported is
that trial's score on the held-out test split, which no search and no selection sees.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from videonas import config, pareto, selected
from videonas.checks import check_seeds
from videonas.experiments import claims, curves, summaries
from videonas.search import make_strategy, run_search, space_from_config


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: ``strategy`` (a name of ``videonas.search.STRATEGIES``) with ``strategy_options``, on the common
    space or its own ``space``."""

    label: str
    strategy: str
    strategy_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    space: Any = None  # this arm's own search space (e.g. frames forced to 16); None: run_arms' space

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label or "/" in self.label:
            raise ValueError(f"arm label must be a non-empty name without '/', got {self.label!r}")


def _test_metrics(trial: Any) -> dict[str, Any]:
    return ((trial.metrics or {}).get("test") or {}) if trial is not None else {}


def held_out_score(trial: Any) -> float | None:
    """A trial's held-out test score (top-1, or mAP for multi-label tasks), or ``None`` when it has none."""
    test = _test_metrics(trial)
    value = test.get("mAP", test.get("accuracy"))
    return None if value is None else float(value)


def held_out_by_kind(trial: Any) -> dict[str, float]:
    """A trial's test top-1 on each kind of class (``"scene"``, ``"motion"``), where the data set names kinds."""
    return {str(kind): float(value) for kind, value in (_test_metrics(trial).get("accuracy_by_kind") or {}).items()}


class ArmRuns:
    """The searches of ``run_arms``: ``experiments[(label, seed)]`` is one search's ``videonas.search.Experiment``."""

    def __init__(self, experiments: Mapping[tuple[str, int], Any]) -> None:
        self.experiments = dict(experiments)
        self.labels = list(dict.fromkeys(label for label, _ in self.experiments))
        self.seeds = list(dict.fromkeys(seed for _, seed in self.experiments))

    def dataset(self):
        """The data set the searches trained on (their stored task's, opened: the index, no decoding), or ``None``
        for searches that train no network."""
        first = next(iter(self.experiments.values()), None)
        if first is None or getattr(first, "config", None) is None or not config.stored_default_evaluate(first.config):
            return None
        return first.trial_options().task.open_dataset()

    def trials(self) -> dict[tuple[str, int], list[Any]]:
        return {key: experiment.trials() for key, experiment in self.experiments.items()}

    def _arm(self, label: str, *, children: bool = False) -> dict[int, list[Any]]:
        if label not in self.labels:
            raise ValueError(f"label must be one of the arms {self.labels}, got {label!r}")
        return {seed: [trial for trial in self.experiments[label, seed].trials()
                       if not children or trial.parent is not None]
                for seed in self.seeds if (label, seed) in self.experiments}

    def best(self, label: str, *, children: bool = False) -> dict[int, Any]:
        """``{seed: the trial of highest validation fitness}`` (``None`` where nothing finished), scored on the test
        split now if the search did not score it (``videonas.selected.score_test``: once, then stored).
        ``children``: among the mutated candidates only, leaving out the starting samples, which arms of one seed
        share, so that a comparison of mutation operators sees only what the operators made."""
        return {seed: selected.score_test(self.experiments[label, seed], summaries.best_trial(trials))
                for seed, trials in self._arm(label, children=children).items()}

    def overall_best(self, label: str) -> tuple[int, Any, Any]:
        """``(seed, trial, genome)`` of arm ``label``'s best trial on validation over all its seeds (what a notebook
        shows as "the found network")."""
        seed, trial = summaries.overall_best(self.trials(), label=label)
        trial = selected.score_test(self.experiments[label, seed], trial)
        return seed, trial, self.experiments[label, seed].genome(trial)

    def top_score(self, label: str) -> float:
        """The highest test score among arm ``label``'s validation-selected bests (0 when none has one): what a
        chance note compares with chance."""
        return max((score for score in self.scores(label).values() if score is not None), default=0.0)

    def scores(self, label: str, *, split: str = "test", children: bool = False) -> dict[int, float | None]:
        """Per seed, the validation-selected best trial's score on ``split`` (``"test"`` or ``"val"``); ``children``
        as in ``best``."""
        if split not in ("test", "val"):
            raise ValueError(f"split must be 'test' or 'val', got {split!r}")
        best = self.best(label, children=children)
        if split == "val":
            return {seed: None if trial is None else float(trial.fitness) for seed, trial in best.items()}
        return {seed: held_out_score(trial) for seed, trial in best.items()}

    def scores_by_kind(self, label: str) -> dict[str, dict[int, float]]:
        """``{kind: {seed: test top-1 on that kind's clips}}`` of each seed's validation-selected best: whether a
        search's winner learned the motion classes or only the scene ones."""
        out: dict[str, dict[int, float]] = {}
        for seed, trial in self.best(label).items():
            for kind, value in held_out_by_kind(trial).items():
                out.setdefault(kind, {})[seed] = value
        return out

    def points(self) -> list[dict[str, Any]]:
        """Every trial of every search as an accuracy-latency point (``videonas.pareto.trial_points``), for a plot of
        all the candidates the arms tried."""
        return [point for trials in self.trials().values() for point in pareto.trial_points(trials)]

    def curves(self, label: str) -> list[list[float | None]]:
        """Each seed's top-rung validation fitness by training epochs spent (``curves.fitness_by_epoch``, for
        best-so-far plots: the arms' budget is in epochs)."""
        return [curves.fitness_by_epoch(trials, top_epochs=self._top_epochs(label, seed))
                for seed, trials in self._arm(label).items()]

    def _top_epochs(self, label: str, seed: int) -> int | None:
        rungs = getattr(getattr(self.experiments[label, seed], "config", None), "rungs", None)
        return None if rungs is None else rungs.epochs[-1]

    def summary(self) -> list[dict[str, Any]]:
        """One row per search: counts, the best trial's validation fitness and its test score."""
        rows = []
        for (label, seed), trials in self.trials().items():
            row = {"search": label, "seed": seed, **summaries.search_summary(trials)}
            best = self.best(label)[seed]
            row["best test"] = held_out_score(best)
            row.update({f"best test ({kind})": value for kind, value in held_out_by_kind(best).items()})
            rows.append(row)
        return rows

    def verdict(self, key: str, *, a: str, b: str, split: str = "test", noise_floor: float | None = None,
                children: bool = False):
        """The verdict on question ``key`` (``videonas.experiments.QUESTIONS``), arm ``a`` against arm ``b``, paired
        by seed (in points where the question's unit is points); ``children`` as in ``best``."""
        return claims.ask_scores(key, a=self.scores(a, split=split, children=children),
                                 b=self.scores(b, split=split, children=children), noise_floor=noise_floor)


def first_round(arm: Arm, *, space: Any, seed: int, batch_size: int) -> list[Any]:
    """The genomes ``arm``'s search proposes first with ``seed``: fixed by the seed alone (no training needed), which
    is what a notebook checks to show that a run repeats."""

    chosen = space_from_config(space if arm.space is None else arm.space)
    return make_strategy(arm.strategy, chosen, seed=seed, batch_size=batch_size, **dict(arm.strategy_options)).ask()


def first_rounds(arms: Sequence[Arm], *, space: Any, seeds: Sequence[int], batch_size: int,
                 describe: Callable[[Any], str] | None = None) -> str:
    """One line per arm and seed listing ``first_round``'s genome keys (each followed by ``describe(genome)`` when
    given): the text a notebook checks with nbval."""
    lines = []
    for arm in arms:
        for seed in seeds:
            genomes = first_round(arm, space=space, seed=seed, batch_size=batch_size)
            shown = [g.key if describe is None else f"{g.key} ({describe(g)})" for g in genomes]
            lines.append(f"{arm.label} seed {seed}: {', '.join(shown)}")
    return "\n".join(lines)


def arm_config(search: Mapping[str, Any], arm: Arm, *, seed: int, store: Any):
    """The ``SearchConfig`` of ``arm``'s search with ``seed``: ``search`` holds the fields every arm shares (space,
    task, budget, constraints, num_trials, batch_size, executor...; errors name ``search.<key>``), the arm adds its
    strategy (and its own space, if any), the name ``<label>-seed<seed>`` and the store."""

    fields = {**dict(search), "name": f"{arm.label}-seed{seed}", "store": str(store), "seed": seed,
              "strategy": {"name": arm.strategy, "options": dict(arm.strategy_options)}}
    if arm.space is not None:
        fields["space"] = arm.space
    chosen = config.SearchConfig.from_dict(fields, path="search")
    if not chosen.evaluate.default:
        return chosen
    # Only the trials a report selects are scored on test (``ArmRuns.best``), from the weights every trial saves.
    return dataclasses.replace(chosen, task=dataclasses.replace(chosen.task, score_test=False),
                               save_weights=chosen.save_weights or str(Path(store).parent / "weights"))


def run_arms(*, arms: Sequence[Arm], seeds: Sequence[int], search: Mapping[str, Any], store: Any,
             executor: Any = None, progress: bool = True) -> ArmRuns:
    """Run every arm once per seed (experiment ``<label>-seed<seed>``; running again resumes) and return them.
    Every search's configuration is checked before the first one starts. They share one executor: ``executor``
    (an open one, left open for the caller's other work) or the configured one, closed at the end."""

    if not arms or len({arm.label for arm in arms}) != len(arms):
        raise ValueError(f"arms must be a non-empty list of distinct labels, got {[a.label for a in arms]}")
    check_seeds("seeds", seeds)
    configs = {(arm.label, seed): arm_config(search, arm, seed=seed, store=store) for arm in arms for seed in seeds}
    runner = executor if executor is not None else next(iter(configs.values())).executor.build()
    try:
        experiments = {key: run_search(chosen, executor=runner, progress=progress) for key, chosen in configs.items()}
    finally:
        if executor is None:
            runner.close()
    return ArmRuns(experiments)
