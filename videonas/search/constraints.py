"""Resource constraints checked *before* training (TVN: |theta| < P and R(N) < R), and before building where they can.

Constraints are a list of filters, each with the ``name`` a rejected trial records as ``rejected_by``. The trial
function first checks the family's estimate from the genome (``videonas.families.Family.estimate_cost``: parameters,
FLOPs, training memory), so a candidate too big for a limit is rejected before a weight is allocated; then, on the
built model, figures are measured cheapest first (parameters, then FLOPs, then latency), each only once and only while
every filter so far holds, so a candidate that is too big never pays for a latency measurement, and one that breaks any
limit costs no training at all: it is stored as *rejected* with the figure that broke the limit.

Training memory (``MaxTrainMemory``) is an estimate only (weights, gradients, Adam's slots and activations at the
training batch size; ``videonas.models.cost`` says what is counted), and it always applies: a configuration that sets
no ``max_train_memory_mib`` runs under ``DEFAULT_MAX_TRAIN_MEMORY_MIB``, so an unconstrained search never builds a
candidate that would exhaust the machine, and ``Constraints.to_dict`` (what a store keeps) names the ceiling it ran
under.

Latency on a deploy runtime (ONNX Runtime, LiteRT) needs the model converted, which is ``videonas.deploy``'s work, a
layer above the search: this module never imports it. ``check`` times Keras itself (``videonas.measure``) and takes
the function that times on a runtime from its caller (``videonas.train`` passes
``videonas.deploy.runtimes.measure_latency``); the runtime names it validates come from the leaf ``videonas.runtimes``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, ClassVar, Mapping

from videonas import runtimes
from videonas.checks import check_float, check_int, check_keys

FIGURES = ("params", "flops", "latency_ms")  # measured on a built model, cheapest first
# Every figure a filter may limit, in checking order: the estimated training memory after the counts the user limits.
LIMITED_FIGURES = ("params", "flops", "train_memory_bytes", "latency_ms")
MIB = 2**20
# The training-memory ceiling of a search whose configuration sets none: far above any candidate of the default
# spaces on the smoke and default data (tens of MiB at batch 16), far below what kills a 16 GiB machine or GPU.
DEFAULT_MAX_TRAIN_MEMORY_MIB = 4096
# How a latency figure was measured: recorded beside it in a trial's metrics ("latency").
LATENCY_SETUP = ("runtime", "threads", "batch_size", "warmup", "runs", "cv", "backend", "device")


@dataclasses.dataclass(frozen=True)
class _CountLimit:
    limit: int
    name: ClassVar[str]
    figure: ClassVar[str]

    def __post_init__(self) -> None:
        check_int(self.name, self.limit, 1, 10**18)


@dataclasses.dataclass(frozen=True)
class MaxParams(_CountLimit):
    """Trainable parameters at most ``limit`` (the TVN paper's P)."""

    name: ClassVar[str] = "max_params"
    figure: ClassVar[str] = "params"


@dataclasses.dataclass(frozen=True)
class MaxFlops(_CountLimit):
    """FLOPs (multiply-adds, as in the papers) of one clip at most ``limit``."""

    name: ClassVar[str] = "max_flops"
    figure: ClassVar[str] = "flops"


@dataclasses.dataclass(frozen=True)
class MaxLatency:
    """Median batch-1 latency on this machine at most ``limit`` ms, over ``runs`` timed runs (the TVN paper's R), on
    ``runtime``: ``keras`` (``predict_on_batch``), ``onnxruntime`` or ``litert`` (the model converted first, as it
    would ship: ``Constraints.check`` needs the ``time_latency`` that converts, ``videonas.deploy.runtimes``)."""

    limit: float
    runs: int = 20
    warmup: int = 3
    runtime: str = "keras"
    name: ClassVar[str] = "max_latency_ms"
    figure: ClassVar[str] = "latency_ms"

    def __post_init__(self) -> None:
        check_float(self.name, self.limit, 1e-6, 1e9)
        check_int("latency_runs", self.runs, 1, 10_000)
        check_int("latency_warmup", self.warmup, 0, 10_000)
        runtimes.check_installed("latency_runtime", self.runtime)


@dataclasses.dataclass(frozen=True)
class MaxTrainMemory:
    """Estimated training memory at most ``limit`` MiB: weights, gradients, Adam's two slots and the activations kept
    for the backward pass at the task's batch size (``videonas.models.cost``), from the genome before anything is
    built. Config key ``max_train_memory_mib``; ``DEFAULT_MAX_TRAIN_MEMORY_MIB`` where a configuration sets none."""

    limit: float = DEFAULT_MAX_TRAIN_MEMORY_MIB
    name: ClassVar[str] = "max_train_memory_mib"
    figure: ClassVar[str] = "train_memory_bytes"

    def __post_init__(self) -> None:
        check_float(self.name, self.limit, 1e-3, 1e12)


# How latency is measured when no limit says otherwise (``TrainTask.measure_latency``): MaxLatency's own defaults.
LATENCY_DEFAULTS = {field.name: field.default for field in dataclasses.fields(MaxLatency) if field.name != "limit"}

Filter = MaxParams | MaxFlops | MaxTrainMemory | MaxLatency


@dataclasses.dataclass(frozen=True)
class Rejection:
    """Which filter rejected a candidate, and the figure against its limit (for people)."""

    rejected_by: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Constraints:
    """The filters a candidate must pass. ``Constraints.from_dict`` reads the config form (``max_params``,
    ``max_flops``, ``max_train_memory_mib``, ``max_latency_ms``, ``latency_runs``, ``latency_warmup``,
    ``latency_runtime``). Filters without a ``MaxTrainMemory`` get the default one: every search has a ceiling."""

    filters: tuple[Filter, ...] = ()

    def __post_init__(self) -> None:
        filters = tuple(self.filters)
        for index, item in enumerate(filters):
            if not isinstance(item, (MaxParams, MaxFlops, MaxTrainMemory, MaxLatency)):
                raise ValueError(f"constraints.filters[{index}] must be MaxParams, MaxFlops, MaxTrainMemory or "
                                 f"MaxLatency, got {type(item).__name__}")
        names = [item.name for item in filters]
        if len(set(names)) != len(names):
            raise ValueError(f"constraints.filters name a limit twice: {names}")
        if MaxTrainMemory.name not in names:
            filters += (MaxTrainMemory(),)
        object.__setattr__(self, "filters", tuple(sorted(filters, key=lambda f: LIMITED_FIGURES.index(f.figure))))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "constraints") -> "Constraints":
        """From the config form; ``path`` is where it sits in a configuration (``search.constraints``)."""
        data = {} if data is None else data
        latency_keys = ("latency_runs", "latency_warmup", "latency_runtime")
        check_keys(path, data, (),
                   ["max_params", "max_flops", "max_train_memory_mib", "max_latency_ms", *latency_keys])
        filters: list[Filter] = []
        if data.get("max_params") is not None:
            filters.append(MaxParams(data["max_params"]))
        if data.get("max_flops") is not None:
            filters.append(MaxFlops(data["max_flops"]))
        if data.get("max_train_memory_mib") is not None:
            filters.append(MaxTrainMemory(data["max_train_memory_mib"]))
        if data.get("max_latency_ms") is not None:
            given = {field: data[f"latency_{field}"] for field in ("runs", "warmup", "runtime")
                     if f"latency_{field}" in data}  # the rest: MaxLatency's defaults, written once there
            filters.append(MaxLatency(data["max_latency_ms"], **given))
        elif any(key in data for key in latency_keys):
            raise ValueError(f"constraints.{', '.join(k for k in latency_keys if k in data)} need max_latency_ms")
        return cls(tuple(filters))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in self.filters:
            data[item.name] = item.limit
            if isinstance(item, MaxLatency):
                data.update(latency_runs=item.runs, latency_warmup=item.warmup, latency_runtime=item.runtime)
        return data

    def limit(self, name: str) -> float | None:
        """The limit of the filter called ``name``, or ``None`` if there is none."""
        return next((item.limit for item in self.filters if item.name == name), None)

    def check(self, model: Any, *, latency: bool = False,
              details: dict[str, Any] | None = None, time_latency: Callable[..., Mapping[str, Any]] | None = None
              ) -> tuple[dict[str, float | None], Rejection | None]:
        """Measure ``model`` cheapest first and return ``(figures, rejection or None)``.

        Parameters and FLOPs are always counted (trials record them); latency is measured when a latency filter
        is set and everything cheaper passed, or when ``latency`` is true (then as ``MaxLatency``'s defaults measure it).
        ``details``, when given, receives how the latency was measured (runtime, threads, batch size, warm-up, runs).
        ``time_latency(model, runs=, warmup=, runtime=)`` times a model on a runtime
        (``videonas.deploy.runtimes.measure_latency``); without it only Keras latency is measured, and a latency
        filter on another runtime is a ``ValueError``.
        """
        from videonas import measure  # Keras: deferred (importing the search stays light)

        figures: dict[str, float | None] = {figure: None for figure in FIGURES}
        figures["params"] = measure.count_params(model)
        if (rejection := self.violation(figures)) is not None:
            return figures, rejection
        figures["flops"] = measure.count_flops(model)
        if (rejection := self.violation(figures)) is not None:
            return figures, rejection
        timing = next((item for item in self.filters if isinstance(item, MaxLatency)), None)
        if timing is not None or latency:
            setup = LATENCY_DEFAULTS if timing is None else {"runs": timing.runs, "warmup": timing.warmup,
                                                            "runtime": timing.runtime}
            runs, warmup, runtime = setup["runs"], setup["warmup"], setup["runtime"]
            if time_latency is not None:
                measured = time_latency(model, runs=runs, warmup=warmup, runtime=runtime)
            elif runtime == "keras":
                measured = measure.measure_latency(model, runs=runs, warmup=warmup)
            else:
                raise ValueError(f"latency_runtime {runtime!r} needs a time_latency that converts the model "
                                 "(videonas.deploy.runtimes.measure_latency); the search measures Keras only")
            figures["latency_ms"] = float(measured["median_ms"])
            if details is not None:
                details.update({key: measured[key] for key in LATENCY_SETUP})
        return figures, self.violation(figures)

    def violation(self, figures: Mapping[str, float | None], *, tolerance: float = 0.0) -> Rejection | None:
        """The first filter (in checking order) that ``figures`` break, or ``None``.

        ``tolerance`` is how far (relative) estimated parameter and FLOP counts may be from the built model's
        (``videonas.families.Family.cost_tolerance``): an estimate is rejected only when it passes a limit by more.
        Training memory is an estimate by definition, so it is held to its limit as is.
        """
        check_float("tolerance", tolerance, 0.0, 1.0)
        for item in self.filters:
            value = figures.get(item.figure)
            if value is None:
                continue
            if isinstance(item, MaxTrainMemory):
                if value > item.limit * MIB:
                    return Rejection(item.name, f"estimated training memory {value / MIB:.1f} MiB > limit "
                                                f"{item.limit:g} MiB (constraints.{item.name}; default "
                                                f"{DEFAULT_MAX_TRAIN_MEMORY_MIB})")
            elif value > item.limit * (1.0 + (tolerance if isinstance(item, _CountLimit) else 0.0)):
                return Rejection(item.name, f"{item.figure} {value:g} > limit {item.limit:g}")
        return None

