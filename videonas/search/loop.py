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

from videonas import config as config_module, families
from videonas.genome.base import Genome, SearchSpace
from videonas.search import pool, rungs
from videonas.search.executors import Executor, Job
from videonas.search.store import FINISHED, Trial, TrialResult, TrialStore

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
    """A view of one experiment in a trial store: trials, best, history DataFrame, decoded genomes.

    Given a path, it opens the store read-only (a reader never writes, reads older stores, works in read-only folders).
    """

    def __init__(self, name: str, store: TrialStore | str | Path) -> None:
        self.name = name
        self.store = store if isinstance(store, TrialStore) else TrialStore(store, read_only=True)
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

    def trial_options(self):
        """The task, budget, constraints and weights folder its trials ran with (``videonas.task.TrialOptions``)."""
        return config_module.stored_trial_options(self.config)

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


def run_search(config: "config_module.SearchConfig | Mapping[str, Any] | str | None" = None, /, *,
               executor: Any = None, force: bool = False, progress: bool = True, **fields: Any) -> Experiment:
    """Run (or resume) a search until ``num_trials`` trials are stored; returns its ``Experiment``.

    ``config`` is a ``videonas.config.SearchConfig`` or its plain form (the CLI's YAML, a notebook's ``search``
    parameters) or just its name; keyword ``fields`` are the same keys (``run_search("tvn-smoke", space=...,
    store=..., num_trials=...)``) and override the mapping's. Everything is checked before a store file is created, the dataset's index included.
    The normalised configuration (``SearchConfig.stored``) is kept with the experiment; resuming with a different one
    raises ``ValueError`` unless ``force``, which also takes over a lease left by a driver on another host. ``num_trials`` and the executor may change between runs: growing
    ``num_trials`` continues the decisions made so far (a round cut short by the old limit is completed first).
    ``executor`` is a configuration value (``"subprocess"``, ``{"kind": ..., "options": ...}``) or an open
    ``Executor`` to run on, shared by several searches and not closed here.
    """
    runner = executor if isinstance(executor, Executor) else None
    if executor is not None and runner is None:
        fields["executor"] = executor  # the configured kind, not an open executor
    if isinstance(config, str):
        config, fields = None, {"name": config, **fields}
    if isinstance(config, config_module.SearchConfig):
        config = config.replace(**fields) if fields else config
    else:
        if config is not None and not isinstance(config, Mapping):
            raise ValueError(f"config must be a SearchConfig, a mapping or a name, got {type(config).__name__}")
        config = config_module.SearchConfig.from_dict({**dict(config or {}), **fields})
    if config.evaluate.default:  # the data exists and has train and val: once here, not in every trial
        config.task.open_dataset()
    pool.sweep_stale_folders()  # whatever the executor: run folders of drivers that were killed
    space = config.build_space()
    search_strategy = config.build_strategy(space)
    owns_runner = runner is None
    runner = config.executor.build() if owns_runner else runner
    store = TrialStore(config.store)
    try:
        store.open_experiment(config.name, config.stored(), force=force)
        # One driver per experiment, before anything is re-queued or proposed; ``force`` also takes over a lease held
        # from another host whose driver is gone (never a live driver on this host).
        store.acquire_lease(config.name, force=force)
    except BaseException:
        if owns_runner:
            runner.close()
        raise
    try:
        _run_rounds(store, config, space, search_strategy, runner, progress=progress)
    finally:
        if owns_runner:
            runner.close()
        store.release_lease(config.name)
    return Experiment(config.name, store)


def _run_rounds(store: TrialStore, config: "config_module.SearchConfig", space: SearchSpace, search_strategy,
                runner: Executor, *, progress: bool) -> None:
    """Re-queue what an interrupted run left running, replay the finished rounds, then evaluate until full (or until
    ``max_epochs`` of training are spent: rounds are whole, so the last one may pass it).

    The last stored round is open when some of its trials are unfinished (a killed run) or when it holds fewer
    trials than the strategy proposes (``num_trials`` cut it short): it is completed before anything new is asked,
    so a search grown from 6 to 12 trials makes the same decisions as one asked for 12 at once.
    """
    name = config.name
    requeued = store.requeue_unfinished(name)
    if requeued:
        log.info("experiment %s: re-queued %d trial(s) left running by an interrupted run", name, requeued)

    rounds = [list(group) for _, group in itertools.groupby(store.trials(name), key=lambda t: t.round)]
    open_round: list[Trial] | None = None
    for position, round_trials in enumerate(rounds):
        if round_trials[0].round != search_strategy.round:
            raise RuntimeError(f"store {store.path} has round {round_trials[0].round} where round "
                               f"{search_strategy.round} was expected")
        last = position == len(rounds) - 1
        if last and (any(t.status not in FINISHED for t in round_trials)
                     or len(round_trials) < len(search_strategy.propose())
                     or (config.rungs and not rungs.climbed(round_trials, config.rungs.epochs, config.rungs.keep))):
            open_round = round_trials
        else:
            search_strategy.tell(round_trials)
    bar = _ProgressBar(name, store, config.num_trials, enabled=progress)
    seen = _Seen()
    try:
        while True:
            count = store.count(name)
            if open_round is not None:
                round_trials, open_round = open_round, None
                _check_same_proposals(search_strategy, round_trials)
                room = config.num_trials - count
                if room > 0:
                    round_trials += _store_proposals(store, name, search_strategy, count, room, config.seed,
                                                     skip=len(round_trials))
            elif count >= config.num_trials or (config.max_epochs is not None and bar.epochs >= config.max_epochs):
                break
            else:
                round_trials = _store_proposals(store, name, search_strategy, count, config.num_trials - count,
                                                config.seed)
            _evaluate_round(store, config, space, round_trials, runner, bar, seen)
            search_strategy.tell(store.trials(name, start=round_trials[0].index, stop=round_trials[-1].index + 1))
            if config.rungs:  # what nothing can promote (the round is over) or inherit from (no parent) goes
                population = getattr(search_strategy, "population", ()) if config.rungs.inherit else ()
                rungs.remove_checkpoints(config.checkpoint_folder(), {member.index for member in population})
            log.info("experiment %s: round %d finished (%d trials)", name, search_strategy.round - 1,
                     len(round_trials))
    finally:
        bar.close()


def _store_proposals(store: TrialStore, name: str, strategy, first_index: int, room: int, seed: int, *,
                     skip: int = 0) -> list[Trial]:
    """Store the strategy's proposals ``skip`` onwards, at most ``room`` of them: a batch that would pass
    ``num_trials`` is cut, and its prefix is what the same seed would propose anyway."""
    proposals = strategy.propose()[skip: skip + room]
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


def _evaluate_round(store: TrialStore, config: "config_module.SearchConfig", space: SearchSpace,
                    round_trials: list[Trial], runner: Executor, bar: "_ProgressBar",
                    seen: "_Seen") -> None:
    """Evaluate the unfinished trials of one round (at the first rung, with rungs), then promote the best through
    the higher rungs; each result is committed as soon as it arrives."""
    name = config.name
    # Genomes that build the same network on the same clips are trained once, unless children inherit their
    # parents' weights (then equal networks start from different weights).
    reuse_duplicates = config.reuse_duplicates and not (config.rungs and config.rungs.inherit)
    family = families.get(space.family)

    def network(trial: Trial) -> str:  # decode each trial's genome once per search
        key = (trial.index, trial.genome_key)
        if key not in seen.networks:
            seen.networks[key] = family.network(_stored_genome(space, trial))
        return seen.networks[key]

    earlier = seen.earlier  # the first reusable trial of each network before this round, grown round by round
    if reuse_duplicates:
        for trial in store.trials(name, status=REUSABLE, start=seen.scanned, stop=round_trials[0].index):
            earlier.setdefault(network(trial), trial)
        seen.scanned = max(seen.scanned, round_trials[0].index)
    groups: dict[str, list[Trial]] = {}
    for trial in round_trials:
        if trial.status in FINISHED:
            continue
        key = network(trial)
        if key in earlier:
            source = earlier[key]
            _finish(store, [trial], source.result(), bar, source.index, rung=source.rung)
            continue
        groups.setdefault(key if reuse_duplicates else f"{key}#{trial.index}", []).append(trial)
    group_list = largest_first(list(groups.values()), family=family, space=space, config=config)
    options = config.trial_options()
    by_index = {t.index: t for t in store.trials(name)} if config.rungs and config.rungs.inherit else {}
    jobs = [Job(_stored_genome(space, group[0]), group[0].seed, _first_options(config, options, group[0], by_index))
            for group in group_list]
    host = socket.gethostname()

    def on_start(position: int) -> None:
        for trial in group_list[position]:
            store.mark_running(name, trial.index, host)

    rung = 0 if config.rungs else None
    # Epochs trained, the search's budget: the first rung's, or the one budget of the default trial function.
    epochs = config.rungs.epochs[0] if config.rungs else (config.budget.epochs if config.evaluate.default else None)
    for position, result in runner.run(config.evaluate.function, jobs, on_start=on_start):
        group = group_list[position]
        if config.rungs:
            result.metrics = rungs.with_history(result.metrics, group[0], 0, epochs, result.fitness)
        _finish(store, group[:1], result, bar, None, rung=rung, epochs=epochs if result.status == "done" else None)
        _finish(store, group[1:], result, bar, group[0].index, rung=rung)
    if config.rungs:
        _climb(store, config, space, round_trials, runner, options, bar)


def largest_first(groups: list[list[Trial]], *, family: Any, space: SearchSpace,
                  config: "config_module.SearchConfig") -> list[list[Trial]]:
    """A round's networks in decreasing estimated FLOPs, so that the workers finish the round together rather than
    one training the largest network alone at its end while the others wait. Only dispatch changes: each result is
    stored under its own trial and the strategy hears the round in ask order. Equal estimates, families without a
    cost model and other trial functions keep ask order."""
    if len(groups) < 2 or not config.evaluate.default or family.cost is None:
        return groups
    task = config.task

    def flops(group: list[Trial]) -> int:
        try:  # num_classes only sizes the classifier head: 2 orders the networks as the dataset's count would
            estimate = family.estimate_cost(_stored_genome(space, group[0]), num_classes=2,
                                            width_multiplier=task.width_multiplier, num_frames=task.num_frames,
                                            image_size=task.image_size)
        except ValueError:  # train_candidate asks the same estimate, so the trial fails there; dispatch it last
            return -1
        return -1 if estimate is None else int(estimate["flops"])

    return sorted(groups, key=flops, reverse=True)  # stable: ties keep ask order


def _first_options(config: "config_module.SearchConfig", options: Any, trial: Trial,
                   by_index: Mapping[int, Trial]) -> Any:
    """A job's options: the configured ones, and with rungs the first rung's fidelity."""
    if not config.rungs:
        return options
    parent = by_index.get(trial.parent) if trial.parent is not None else None
    fidelity = rungs.first_fidelity(config.rungs.epochs, config.checkpoint_folder(), trial, parent,
                                    config.rungs.inherit)
    return rungs.with_fidelity(options, fidelity)


def _climb(store: TrialStore, config: "config_module.SearchConfig", space: SearchSpace, round_trials: list[Trial],
           runner: Executor, options: Any, bar: "_ProgressBar") -> None:
    """Successive halving over the round: each higher rung continues the best of the rung below from their
    checkpoints; copies of a duplicate's result follow the trial they copy."""
    name, folder, epochs = config.name, config.checkpoint_folder(), config.rungs.epochs
    indices = [t.index for t in round_trials]
    for rung in range(1, len(epochs)):
        current = {t.index: t for t in store.trials(name, start=indices[0], stop=indices[-1] + 1)}
        chosen = [t for t in rungs.promotions(current.values(), rung, config.rungs.keep) if (t.rung or 0) < rung]
        jobs = [Job(_stored_genome(space, t), t.seed,
                    rungs.with_fidelity(options, rungs.next_fidelity(epochs, folder, t, rung))) for t in chosen]
        for position, result in runner.run(config.evaluate.function, jobs):
            trial = chosen[position]
            result.metrics = rungs.with_history(result.metrics, trial, rung, epochs[rung], result.fitness)
            _finish(store, [trial], result, bar, None, rung=rung,
                    epochs=epochs[rung] if result.status == "done" else trial.epochs, counted=False)
    final = {t.index: t for t in store.trials(name, start=indices[0], stop=indices[-1] + 1)}
    for trial in final.values():
        source = final.get((trial.metrics or {}).get("reused_from"))
        if source is not None and trial.rung != source.rung:
            _finish(store, [trial], source.result(), bar, source.index, rung=source.rung, counted=False)


def _stored_genome(space: SearchSpace, trial: Trial) -> Genome:
    """The trial's genome, refused when its JSON no longer gives its stored key (a store edited by hand): a
    candidate is never evaluated under another genome's key."""
    genome = space.genome_type.from_json(trial.genome)
    if genome.key != trial.genome_key:
        raise ValueError(f"trial {trial.index} of {trial.experiment!r}: its genome JSON has key {genome.key}, the "
                         f"store says {trial.genome_key}; the store was edited: restore it or start a new store")
    return genome


def _finish(store: TrialStore, trials: list[Trial], result: TrialResult, bar: "_ProgressBar",
            reused_from: int | None, *, rung: int | None = None, epochs: int | None = None,
            counted: bool = True) -> None:
    for trial in trials:
        if reused_from is not None:
            result = dataclasses.replace(result, metrics={**result.metrics, "reused_from": reused_from})
        store.finish(trial.experiment, trial.index, result, rung=rung, epochs=epochs)
        if result.status == "failed":
            log.warning("trial %d failed: %s", trial.index, (result.error or "").splitlines()[0][:300])
        bar.update(result, counted=counted, epochs=0 if reused_from is not None or epochs is None else
                   epochs - (trial.epochs or 0))


@dataclasses.dataclass
class _Seen:
    """What one run of a search has read of its earlier rounds, so that a round does not read them all again:
    ``networks`` by ``(trial index, genome key)``, and ``earlier``, the first reusable trial of each network among
    the trials before index ``scanned`` (their rounds are finished, so they no longer change)."""

    networks: dict[tuple[int, str], str] = dataclasses.field(default_factory=dict)
    earlier: dict[str, Trial] = dataclasses.field(default_factory=dict)
    scanned: int = 0


class _ProgressBar:
    """tqdm bar over the proposals, with the best fitness, done/failed/rejected counts and the training epochs spent
    (the search's budget: rejected proposals cost none)."""

    def __init__(self, name: str, store: TrialStore, total: int, *, enabled: bool) -> None:
        trials = store.trials(name)
        finished = [t for t in trials if t.status in FINISHED]
        self.counts = {s: sum(t.status == s for t in finished) for s in FINISHED}
        self.best = max((t.fitness for t in finished if t.status == "done"), default=None)
        self.epochs = rungs.spent_epochs(trials)
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm  # deferred: only a driver with a terminal or notebook shows it

            self.bar = tqdm(total=total, initial=len(finished), desc=name, dynamic_ncols=True)
            self._postfix()

    def update(self, result: TrialResult, *, counted: bool = True, epochs: int = 0) -> None:
        """``counted``: a proposal's first result (a promotion to a higher rung is not another proposal)."""
        if counted:
            self.counts[result.status] += 1
        self.epochs += epochs
        if result.status == "done" and (self.best is None or result.fitness > self.best):
            self.best = result.fitness
        if self.bar is not None:
            self.bar.update(1 if counted else 0)
            self._postfix()

    def _postfix(self) -> None:
        best = "-" if self.best is None else f"{self.best:.4f}"
        self.bar.set_postfix_str(f"best={best} epochs={self.epochs} "
                                 + " ".join(f"{k}={v}" for k, v in self.counts.items()))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
