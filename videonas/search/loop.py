"""The one search loop shared by EvaNet, AssembleNet and TVN searches.

Synchronous rounds: ask the strategy for a batch, store it as pending, evaluate it on an executor (results are stored
and committed one by one as they finish), then tell the strategy the round in ask order. Resume replays the finished
rounds into a fresh strategy, re-asks the interrupted round (the same seed gives the same batch, which is checked) and
evaluates only what had not finished.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import socket
from pathlib import Path
from typing import Any, Mapping

import numpy

from videonas import families
from videonas.checks import check_int
from videonas.genome.base import Genome, SearchSpace
from videonas.search.executors import Executor, Job, make_executor, resolve
from videonas.search.store import FINISHED, Trial, TrialResult, TrialStore
from videonas.search.strategies import make_strategy

log = logging.getLogger(__name__)

# Statuses whose stored result is re-used for a later duplicate genome; failures (maybe a timeout) are retried.
REUSABLE = ("done", "rejected")


def space_from_config(spec: SearchSpace | Mapping[str, Any]) -> SearchSpace:
    """A space from an instance or from ``{"family": "tvn", "options": {...}}`` (or ``{"family": "tvn", **options}``).

    Stores are data: only registered families open (``videonas.families``); nothing a store names is imported.
    Stores written before the registry name a ``"class"``; it is accepted only when it is a registered family's space.
    """
    if isinstance(spec, SearchSpace):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(f"space must be a SearchSpace or a mapping, got {type(spec).__name__}")
    if "family" in spec:
        options = spec.get("options") if "options" in spec else {k: v for k, v in spec.items() if k != "family"}
        # A space's to_dict() may name its family too; the constructor takes only the options.
        return families.get(spec["family"]).space(**{k: v for k, v in dict(options or {}).items() if k != "family"})
    if "class" in spec:
        known = {f"{f.space_type.__module__}:{f.space_type.__qualname__}": f for f in families.registered().values()}
        family = known.get(str(spec["class"]))
        if family is None:
            raise ValueError(f"space.class must be a registered family's space {sorted(known)}, got "
                             f"{str(spec['class'])[:100]!r}")
        return family.space(**{k: v for k, v in dict(spec.get("options") or {}).items() if k != "family"})
    raise ValueError(f"space must name a 'family', got keys {sorted(spec)[:10]}")


def space_config(space: SearchSpace) -> dict[str, Any]:
    family = families.get(space.family)
    if not isinstance(space, family.space_type):
        raise ValueError(f"space must be the registered {family.space_type.__name__} of family {space.family!r}, "
                         f"got {type(space).__name__}")
    return {"family": space.family, "options": {k: v for k, v in space.to_dict().items() if k != "family"}}


def trial_seed(seed: int, index: int) -> int:
    """Training seed of trial ``index``: fixed by the experiment seed, so a re-run trains identically."""
    return int(numpy.random.SeedSequence(seed, spawn_key=(1, index)).generate_state(1)[0])


class Experiment:
    """A view of one experiment in a trial store: trials, best, history DataFrame, decoded genomes."""

    def __init__(self, name: str, store: TrialStore | str | Path) -> None:
        self.name = name
        self.store = store if isinstance(store, TrialStore) else TrialStore(store)
        self.config = self.store.experiment_config(name)
        if self.config is None:
            raise ValueError(f"experiment {name!r} not found in {self.store.path}; found {self.store.experiments()}")
        self.space = space_from_config(self.config["space"])  # only a registered family opens

    def trials(self, status: str | None = None) -> list[Trial]:
        return self.store.trials(self.name, status=status)

    def best(self, k: int = 1) -> list[Trial]:
        return self.store.best(self.name, k)

    def history(self):
        return self.store.history(self.name)

    def genome(self, trial: Trial) -> Genome:
        return self.space.genome_type.from_json(trial.genome)

    def best_genome(self) -> Genome:
        best = self.best(1)
        if not best:
            raise ValueError(f"experiment {self.name!r} has no finished trial")
        return self.genome(best[0])

    def __repr__(self) -> str:
        counts = {s: len(self.trials(s)) for s in FINISHED}
        return f"Experiment({self.name!r}, store={str(self.store.path)!r}, {counts})"


def run_search(
    name: str,
    *,
    space: SearchSpace | Mapping[str, Any],
    store: TrialStore | str | Path,
    num_trials: int,
    strategy: str = "regularized",
    strategy_options: Mapping[str, Any] | None = None,
    batch_size: int = 4,
    seed: int = 0,
    evaluate: str = "videonas.train:evaluate_trial",
    evaluate_options: Mapping[str, Any] | None = None,
    executor: str | Executor = "subprocess",
    executor_options: Mapping[str, Any] | None = None,
    reuse_duplicates: bool = True,
    force: bool = False,
    progress: bool = True,
) -> Experiment:
    """Run (or resume) experiment ``name`` until ``num_trials`` trials are stored; returns the ``Experiment``.

    ``evaluate`` is the dotted path of ``function(genome, *, seed, **evaluate_options) -> TrialResult``. When the
    function has a ``check_options(evaluate_options)`` attribute (``videonas.train:evaluate_trial`` does), it runs here
    on the driver, before anything is stored, so bad options raise one ``ValueError`` naming the field.
    The configuration (space, strategy, seed, batch size, evaluate function and options, duplicate reuse) is stored
    with the experiment; resuming with a different one raises ``ValueError`` unless ``force``. ``num_trials`` and the
    executor may change between runs: they do not change which genomes are proposed.
    """
    check_int("num_trials", num_trials, 1, 10**9)
    space = space_from_config(space)
    search_strategy = make_strategy(strategy, space, seed=seed, batch_size=batch_size, **dict(strategy_options or {}))
    evaluate_options = dict(evaluate_options or {})
    try:
        function = resolve(evaluate)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"evaluate must name an importable 'module:function', got {evaluate!r} ({error})") from None
    check_options = getattr(function, "check_options", None)
    if check_options is not None:  # typed options: a typo is one error here, not a store full of failed trials
        check_options(evaluate_options)
    owns_executor = not isinstance(executor, Executor)
    runner = make_executor(executor, **dict(executor_options or {}))
    config = {"space": space_config(space), "strategy": search_strategy.to_dict(), "seed": seed,
              "evaluate": evaluate, "evaluate_options": evaluate_options, "reuse_duplicates": bool(reuse_duplicates)}
    owns_store = not isinstance(store, TrialStore)
    store = TrialStore(store) if owns_store else store
    try:
        store.open_experiment(name, config, force=force)
        store.acquire_lease(name)  # one driver per experiment: before anything is re-queued or proposed
    except BaseException:
        if owns_executor:
            runner.close()
        raise
    try:
        _run_rounds(store, name, space, search_strategy, runner, num_trials=num_trials, seed=seed, evaluate=evaluate,
                    evaluate_options=evaluate_options, reuse_duplicates=reuse_duplicates, progress=progress)
    finally:
        if owns_executor:
            runner.close()
        store.release_lease(name)
    return Experiment(name, store)


def _run_rounds(store: TrialStore, name: str, space: SearchSpace, search_strategy, runner: Executor, *,
                num_trials: int, seed: int, evaluate: str, evaluate_options: dict[str, Any], reuse_duplicates: bool,
                progress: bool) -> None:
    """Re-queue what an interrupted run left running, replay the finished rounds, then evaluate until full."""
    requeued = store.requeue_unfinished(name)
    if requeued:
        log.info("experiment %s: re-queued %d trial(s) left running by an interrupted run", name, requeued)

    rounds = [list(group) for _, group in itertools.groupby(store.trials(name), key=lambda t: t.round)]
    interrupted: list[Trial] | None = None
    for round_trials in rounds:
        if round_trials[0].round != search_strategy.round:
            raise RuntimeError(f"store {store.path} has round {round_trials[0].round} where round "
                               f"{search_strategy.round} was expected")
        if all(t.status in FINISHED for t in round_trials):
            search_strategy.tell(round_trials)
        else:
            interrupted = round_trials
    bar = _ProgressBar(name, store, num_trials, enabled=progress)
    try:
        while True:
            if interrupted is not None:
                round_trials, interrupted = interrupted, None
                _check_same_proposals(search_strategy, round_trials)
            else:
                count = store.count(name)
                if count >= num_trials:
                    break
                round_trials = _store_proposals(store, name, search_strategy, count, num_trials - count, seed)
            _evaluate_round(store, name, space, round_trials, runner, evaluate, evaluate_options, reuse_duplicates,
                            bar)
            search_strategy.tell(store.trials(name, start=round_trials[0].index, stop=round_trials[-1].index + 1))
            log.info("experiment %s: round %d finished (%d trials)", name, search_strategy.round - 1,
                     len(round_trials))
    finally:
        bar.close()


def _store_proposals(store: TrialStore, name: str, strategy, first_index: int, room: int, seed: int) -> list[Trial]:
    # A batch that would pass num_trials is cut: its prefix is what the same seed would propose anyway.
    proposals = strategy.propose()[:room]
    trials = [Trial(experiment=name, index=first_index + i, round=strategy.round, parent=p.parent,
                    genome=p.genome.to_json(), genome_key=p.genome.key, status="pending",
                    seed=trial_seed(seed, first_index + i)) for i, p in enumerate(proposals)]
    store.add_trials(trials)
    return trials


def _check_same_proposals(strategy, stored: list[Trial]) -> None:
    proposed = [p.genome.key for p in strategy.propose()[: len(stored)]]
    if proposed != [t.genome_key for t in stored]:
        raise RuntimeError(f"resuming round {strategy.round}: the strategy proposes {proposed} but the store holds "
                           f"{[t.genome_key for t in stored]}; the strategy or search space is not deterministic")


def _evaluate_round(store: TrialStore, name: str, space: SearchSpace, round_trials: list[Trial], runner: Executor,
                    evaluate: str, evaluate_options: dict[str, Any], reuse_duplicates: bool,
                    bar: "_ProgressBar") -> None:
    """Evaluate the unfinished trials of one round; each result is committed as soon as it arrives."""
    earlier: dict[str, Trial] = {}
    if reuse_duplicates:
        for trial in store.trials(name, status=REUSABLE):
            if trial.index < round_trials[0].index:
                earlier.setdefault(trial.genome_key, trial)
    groups: dict[str, list[Trial]] = {}
    for trial in round_trials:
        if trial.status in FINISHED:
            continue
        if trial.genome_key in earlier:
            _finish(store, [trial], earlier[trial.genome_key].result(), bar, earlier[trial.genome_key].index)
            continue
        key = trial.genome_key if reuse_duplicates else f"{trial.genome_key}#{trial.index}"
        groups.setdefault(key, []).append(trial)
    if not groups:
        return
    group_list = list(groups.values())
    jobs = [Job(space.genome_type.from_json(group[0].genome), group[0].seed, evaluate_options) for group in group_list]
    host = socket.gethostname()

    def on_start(position: int) -> None:
        for trial in group_list[position]:
            store.mark_running(name, trial.index, host)

    for position, result in runner.run(evaluate, jobs, on_start=on_start):
        group = group_list[position]
        _finish(store, group[:1], result, bar, None)
        _finish(store, group[1:], result, bar, group[0].index)


def _finish(store: TrialStore, trials: list[Trial], result: TrialResult, bar: "_ProgressBar",
            reused_from: int | None) -> None:
    for trial in trials:
        if reused_from is not None:
            result = dataclasses.replace(result, metrics={**result.metrics, "reused_from": reused_from})
        store.finish(trial.experiment, trial.index, result)
        if result.status == "failed":
            log.warning("trial %d failed: %s", trial.index, (result.error or "").splitlines()[0][:300])
        bar.update(result)


class _ProgressBar:
    """tqdm bar with the best fitness and done/failed/rejected counts."""

    def __init__(self, name: str, store: TrialStore, total: int, *, enabled: bool) -> None:
        finished = [t for t in store.trials(name) if t.status in FINISHED]
        self.counts = {s: sum(t.status == s for t in finished) for s in FINISHED}
        self.best = max((t.fitness for t in finished if t.status == "done"), default=None)
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=len(finished), desc=name, dynamic_ncols=True)
            self._postfix()

    def update(self, result: TrialResult) -> None:
        self.counts[result.status] += 1
        if result.status == "done" and (self.best is None or result.fitness > self.best):
            self.best = result.fitness
        if self.bar is not None:
            self.bar.update(1)
            self._postfix()

    def _postfix(self) -> None:
        best = "-" if self.best is None else f"{self.best:.4f}"
        self.bar.set_postfix_str(f"best={best} " + " ".join(f"{k}={v}" for k, v in self.counts.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
