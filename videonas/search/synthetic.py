"""A toy genome, space and fitness: tests and benchmarks of the search machinery without any training.

The fitness is the share of positions that match a hidden target, so the optimum (1.0) is known and reachable by
mutation but practically never by random sampling (``choices ** -length``). The evaluate function can inject each
failure the search must survive (exception, NaN, hang, MemoryError, dying worker) and a per-candidate delay, so
executors, timeouts and resume are exercised through exactly the code path real training uses.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy

from videonas import families
from videonas.checks import check_int, check_keys, check_type
from videonas.genome.base import Genome, SearchSpace, edge_weights_from
from videonas.search.store import TrialResult

FAILURE_MODES = ("raise", "nan", "hang", "memory", "exit")


@dataclasses.dataclass(frozen=True)
class ToyGenome(Genome):
    """``values[i]`` is the choice made at position ``i``."""

    FAMILY: ClassVar[str] = "toy"
    values: tuple[int, ...]
    choices: int = 4

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        check_int("choices", self.choices, 2, 1000)
        check_type("values", self.values, tuple)
        for position, value in enumerate(self.values):
            check_int(f"values[{position}]", value, 0, self.choices - 1)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.FAMILY, "values": list(self.values), "choices": self.choices}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ToyGenome":
        check_keys("toy genome", data, ("family", "values", "choices"))
        return cls(values=tuple(data["values"]), choices=data["choices"])


class ToySpace(SearchSpace):
    """Strings of ``length`` positions with ``choices`` values each; the target is drawn from ``target_seed``.

    ``mutate`` changes ``num_changes`` distinct positions. With ``edge_weights`` (position ``i`` is edge ``(i, i+1)``,
    a high weight meaning "this connection is useful") it prefers to change low-weight positions: the analogue of
    AssembleNet pruning weak connections.
    """

    family: ClassVar[str] = "toy"
    genome_type: ClassVar[type[Genome]] = ToyGenome

    def __init__(self, *, length: int = 12, choices: int = 4, target_seed: int = 0) -> None:
        check_int("length", length, 1, 10_000)
        check_int("choices", choices, 2, 1000)
        check_int("target_seed", target_seed, 0, 2**63 - 1)
        self.length, self.choices, self.target_seed = length, choices, target_seed
        target_rng = numpy.random.default_rng(numpy.random.SeedSequence(target_seed, spawn_key=(2,)))
        self.target = tuple(int(v) for v in target_rng.integers(choices, size=length))

    def sample(self, rng: numpy.random.Generator) -> ToyGenome:
        return ToyGenome(tuple(int(v) for v in rng.integers(self.choices, size=self.length)), self.choices)

    def mutate(self, genome: Genome, rng: numpy.random.Generator, *, num_changes: int = 1,
               **context: Any) -> ToyGenome:
        if not isinstance(genome, ToyGenome):
            raise ValueError(f"genome must be a ToyGenome, got {type(genome).__name__}")
        edge_weights = edge_weights_from(context.get("edge_weights"))
        count = min(num_changes, self.length)
        probabilities = None
        if edge_weights:
            weakness = numpy.array([1.0 - edge_weights.get((i, i + 1), 0.5) + 0.05 for i in range(self.length)])
            probabilities = weakness / weakness.sum()
        positions = rng.choice(self.length, size=count, replace=False, p=probabilities)
        values = list(genome.values)
        for position in sorted(int(p) for p in positions):
            # Shift by 1..choices-1 so each change really changes the value (mutate never returns its parent).
            values[position] = (values[position] + int(rng.integers(1, self.choices))) % self.choices
        return ToyGenome(tuple(values), self.choices)

    def fitness(self, genome: ToyGenome) -> float:
        return sum(a == b for a, b in zip(genome.values, self.target)) / self.length

    def to_dict(self) -> dict[str, Any]:
        return {"length": self.length, "choices": self.choices, "target_seed": self.target_seed}


def evaluate(
    genome: ToyGenome,
    *,
    seed: int,
    target_seed: int = 0,
    delay_s: float = 0.0,
    jitter_s: float = 0.0,
    failures: Mapping[str, str] | None = None,
    max_params: int | None = None,
    fidelity: Any = None,
) -> TrialResult:
    """The synthetic trial function (dotted path ``videonas.search.synthetic:evaluate``).

    ``failures`` maps the value at position 0 (as a string, JSON keys) to a failure mode in ``FAILURE_MODES``.
    ``jitter_s`` adds a delay that depends on the genome, so candidates finish out of ask order. ``params`` is
    ``1000 * (1 + sum(values))``; ``max_params`` rejects candidates like a real constraint would.

    With a ``fidelity`` (``videonas.task.Fidelity``, from a multi-fidelity search) the candidate "trains" to
    ``fidelity.epochs``: its fitness rises with the epochs and carries a seeded wobble that shrinks as they grow (a
    low rung ranks candidates roughly, the top one well), and its checkpoint is a small JSON file that a later rung
    must find (``resume_from``) and that records the epochs, so continuing from the wrong one fails.
    """
    space = ToySpace(length=len(genome.values), choices=genome.choices, target_seed=target_seed)
    params = 1000 * (1 + sum(genome.values))
    if max_params is not None and params > max_params:
        return TrialResult(status="rejected", params=params, error=f"params {params} > limit {max_params}",
                           rejected_by="max_params")
    mode = (failures or {}).get(str(genome.values[0]))
    if mode is not None and mode not in FAILURE_MODES:
        raise ValueError(f"failures values must be in {list(FAILURE_MODES)}, got {mode!r}")
    if mode == "raise":
        raise RuntimeError(f"synthetic failure for genome {genome.key}")
    if mode == "memory":
        raise MemoryError("synthetic out-of-memory")
    if mode == "exit":
        os._exit(3)
    if mode == "hang":
        time.sleep(3600)
    time.sleep(delay_s + jitter_s * (int(genome.key, 16) % 997) / 997)
    fitness = float("nan") if mode == "nan" else space.fitness(genome)
    extra: dict[str, Any] = {}
    if fidelity is not None:
        fitness, extra = _train_to(fidelity, genome, seed, fitness)
    matches = [a == b for a, b in zip(genome.values, space.target)]
    edge_weights = [[i, i + 1, 0.9 if match else 0.1] for i, match in enumerate(matches)]
    return TrialResult(fitness=fitness, params=params, metrics={"accuracy": fitness, "seed": seed, **extra},
                       learned={"edge_weights": edge_weights})


def _train_to(fidelity: Any, genome: ToyGenome, seed: int, fitness: float) -> tuple[float, dict[str, Any]]:
    """The synthetic fitness after ``fidelity.epochs``, continuing the checkpoint it names, and its new checkpoint."""
    if fidelity.resume_from is not None:
        state = json.loads(Path(fidelity.resume_from).read_text())  # a missing checkpoint fails the trial
        if state != {"key": genome.key, "epochs": fidelity.start_epochs}:
            raise ValueError(f"checkpoint {fidelity.resume_from} holds {state}, not {genome.key} at "
                             f"{fidelity.start_epochs} epochs")
    wobble = (int(genome.key, 16) + seed) % 101 / 100 - 0.5
    trained = fitness * fidelity.epochs / (fidelity.epochs + 1) + 0.3 * wobble / fidelity.epochs
    extra: dict[str, Any] = {"epochs_trained": fidelity.epochs}
    if fidelity.save_to is not None:
        Path(fidelity.save_to).parent.mkdir(parents=True, exist_ok=True)
        Path(fidelity.save_to).write_text(json.dumps({"key": genome.key, "epochs": fidelity.epochs}))
        extra["checkpoint"] = fidelity.save_to
    return trained, extra


# A search-only family (no model builder), found through the package's entry point ``toy`` (videonas.families).
TOY = families.Family("toy", ToyGenome, ToySpace)
