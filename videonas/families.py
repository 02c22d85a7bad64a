"""The family registry: everything the rest of the package needs to know about one architecture family.

A family is a genome module, a model module and one ``register`` line below. Nothing else in the package switches on a
family's name: the search loop, the training recipe, the named-model registry and the reports ask the ``Family``
record. Builders and hooks are named by dotted path and imported on first use, so a genome-only process (the search
driver, reports) never imports Keras.

Stores are data: a stored experiment names its family, and only registered families can be opened (see
``videonas.search.loop.space_from_config``); no module or class named inside a store is ever imported.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping

from videonas.checks import check_choice
from videonas.genome.base import Genome, SearchSpace


@dataclasses.dataclass(frozen=True)
class Family:
    """One architecture family.

    - ``genome_type`` / ``space_type``: what an architecture is and how it is sampled and mutated.
    - ``builder``: a function, or its ``"module:function"`` path (imported on first use), called as
      ``builder(genome, *, num_classes, multi_label, width_multiplier, ...)``; it returns a ``keras.Model`` whose
      output is named ``logits`` and whose inputs are named after their streams (``rgb``, ``flow``).
    - ``genome_input``: the input policy. True when the genome carries its own input in fields ``num_frames``,
      ``image_size`` and ``frame_stride`` (TVN searches them); False when the training task sets it, in which case the
      builder also takes ``num_frames`` and ``image_size``.
    - ``presets``: registry name -> (published spec name, (num_frames, image_size) or ``None`` for genome input).
    - ``learned_context``: optional function (or ``"module:function"``), ``function(model) -> dict`` of plain JSON:
      what a trained model teaches its children's mutation; it reaches ``space.mutate(parent, rng, **context)``
      (AssembleNet's learned connection weights).
    - ``cost``: optional function (or ``"module:function"``), ``function(genome, *, num_classes, width_multiplier)
      -> {"params", "flops"}`` equal to what the built model counts: lets a search reject a candidate that breaks P
      or a FLOP cap before anything is built (TVN's genomes range over 10^4-10^9 parameters).
    """

    name: str
    genome_type: type[Genome]
    space_type: type[SearchSpace]
    builder: str | Callable[..., Any] | None = None
    genome_input: bool = False
    presets: Mapping[str, tuple[str, tuple[int, int] | None]] = dataclasses.field(default_factory=dict)
    learned_context: str | Callable[..., Any] | None = None
    cost: str | Callable[..., Any] | None = None

    def space(self, **options: Any) -> SearchSpace:
        return self.space_type(**options)

    def build(self, genome: Genome, *, num_classes: int, multi_label: bool = False, num_frames: int | None = None,
              image_size: int | None = None, **kwargs: Any):
        """The keras.Model of ``genome``; ``num_frames``/``image_size`` are used only where the task sets the input."""
        if self.builder is None:
            raise ValueError(f"family {self.name!r} has no model builder (a search-only family)")
        if not self.genome_input:
            if num_frames is None or image_size is None:
                raise ValueError(f"family {self.name!r} needs num_frames and image_size, got {num_frames!r} and "
                                 f"{image_size!r}")
            kwargs.update(num_frames=num_frames, image_size=image_size)
        return _resolve(self.builder)(genome, num_classes=num_classes, multi_label=multi_label, **kwargs)

    def clip_input(self, genome: Genome, *, num_frames: int, image_size: int,
                   frame_stride: int) -> tuple[int, int, int]:
        """``(num_frames, image_size, frame_stride)`` of the clips ``genome``'s model eats under a task's input."""
        if self.genome_input:
            return genome.num_frames, genome.image_size, genome.frame_stride
        return num_frames, image_size, frame_stride

    def with_input(self, genome: Genome, *, num_frames: int, image_size: int) -> Genome:
        """``genome`` at another input: a copy with those fields where the genome carries its input (the same blocks
        on another clip), else ``genome`` itself (the task sets the input)."""
        if not self.genome_input:
            return genome
        return dataclasses.replace(genome, num_frames=num_frames, image_size=image_size)

    def estimate_cost(self, genome: Genome, *, num_classes: int, width_multiplier: float = 1.0
                      ) -> dict[str, int] | None:
        """``{"params", "flops"}`` from the genome alone, or ``None`` where the family has no ``cost`` function."""
        if self.cost is None:
            return None
        return dict(_resolve(self.cost)(genome, num_classes=num_classes, width_multiplier=width_multiplier))

    def context(self, model) -> dict[str, Any]:
        """What ``model`` (trained) teaches its children's mutation; ``{}`` for families that learn nothing."""
        return {} if self.learned_context is None else dict(_resolve(self.learned_context)(model))


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add (or replace) a family; returns it. Registration is per process: a subprocess or Ray worker sees the
    families of the modules it imports, so a family defined in a notebook or test needs the in-process executor."""
    if not isinstance(family, Family):
        raise ValueError(f"family must be a videonas.families.Family, got {type(family).__name__}")
    if getattr(family.space_type, "family", family.name) != family.name:
        raise ValueError(f"family {family.name!r} has a space whose family is {family.space_type.family!r}")
    FAMILIES[family.name] = family
    return family


def get(name: str) -> Family:
    check_choice("family", name, sorted(FAMILIES))
    return FAMILIES[name]


def of(genome: Genome) -> Family:
    """The family of a genome (by its ``FAMILY`` name)."""
    family = get(getattr(genome, "FAMILY", None))
    if not isinstance(genome, family.genome_type):
        raise ValueError(f"genome must be a {family.genome_type.__name__}, got {type(genome).__name__}")
    return family


def decode(data: Mapping[str, Any]) -> Genome:
    """A genome from its dictionary; the ``family`` field picks the registered genome class."""
    if not isinstance(data, Mapping):
        raise ValueError(f"genome must be a mapping, got {type(data).__name__}")
    return get(data.get("family")).genome_type.from_dict(data)


def _resolve(path: str | Callable[..., Any]) -> Callable[..., Any]:
    if callable(path):
        return path
    module, _, function = path.partition(":")
    return getattr(importlib.import_module(module), function)


def _register_builtin() -> None:
    from videonas.genome import assemblenet, evanet, tvn

    # Interpretation: EvaNet and AssembleNet were trained on 224 px crops; 32 frames is our choice of a common clip
    # length, not a paper figure (the released AssembleNet run script feeds 64 frames at 256 px).
    task_input = (32, 224)
    register(Family(
        "tvn", tvn.TVNGenome, tvn.TVNSpace, builder="videonas.models.tvn:build_tvn",
        genome_input=True, cost="videonas.models.tvn:tvn_cost",
        presets={f"tvn-{i}": (f"TVN-{i}", None) for i in range(1, 5)}))

    register(Family(
        "assemblenet", assemblenet.AssembleNetGenome, assemblenet.AssembleNetSpace,
        builder="videonas.models.assemblenet:build_assemblenet",
        presets={"assemblenet-50": ("AssembleNet-50", task_input), "assemblenet-101": ("AssembleNet-101", task_input)},
        learned_context="videonas.models.assemblenet:learned_context"))
    register(Family(
        "evanet", evanet.EvaNetGenome, evanet.EvaNetSpace, builder="videonas.models.evanet:build_evanet",
        presets={"evanet-a": ("EvaNet-A", task_input), "evanet-b": ("EvaNet-B", task_input)}))
    # A search-only family of fixed-length strings with a known optimum, for tests and the search benchmarks; its
    # module registers it (importing it here lets a CLI or worker process open toy stores too).
    importlib.import_module("videonas.search.synthetic")


_register_builtin()

__all__ = ["FAMILIES", "Family", "decode", "get", "of", "register"]
