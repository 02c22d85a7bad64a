"""Search strategies with ask/tell: random search and the evolution schedules of the three papers.

A strategy's state is a pure function of (seed, told history): round ``r`` draws from
``numpy.random.default_rng([seed, r])`` and everything else comes from the trials told so far, in order. Resume
therefore rebuilds a strategy by telling it the stored rounds again; nothing is pickled.

All schedules are one ``Evolution`` class with options (interpretations of the papers, which give no search code),
named after what they do, not after the family whose paper used them (any schedule runs on any family):
- ``regularized``: aging evolution (Real et al. 2019) with tournament selection; the oldest member leaves.
- ``mutate-best``: start with random models, then mutate the best so far (no aging): the TVN paper's schedule.
- ``guided-tournament``: aging tournament evolution whose mutations receive the parent's learned context (``guided``:
  the family's learned connection weights), AssembleNet's connection-learning-guided mutation.
- ``decaying-tournament``: aging tournament evolution whose number of changes per mutation decays with the trial
  index (large mutations early for diversity, small ones later), as EvaNet's.

``enumerate`` is no search: it proposes every genome of an enumerable space once, in index order, which is how the
tabulated benchmark (``videonas.table``) is trained through the same loop.

Stores written before the schedules were renamed name them ``tvn``, ``assemblenet`` and ``evanet``; those stores
(schema 0) still read but do not resume (``videonas.search.storefile``), so the old names need no alias.
"""

from __future__ import annotations

import abc
import dataclasses
from collections import deque
from typing import Any, ClassVar, Mapping, Sequence

import numpy

from videonas import genome as genomes
from videonas.checks import check_choice, check_int
from videonas.genome.base import Genome, SearchSpace
from videonas.search.store import Trial


@dataclasses.dataclass(frozen=True)
class Proposal:
    """A genome to evaluate and the trial index of the parent it was mutated from (``None`` if sampled)."""

    genome: Genome
    parent: int | None = None


@dataclasses.dataclass(frozen=True)
class _Member:
    index: int
    genome: Genome
    fitness: tuple[int, float]  # (rung reached, fitness there): see ``rank``
    learned: Mapping[str, Any]


def rank(trial: Trial) -> tuple[int, float]:
    """How strategies compare finished candidates: by the rung they reached in a multi-fidelity search, then by their
    fitness there. A candidate promoted further was trained longer, so its fitness is not comparable with that of
    one stopped at a lower rung; among candidates of one rung (every candidate, without rungs) fitness decides."""
    return (trial.rung or 0, float(trial.fitness))


class Strategy(abc.ABC):
    """Ask for a batch of genomes, tell their finished trials in ask order."""

    name: ClassVar[str]

    def __init__(self, space: SearchSpace, *, seed: int, batch_size: int = 8) -> None:
        check_int("seed", seed, 0, 2**63 - 1)
        check_int("batch_size", batch_size, 1, 1_000_000)
        self.space, self.seed, self.batch_size = space, seed, batch_size
        self.round = 0
        self.num_told = 0

    def rng(self) -> numpy.random.Generator:
        """The generator of the current round: depends only on the seed and how many rounds were told."""
        return numpy.random.default_rng(numpy.random.SeedSequence(self.seed, spawn_key=(0, self.round)))

    def ask(self) -> list[Genome]:
        return [proposal.genome for proposal in self.propose()]

    @abc.abstractmethod
    def propose(self) -> list[Proposal]:
        """The next batch. Calling it again before ``tell`` returns the same batch."""

    def tell(self, trials: Sequence[Trial]) -> None:
        """Finished trials of the last batch, in ask order; advances to the next round."""
        for trial in trials:
            if trial.status not in ("done", "failed", "rejected"):
                raise ValueError(f"trial {trial.index} status must be finished, got {trial.status!r}")
            self._observe(trial)
        self.num_told += len(trials)
        self.round += 1

    def _observe(self, trial: Trial) -> None:
        """Update the state with one finished trial (default: nothing to remember)."""

    def decode(self, genome_json: str) -> Genome:
        genome_type = getattr(self.space, "genome_type", None)
        if genome_type is None:
            return genomes.decode(genome_json)
        return genome_type.from_json(genome_json)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "batch_size": self.batch_size}


class RandomSearch(Strategy):
    """The baseline: every candidate is an independent sample of the space.

    With ``sample_seed`` the samples depend on it instead of the search's seed, so searches with different seeds
    propose the same genomes and differ only in their training seeds (``videonas.search.loop.trial_seed``): replicate
    trainings of one random sample, as a rank-fidelity measurement needs."""

    name = "random"

    def __init__(self, space: SearchSpace, *, seed: int, batch_size: int = 8, sample_seed: int | None = None) -> None:
        super().__init__(space, seed=seed, batch_size=batch_size)
        if sample_seed is not None:
            check_int("sample_seed", sample_seed, 0, 2**63 - 1)
        self.sample_seed = sample_seed

    def rng(self) -> numpy.random.Generator:
        seed = self.seed if self.sample_seed is None else self.sample_seed
        return numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(0, self.round)))

    def propose(self) -> list[Proposal]:
        rng = self.rng()
        return [Proposal(self.space.sample(rng)) for _ in range(self.batch_size)]

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.sample_seed is None else {"sample_seed": self.sample_seed}
        return {**super().to_dict(), **extra}


class Enumerate(Strategy):
    """Every genome of an enumerable space (``genome_at``; ``len(space)`` of them) once, in index order: how a
    tabulated benchmark is built through the search loop, so its store, executors, resume and network dedupe apply.
    The seed only sets the trials' training seeds (``videonas.search.loop.trial_seed``): experiments with different
    seeds train the same genomes, as replicates. With ``indices`` only the genomes at those indices, in that order
    (retraining a sample of a table with another seed). Asking past the last genome is a ``ValueError``."""

    name = "enumerate"

    def __init__(self, space: SearchSpace, *, seed: int, batch_size: int = 8,
                 indices: Sequence[int] | None = None) -> None:
        super().__init__(space, seed=seed, batch_size=batch_size)
        if not callable(getattr(space, "genome_at", None)) or not hasattr(space, "__len__"):
            raise ValueError(f"strategy 'enumerate' needs an enumerable space (genome_at, len), got "
                             f"{type(space).__name__}; e.g. space: {{family: tvn, options: {{table: true}}}}")
        if indices is not None:
            if isinstance(indices, (str, bytes)) or not isinstance(indices, Sequence) or not indices:
                raise ValueError(f"strategy.options.indices must be a non-empty list of genome indices, got "
                                 f"{indices!r}")
            for position, index in enumerate(indices):
                check_int(f"strategy.options.indices[{position}]", index, 0, len(space) - 1)
            if len(set(indices)) != len(indices):
                raise ValueError(f"strategy.options.indices must not repeat an index, got {list(indices)}")
        self.indices = None if indices is None else [int(index) for index in indices]

    def propose(self) -> list[Proposal]:
        order = range(len(self.space)) if self.indices is None else self.indices
        if self.num_told >= len(order):
            raise ValueError(f"strategy 'enumerate' has proposed all {len(order)} genomes it enumerates; num_trials "
                             f"must be at most {len(order)}")
        stop = min(len(order), self.num_told + self.batch_size)
        return [Proposal(self.space.genome_at(order[position])) for position in range(self.num_told, stop)]

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.indices is None else {"indices": list(self.indices)}
        return {**super().to_dict(), **extra}


class Evolution(Strategy):
    """Population-based evolution; the named schedules in ``STRATEGIES`` are presets of these options.

    ``population_size`` random samples start the search; afterwards each child mutates a parent chosen by
    ``selection`` ("tournament" among ``tournament_size`` random members, or "best": uniformly among the
    ``num_parents`` fittest). With ``aging`` the population keeps only the ``population_size`` newest finished trials.
    Failed and rejected trials never become parents. The number of changes per mutation goes linearly from
    ``num_changes_start`` to ``num_changes_end`` over the first ``decay_trials`` trials.
    """

    name = "evolution"

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int,
        batch_size: int = 8,
        population_size: int = 20,
        selection: str = "tournament",
        tournament_size: int = 5,
        num_parents: int = 1,
        aging: bool = True,
        guided: bool = False,
        num_changes_start: int = 1,
        num_changes_end: int = 1,
        decay_trials: int = 100,
    ) -> None:
        super().__init__(space, seed=seed, batch_size=batch_size)
        check_int("population_size", population_size, 1, 1_000_000)
        check_choice("selection", selection, ("tournament", "best"))
        check_int("tournament_size", tournament_size, 1, 1_000_000)
        check_int("num_parents", num_parents, 1, 1_000_000)
        check_int("num_changes_start", num_changes_start, 1, 1000)
        check_int("num_changes_end", num_changes_end, 1, 1000)
        check_int("decay_trials", decay_trials, 1, 10**9)
        self.options = dict(population_size=population_size, selection=selection, tournament_size=tournament_size,
                            num_parents=num_parents, aging=bool(aging), guided=bool(guided),
                            num_changes_start=num_changes_start, num_changes_end=num_changes_end,
                            decay_trials=decay_trials)
        self.population: deque[_Member] = deque()

    def num_changes(self, trial_index: int) -> int:
        start, end = self.options["num_changes_start"], self.options["num_changes_end"]
        progress = min(1.0, trial_index / self.options["decay_trials"])
        return max(1, int(round(start + (end - start) * progress)))

    def _select(self, rng: numpy.random.Generator) -> _Member:
        members = list(self.population)
        if self.options["selection"] == "tournament":
            size = min(self.options["tournament_size"], len(members))
            picks = rng.choice(len(members), size=size, replace=False)
            return max((members[i] for i in sorted(picks)), key=lambda m: (m.fitness, -m.index))
        ranked = sorted(members, key=lambda m: (-m.fitness[0], -m.fitness[1], m.index))[: self.options["num_parents"]]
        return ranked[int(rng.integers(len(ranked)))]

    def propose(self) -> list[Proposal]:
        rng = self.rng()
        proposals = []
        for offset in range(self.batch_size):
            trial_index = self.num_told + offset
            if trial_index < self.options["population_size"] or not self.population:
                proposals.append(Proposal(self.space.sample(rng)))
                continue
            parent = self._select(rng)
            context = parent.learned if self.options["guided"] else {}
            child = self.space.mutate(parent.genome, rng, num_changes=self.num_changes(trial_index), **context)
            proposals.append(Proposal(child, parent.index))
        return proposals

    def _observe(self, trial: Trial) -> None:
        if trial.status != "done":
            return
        self.population.append(_Member(trial.index, self.decode(trial.genome), rank(trial), trial.learned))
        if self.options["aging"]:
            while len(self.population) > self.options["population_size"]:
                self.population.popleft()

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.options}


# name -> (class, preset options); explicit options given to ``make_strategy`` override a preset.
STRATEGIES: dict[str, tuple[type[Strategy], dict[str, Any]]] = {
    "random": (RandomSearch, {}),
    "enumerate": (Enumerate, {}),
    "regularized": (Evolution, dict(selection="tournament", aging=True)),
    "mutate-best": (Evolution, dict(selection="best", num_parents=1, aging=False)),
    "guided-tournament": (Evolution, dict(selection="tournament", aging=True, guided=True)),
    "decaying-tournament": (Evolution, dict(selection="tournament", aging=True, num_changes_start=3,
                                            num_changes_end=1, decay_trials=100)),
}


def make_strategy(name: str, space: SearchSpace, *, seed: int, batch_size: int = 8, **options: Any) -> Strategy:
    """A named strategy of ``STRATEGIES`` with option overrides."""
    check_choice("strategy", name, list(STRATEGIES))
    cls, preset = STRATEGIES[name]
    strategy = cls(space, seed=seed, batch_size=batch_size, **{**preset, **options})
    strategy.name = name
    return strategy
