"""A fourth architecture family defined outside the package (a genome, a space and a tiny builder): what a contributor
writes to add a family. Nothing here registers it: the tests register ``TINY`` by hand or declare it as an entry point
(``tiny = tiny_family:TINY``). Shared by the family and training tests."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, ClassVar, Mapping

import numpy

from videonas import families
from videonas.checks import check_int, check_keys, check_type
from videonas.genome.base import Genome, SearchSpace
from videonas.search.store import TrialResult


@dataclasses.dataclass(frozen=True)
class TinyGenome(Genome):
    """One hidden layer of ``units`` on globally pooled clips."""

    units: int
    FAMILY: ClassVar[str] = "tiny"

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.FAMILY, "units": self.units}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TinyGenome":
        check_keys("tiny genome", data, ("family", "units"))
        genome = cls(data["units"])
        genome.validate()
        return genome

    def validate(self) -> None:
        check_int("units", self.units, 1, 64)


class TinySpace(SearchSpace):
    """Widths 1..``max_units``. A child moves by the parent's learned ``step`` when one is given, else by one."""

    family: ClassVar[str] = "tiny"
    genome_type: ClassVar[type[Genome]] = TinyGenome

    def __init__(self, *, max_units: int = 16) -> None:
        check_int("max_units", max_units, 2, 64)
        self.max_units = max_units
        self.contexts: list[dict[str, Any]] = []  # what mutate received, for the tests

    def sample(self, rng: numpy.random.Generator) -> TinyGenome:
        return TinyGenome(int(rng.integers(1, self.max_units + 1)))

    def mutate(self, genome: Genome, rng: numpy.random.Generator, *, num_changes: int = 1, **context: Any):
        check_type("genome", genome, TinyGenome)
        self.contexts.append(dict(context))
        step = int(context.get("step", 1)) * (1 if rng.random() < 0.5 else -1)
        units = genome.units + step
        if not 1 <= units <= self.max_units:
            units = genome.units - step
        return TinyGenome(min(max(units, 1), self.max_units))

    def to_dict(self) -> dict[str, Any]:
        return {"max_units": self.max_units}


def build_tiny(genome: TinyGenome, *, num_classes: int, multi_label: bool = False, num_frames: int, image_size: int,
               width_multiplier: float = 1.0, nan: bool = False):
    import keras

    inputs = keras.Input((num_frames, image_size, image_size, 3), name="rgb")
    x = keras.layers.GlobalAveragePooling3D()(inputs)
    x = keras.layers.Dense(genome.units, activation="relu", name="hidden")(x)
    if nan:
        x = keras.layers.Lambda(lambda t: t * float("nan"))(x)
    outputs = keras.layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs)


def learned_step(model) -> dict[str, Any]:
    """The learned-context hook: a mutation step from the trained hidden layer (any JSON would do)."""
    return {"step": 1 + int(numpy.count_nonzero(model.get_layer("hidden").get_weights()[1] > 0) % 3)}


TINY = families.Family("tiny", TinyGenome, TinySpace, builder=build_tiny, learned_context=learned_step)


def evaluate_by_name(genome: TinyGenome, *, seed: int) -> TrialResult:
    """A trial function without training that looks its family up by name, as a worker decoding a stored genome does:
    in a fresh worker process only discovery can answer."""
    family = families.get(genome.FAMILY)
    return TrialResult(fitness=genome.units / family.space().max_units, params=genome.units,
                       metrics={"pid": os.getpid(), "family": family.name, "seed": seed})
