"""The family registry: everything the rest of the package needs to know about one architecture family.

A family is a genome module, a model module and one ``Family`` record, made known by one ``register`` line or by an
entry point of the ``videonas.families`` group in any installed distribution. Nothing else in the package switches on
a family's name: the search loop, the training recipe, the named-model registry, the published presets, the plots and
the reports ask the ``Family`` record. Builders and hooks are named by dotted path and imported on first use, so a
genome-only process (the search driver, reports) never imports Keras.

Discovery is lazy and per process: a lookup of a name nobody registered loads the package's own families and every
entry point of the group (again at each such miss, so a path added later, as a Ray runtime environment does, is seen).
A subprocess or Ray worker therefore finds a family that an installed distribution declares without being told about
it; a family registered by hand (a notebook) exists only in the process that registered it.

Stores are data: a stored experiment names its family, and only registered families can be opened (see
``videonas.search.loop.space_from_config``); no module or class named inside a store is ever imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
from typing import Any, Callable, Mapping

from videonas.checks import check_choice, check_float, quote
from videonas.genome import assemblenet, evanet, tvn
from videonas.genome.base import Genome, SearchSpace

ENTRY_POINT_GROUP = "videonas.families"


def resolve(path: str | Callable[..., Any]) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function (a callable is returned as is).

    The one resolver of dotted paths: family builders and hooks, trial functions and executors.
    """
    if callable(path):
        return path
    module_name, _, attribute = str(path).partition(":")
    if not module_name or not attribute:
        raise ValueError(f"function must be 'module:function', got {quote(path)}")
    return getattr(importlib.import_module(module_name), attribute)


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
    - ``presets``: registry name -> (published spec name, (num_frames, image_size) or ``None`` for genome input);
      the released specs sit under the family's name in ``videonas/resources/published_architectures.json``.
    - ``learned_context``: optional function (or ``"module:function"``), ``function(model) -> dict`` of plain JSON:
      what a trained model teaches its children's mutation; it reaches ``space.mutate(parent, rng, **context)``
      (AssembleNet's learned connection weights).
    - ``cost``: optional function (or ``"module:function"``), ``function(genome, *, num_classes, width_multiplier,
      batch_size)`` (plus ``num_frames``, ``image_size`` where the task sets the input) ``-> {"params", "flops",
      "train_memory_bytes"}``: what the built model counts (``videonas.measure``) and what training it at
      ``batch_size`` keeps in memory (``videonas.models.cost``), from the genome alone. A search rejects a candidate
      that breaks P, a FLOP cap or the training-memory ceiling with it before anything is built (valid genomes range
      over 10^4-10^10 parameters); a family without one is built first and held to the ceiling after.
    - ``cost_tolerance``: how far (relative) ``cost``'s params and FLOPs may be from the built model's counts; 0.0:
      exact. A search rejects before building only where the estimate passes a limit by more than this (the exact
      check on the built model still applies).
    - ``released_classes``: the class count the authors' released demos give the published presets (the head of
      ``videonas.experiments.published``'s preset table).
    - ``interpretations``: where our builder of the published presets departs from the released code, one line.
    - ``colour``: the family's matplotlib colour in the report figures (``None``: a free one is picked).
    - ``network_key``: optional function (or ``"module:function"``), ``function(genome) -> str``, equal for genomes
      that build the same network on the same clips (TVN: a temporal kernel at one frame is no layer): a search
      trains such genomes once. Without one, a genome's ``key``.
    """

    name: str
    genome_type: type[Genome]
    space_type: type[SearchSpace]
    builder: str | Callable[..., Any] | None = None
    genome_input: bool = False
    presets: Mapping[str, tuple[str, tuple[int, int] | None]] = dataclasses.field(default_factory=dict)
    learned_context: str | Callable[..., Any] | None = None
    cost: str | Callable[..., Any] | None = None
    cost_tolerance: float = 0.0
    released_classes: int = 400
    interpretations: str = ""
    colour: str | None = None
    network_key: str | Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        check_float(f"family {self.name!r} cost_tolerance", self.cost_tolerance, 0.0, 1.0)

    def space(self, **options: Any) -> SearchSpace:
        return self.space_type(**options)

    def network(self, genome: Genome) -> str:
        """The identity of the network ``genome`` builds and the clips it eats (see ``network_key``)."""
        return genome.key if self.network_key is None else str(resolve(self.network_key)(genome))

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
        return resolve(self.builder)(genome, num_classes=num_classes, multi_label=multi_label, **kwargs)

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

    def estimate_cost(self, genome: Genome, *, num_classes: int, width_multiplier: float = 1.0,
                      num_frames: int | None = None, image_size: int | None = None, batch_size: int = 1
                      ) -> dict[str, int] | None:
        """``{"params", "flops", "train_memory_bytes"}`` of ``genome`` trained at ``batch_size`` clips from the genome
        alone, or ``None`` where the family has no ``cost`` function. ``num_frames``/``image_size`` are used only
        where the task sets the input (as in ``build``)."""
        if self.cost is None:
            return None
        kwargs: dict[str, Any] = {"num_classes": num_classes, "width_multiplier": width_multiplier,
                                  "batch_size": batch_size}
        if not self.genome_input:
            if num_frames is None or image_size is None:
                raise ValueError(f"family {self.name!r} needs num_frames and image_size, got {num_frames!r} and "
                                 f"{image_size!r}")
            kwargs.update(num_frames=num_frames, image_size=image_size)
        return dict(resolve(self.cost)(genome, **kwargs))

    def context(self, model) -> dict[str, Any]:
        """What ``model`` (trained) teaches its children's mutation; ``{}`` for families that learn nothing."""
        return {} if self.learned_context is None else dict(resolve(self.learned_context)(model))


# name -> Family, registered by hand or by discovery (``registered()`` discovers first).
FAMILIES: dict[str, Family] = {}

# Interpretation: EvaNet and AssembleNet were trained on 224 px crops; 32 frames is our choice of a common clip length,
# not a paper figure (the released AssembleNet run script feeds 64 frames at 256 px).
_TASK_INPUT = (32, 224)

# The package's own families. The released demos' class counts: TVN `run_tvn.py` (Charades, 157), EvaNet
# `run_evanet.py` (Kinetics, 400); AssembleNet's config sets it per dataset, 400 here.
TVN = Family(
    "tvn", tvn.TVNGenome, tvn.TVNSpace, builder="videonas.models.tvn:build_tvn", genome_input=True,
    cost="videonas.models.tvn:tvn_cost", presets={f"tvn-{i}": (f"TVN-{i}", None) for i in range(1, 5)},
    released_classes=157, colour="tab:green", network_key="videonas.genome.tvn_genome:network_key",
    interpretations="kernels clipped to the map (same function); non-local unused by these genomes")
ASSEMBLENET = Family(
    "assemblenet", assemblenet.AssembleNetGenome, assemblenet.AssembleNetSpace,
    builder="videonas.models.assemblenet:build_assemblenet", cost="videonas.models.assemblenet:assemblenet_cost",
    presets={"assemblenet-50": ("AssembleNet-50", _TASK_INPUT), "assemblenet-101": ("AssembleNet-101", _TASK_INPUT)},
    learned_context="videonas.models.assemblenet:learned_context", released_classes=400, colour="tab:purple",
    network_key="videonas.genome.assemblenet_genome:network_key",
    interpretations="flow is an input (the release computes it in the model); connection weights learned unless "
    "edge_weights='released'; a one-block node's block is temporal (depths the release lacks)")
EVANET = Family(
    "evanet", evanet.EvaNetGenome, evanet.EvaNetSpace, builder="videonas.models.evanet:build_evanet",
    cost="videonas.models.evanet:evanet_cost",
    presets={"evanet-a": ("EvaNet-A", _TASK_INPUT), "evanet-b": ("EvaNet-B", _TASK_INPUT)},
    released_classes=400, colour="tab:orange",
    interpretations="RGB twin; 32x224 clip (released demo feeds a 79-frame I3D sample); (2+1)D mid BN trains normally")

# The package's own entry points, the same table as ``[project.entry-points."videonas.families"]`` in pyproject.toml:
# loaded through the same path as any distribution's, and read from here too so that a checkout whose installed
# metadata predates them (an editable install not reinstalled, a PYTHONPATH worktree) still has them. "toy" is the
# search-only family of fixed-length strings that the tests and search benchmarks use.
BUILTIN_ENTRY_POINTS = {
    "tvn": "videonas.families:TVN",
    "assemblenet": "videonas.families:ASSEMBLENET",
    "evanet": "videonas.families:EVANET",
    "toy": "videonas.search.synthetic:TOY",
}

_discovery: dict[str, Any] = {"done": False, "failures": {}}


def register(family: Family) -> Family:
    """Add (or replace) a family in this process; returns it. Other processes (subprocess or Ray workers) do not see
    it: a family they must find is declared as an entry point of ``ENTRY_POINT_GROUP`` instead."""
    if not isinstance(family, Family):
        raise ValueError(f"family must be a videonas.families.Family, got {type(family).__name__}")
    if getattr(family.space_type, "family", family.name) != family.name:
        raise ValueError(f"family {family.name!r} has a space whose family is {family.space_type.family!r}")
    FAMILIES[family.name] = family
    return family


def entry_points() -> list[importlib.metadata.EntryPoint]:
    """The entry points discovery loads: the package's own, then those of every installed distribution (a
    distribution declaring one of the package's own again is loaded once)."""
    own = [importlib.metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in
           BUILTIN_ENTRY_POINTS.items()]
    seen = {(point.name, point.value) for point in own}
    installed = [point for point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
                 if (point.name, point.value) not in seen]
    return own + list({(point.name, point.value): point for point in installed}.values())


def discover(*, again: bool = False) -> None:
    """Load every family of ``entry_points()``, once per process unless ``again`` (``get`` looks again for a name it
    does not know). A family already registered keeps its name. An entry point names a ``Family``, a function
    returning one, or a module (or function) that calls ``register``; one that fails to load is remembered and named
    when its family is asked for, so a broken plugin costs only its own family."""
    if _discovery["done"] and not again:
        return
    _discovery.update(done=True, failures={})
    for point in entry_points():
        try:
            _load(point)
        except Exception as error:  # noqa: BLE001 - any plugin error becomes a message, other families still load
            _discovery["failures"][point.name] = f"{point.name} = {point.value}: {type(error).__name__}: {error}"


def _load(point: importlib.metadata.EntryPoint) -> None:
    loaded = point.load()
    if callable(loaded) and not isinstance(loaded, (Family, type)):
        loaded = loaded()
    if isinstance(loaded, Family):
        if loaded.name != point.name:
            raise ValueError(f"entry point {point.name!r} must name a family called {point.name!r}, got "
                             f"{loaded.name!r}")
        if loaded.name not in FAMILIES:
            register(loaded)
    if point.name not in FAMILIES:
        raise ValueError(f"entry point {point.name!r} registered no family named {point.name!r}")


def registered() -> Mapping[str, Family]:
    """Every family: those registered in this process and, after discovery, those of the entry points."""
    discover()
    return FAMILIES


def get(name: str) -> Family:
    """The family called ``name``; a name not registered yet triggers discovery first."""
    if not (isinstance(name, str) and name in FAMILIES):
        discover(again=True)
    if isinstance(name, str) and name in _discovery["failures"] and name not in FAMILIES:
        raise ValueError(f"family {name!r} failed to load from its entry point {_discovery['failures'][name]}")
    check_choice("family", name, sorted(FAMILIES))
    return FAMILIES[name]


def of(item: Genome | str) -> Family:
    """The family of a genome (by its ``FAMILY`` name) or of a published preset, named by its registry or display
    name (``"tvn-1"`` or ``"TVN-1"``, case-insensitive)."""
    if isinstance(item, str):
        key = item.lower()
        for family in registered().values():
            if any(key in (preset.lower(), spec.lower()) for preset, (spec, _) in family.presets.items()):
                return family
        names = [spec for family in FAMILIES.values() for spec, _ in family.presets.values()]
        raise ValueError(f"name must be a published preset {names}, got {quote(item)}")
    family = get(getattr(item, "FAMILY", None))
    if not isinstance(item, family.genome_type):
        raise ValueError(f"genome must be a {family.genome_type.__name__}, got {type(item).__name__}")
    return family


def decode(data: Mapping[str, Any]) -> Genome:
    """A genome from its dictionary; the ``family`` field picks the registered genome class."""
    if not isinstance(data, Mapping):
        raise ValueError(f"genome must be a mapping, got {type(data).__name__}")
    return get(data.get("family")).genome_type.from_dict(data)


__all__ = ["ASSEMBLENET", "BUILTIN_ENTRY_POINTS", "ENTRY_POINT_GROUP", "EVANET", "FAMILIES", "TVN", "Family",
           "decode", "discover", "entry_points", "get", "of", "register", "registered", "resolve"]
