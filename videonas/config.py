"""The run configuration: one typed shape for a search, whoever starts it (the CLI's YAML, the Python API, a notebook's
parameter file)::

    name: tvn-smoke
    store: runs/tvn-smoke.sqlite
    space: {family: tvn, options: {frame_counts: [1, 2, 4]}}
    strategy: {name: mutate-best, options: {population_size: 4}}   # or just the name
    seed: 0
    num_trials: 8
    batch_size: 2
    task: {dataset: "embedded:smoke", batch_size: 16}
    budget: {epochs: 1}
    constraints: {max_params: 200000}
    executor: {kind: subprocess, options: {max_workers: 2}}        # or just the kind

``SearchConfig.from_dict`` checks everything once, on the driver, before a store file exists: a misspelled key at any
depth is one ``ValueError`` naming its dotted path and the allowed keys. ``stored()`` is the normalised form a trial
store keeps (every default written out; what a resume must match), and ``trial_options()`` is what workers receive,
typed, so that nothing is parsed twice. Each default is written once: here, or in the class a field holds
(``TrainTask``, ``Budget``, ``Constraints``, the space's, strategy's and executor's constructors).
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from videonas import families, task as task_module
from videonas.checks import check_choice, check_float, check_int, check_keys, check_type, quote, within
from videonas.genome.base import SearchSpace
from videonas.search import constraints as limits, executors, strategies

DEFAULT_EVALUATE = "videonas.train:evaluate_trial"
# What a trial of the default trial function is given; another trial function takes ``evaluate.options`` instead.
TRIAL_FIELDS = ("task", "budget", "constraints", "save_weights")
MAX_BATCH = 10_000


def keyword_options(path: str, function: Callable[..., Any], options: Any, *, skip: Sequence[str] = ()) -> dict:
    """``options`` checked against ``function``'s keyword parameters (less ``skip``): an unknown one is a
    ``ValueError`` naming ``path.key`` and the allowed keys, instead of a ``TypeError`` from deep inside."""
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise ValueError(f"{path} must be a mapping, got {quote(options)} ({type(options).__name__})")
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return dict(options)
    allowed = [p.name for p in parameters if p.name not in skip and p.name != "self"
               and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    check_keys(path, options, (), allowed)
    return dict(options)


def named(path: str, value: Any, key: str) -> dict[str, Any]:
    """``{key: value, "options": {}}`` for the short form (a bare name), else the mapping checked for its two keys."""
    if isinstance(value, str):
        return {key: value, "options": {}}
    check_keys(path, value, (key,), ("options",))
    return {key: value[key], "options": value.get("options") or {}}


@dataclasses.dataclass(frozen=True)
class SpaceConfig:
    """A registered family's search space and its constructor options."""

    family: str
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any, *, path: str = "space") -> "SpaceConfig":
        if isinstance(value, SearchSpace):
            if not isinstance(value, families.get(value.family).space_type):
                raise ValueError(f"{path} must be a registered family's space, got {type(value).__name__}")
            return cls(value.family, {k: v for k, v in value.to_dict().items() if k != "family"})
        if isinstance(value, SpaceConfig):
            return value
        check_keys(path, value, ("family",), ("options",))
        family = within(f"{path}.family", "family", lambda: families.get(value["family"]))
        options = keyword_options(f"{path}.options", family.space_type.__init__, value.get("options"))
        space = within(f"{path}.options", "", lambda: family.space(**options))
        # Normalised: every option written out as the space reports it, so equal spaces store equal configs.
        return cls(family.name, {k: v for k, v in space.to_dict().items() if k != "family"})

    def build(self) -> SearchSpace:
        return families.get(self.family).space(**self.options)

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "options": dict(self.options)}


@dataclasses.dataclass(frozen=True)
class StrategyConfig:
    """A named strategy (``videonas.search.strategies.STRATEGIES``) with option overrides."""

    name: str = "regularized"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any, *, path: str = "strategy") -> "StrategyConfig":
        if isinstance(value, StrategyConfig):
            return value
        data = named(path, value, "name")
        within(f"{path}.name", "strategy", lambda: check_choice("strategy", data["name"],
                                                                 sorted(strategies.STRATEGIES)))
        kind = strategies.STRATEGIES[data["name"]][0]
        options = keyword_options(f"{path}.options", kind.__init__, data["options"],
                                  skip=("space", "seed", "batch_size"))
        return cls(data["name"], options)

    def build(self, space: SearchSpace, *, seed: int, batch_size: int):
        return strategies.make_strategy(self.name, space, seed=seed, batch_size=batch_size, **self.options)


@dataclasses.dataclass(frozen=True)
class ExecutorConfig:
    """Where candidates run (``inprocess``, ``subprocess``, ``ray``) and the executor's options. Not part of what a
    store keeps: the same search may resume on another executor."""

    kind: str = "subprocess"
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any, *, path: str = "executor") -> "ExecutorConfig":
        if isinstance(value, ExecutorConfig):
            return value
        data = named(path, value, "kind")
        within(f"{path}.kind", "executor", lambda: check_choice("executor", data["kind"], sorted(executors.EXECUTORS)))
        if data["kind"] == "inprocess" and data["options"]:
            raise ValueError(f"{path}.options {quote(sorted(data['options']))}: the in-process executor takes none (it "
                             f"can neither stop a candidate at a timeout nor set a worker's environment); use the "
                             f"subprocess or ray executor")
        options = keyword_options(f"{path}.options", executors.executor_class(data["kind"]).__init__,
                                  data["options"])
        if "env" in options:
            options["env"] = executors.check_env(options["env"], field=f"{path}.options.env")
        return cls(data["kind"], options)

    def build(self) -> executors.Executor:
        return executors.make_executor(self.kind, **self.options)

    @property
    def backend(self) -> str:
        """The Keras backend the trials train on (``options.env.KERAS_BACKEND``, else this process's)."""
        return executors.workers_backend(self.options.get("env"))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": dict(self.options)}


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """The trial function (``"module:function"``) and, for a function other than the default, its own options."""

    function: str = DEFAULT_EVALUATE
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any, *, path: str = "evaluate") -> "EvaluateConfig":
        if isinstance(value, EvaluateConfig):
            return value
        data = named(path, value, "function")
        check_type(f"{path}.function", data["function"], str)
        try:
            function = executors.resolve(data["function"])
        except (ImportError, AttributeError, ValueError) as error:
            raise ValueError(f"{path}.function must name an importable 'module:function', got "
                             f"{quote(data['function'])} ({error})") from None
        if data["function"] == DEFAULT_EVALUATE and data["options"]:
            raise ValueError(f"{path}.options: the default trial function takes {', '.join(TRIAL_FIELDS)} at the top "
                             f"of the configuration, got {quote(sorted(data['options']))}")
        first = next(iter(inspect.signature(function).parameters), None)  # the genome, passed by position
        return cls(data["function"], keyword_options(f"{path}.options", function, data["options"],
                                                     skip=("seed", "fidelity", first)))

    @property
    def default(self) -> bool:
        return self.function == DEFAULT_EVALUATE

    def to_dict(self) -> dict[str, Any]:
        return {"function": self.function, "options": dict(self.options)}


@dataclasses.dataclass(frozen=True)
class RungsConfig:
    """Multi-fidelity search: every candidate of a round trains ``epochs[0]`` epochs, the best ``keep`` of them (at
    least one) continue from their checkpoints to ``epochs[1]``, and so on (synchronous successive halving, within
    each round, so promotions depend only on the seed and the stored history). With ``inherit`` a child starts from
    its parent's weights in every layer whose name and shape match. ``checkpoints`` is the folder every worker can
    read and write (default: ``<store>.checkpoints`` beside the store); a checkpoint that nothing can promote or
    inherit from any more is deleted."""

    epochs: tuple[int, ...]
    keep: float = 1 / 3
    inherit: bool = False
    checkpoints: str | None = None

    @classmethod
    def from_value(cls, value: Any, *, path: str = "rungs") -> "RungsConfig | None":
        if value is None or isinstance(value, RungsConfig):
            return value
        check_keys(path, value, ("epochs",), [field.name for field in dataclasses.fields(cls)])
        epochs = value["epochs"]
        if isinstance(epochs, (str, bytes)) or not isinstance(epochs, Sequence) or not epochs:
            raise ValueError(f"{path}.epochs must be a non-empty list of increasing epoch counts, got {quote(epochs)}")
        for count in epochs:
            check_int(f"{path}.epochs", count, 1, 100_000)
        if list(epochs) != sorted(set(epochs)):
            raise ValueError(f"{path}.epochs must increase, got {quote(list(epochs))}")
        keep = value.get("keep", 1 / 3)
        within(f"{path}.keep", "keep", lambda: check_float("keep", keep, 1e-3, 1.0))
        inherit = value.get("inherit", False)
        if not isinstance(inherit, bool):
            raise ValueError(f"{path}.inherit must be true or false, got {quote(inherit)}")
        checkpoints = value.get("checkpoints")
        if checkpoints is not None and not isinstance(checkpoints, (str, os.PathLike)):
            raise ValueError(f"{path}.checkpoints must be a folder path or null, got {quote(checkpoints)}")
        return cls(tuple(epochs), float(keep), inherit, None if checkpoints is None else str(checkpoints))

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "keep": self.keep, "inherit": self.inherit,
                "checkpoints": self.checkpoints}


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """One search: what it searches, how, on what, for how long, under which limits, where.

    ``name``, ``store``, ``num_trials`` and ``executor`` may change between runs of one experiment (``num_trials``
    only grows it: decisions made so far stay); everything in ``stored()`` must match to resume.
    """

    name: str
    store: str
    space: SpaceConfig
    num_trials: int
    strategy: StrategyConfig = StrategyConfig()
    seed: int = 0
    batch_size: int = 4
    task: task_module.TrainTask = task_module.TrainTask()
    budget: task_module.Budget = task_module.Budget()
    constraints: limits.Constraints = limits.Constraints()
    save_weights: str | None = None
    evaluate: EvaluateConfig = EvaluateConfig()
    executor: ExecutorConfig = ExecutorConfig()
    reuse_duplicates: bool = True
    rungs: RungsConfig | None = None
    max_epochs: int | None = None  # the search's training budget in epochs; None: only num_trials stops it

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "") -> "SearchConfig":
        """Parse and check every field; ``path`` prefixes dotted names where the search sits inside a larger
        configuration (a notebook's ``search``)."""
        prefix = f"{path}." if path else ""
        allowed = [f.name for f in dataclasses.fields(cls)]
        if not path and isinstance(data, Mapping) and set(data) - set(allowed):
            unknown = sorted(map(str, set(data) - set(allowed)))
            raise ValueError(f"unknown key {', '.join(unknown)} at the top of the configuration; allowed keys: "
                             f"{', '.join(allowed)}")
        check_keys(path or "config", data, ("name", "store", "space", "num_trials"), allowed)
        name, store = data["name"], data["store"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValueError(f"{prefix}name must be a non-empty string of at most 200 characters, got {quote(name)}")
        if not isinstance(store, (str, os.PathLike)) or not str(store):
            raise ValueError(f"{prefix}store must be a file path, got {quote(store)} ({type(store).__name__})")
        check_int(f"{prefix}num_trials", data["num_trials"], 1, 10**9)
        seed, batch_size = data.get("seed", 0), data.get("batch_size", 4)
        check_int(f"{prefix}seed", seed, 0, 2**32 - 1)
        check_int(f"{prefix}batch_size", batch_size, 1, MAX_BATCH)
        reuse = data.get("reuse_duplicates", True)
        if not isinstance(reuse, bool):
            raise ValueError(f"{prefix}reuse_duplicates must be true or false, got {quote(reuse)}")
        space = SpaceConfig.from_value(data["space"], path=f"{prefix}space")
        evaluate = EvaluateConfig.from_value(data.get("evaluate", DEFAULT_EVALUATE), path=f"{prefix}evaluate")
        given = [key for key in TRIAL_FIELDS if data.get(key) not in (None, {})]
        if not evaluate.default and given:
            raise ValueError(f"{prefix}{given[0]} is an option of the default trial function; {evaluate.function} "
                             f"takes {prefix}evaluate.options")
        trial = task_module.TrialOptions.from_dict({key: data.get(key) for key in TRIAL_FIELDS}, path=path)
        family = families.get(space.family)
        if family.genome_input:
            default = task_module.TrainTask()
            carried = [key for key in ("num_frames", "image_size", "frame_stride")
                       if getattr(trial.task, key) != getattr(default, key)]
            if carried:
                raise ValueError(f"{prefix}task.{carried[0]}: family {space.family!r} genomes carry their own input "
                                 f"(num_frames, image_size, frame_stride are searched); remove it from the task")
        rungs = RungsConfig.from_value(data.get("rungs"), path=f"{prefix}rungs")
        if rungs is not None:
            if not evaluate.default and "fidelity" not in inspect.signature(
                    executors.resolve(evaluate.function)).parameters:
                raise ValueError(f"{prefix}rungs need a trial function that continues a candidate from its checkpoint "
                                 f"(a `fidelity` keyword, as the default one has); {evaluate.function} has none")
            given = (data.get("budget") or {}).get("epochs")
            if given is not None and given != rungs.epochs[-1]:
                raise ValueError(f"{prefix}budget.epochs {given} differs from the top rung's {rungs.epochs[-1]}: with "
                                 f"rungs the top rung is the candidates' budget (leave budget.epochs out)")
            if trial.budget.patience is not None:
                raise ValueError(f"{prefix}budget.patience {trial.budget.patience} with rungs: a rung promotes "
                                 f"candidates by their score after its epochs and continues them from that "
                                 f"checkpoint, which early stopping would cut short and roll back (patience is for "
                                 f"fixed networks trained outside a search); leave one out")
            trial = dataclasses.replace(trial, budget=dataclasses.replace(trial.budget, epochs=rungs.epochs[-1]))
        max_epochs = data.get("max_epochs")
        if max_epochs is not None:
            check_int(f"{prefix}max_epochs", max_epochs, 1, 10**9)
            if trial.budget.patience is not None:
                raise ValueError(f"{prefix}budget.patience {trial.budget.patience} with max_epochs {max_epochs}: "
                                 f"the search counts budget.epochs per candidate, which patience may stop sooner, "
                                 f"so its epoch budget would not be what was trained; leave one out")
        executor = ExecutorConfig.from_value(data.get("executor", "subprocess"), path=f"{prefix}executor")
        converted = [item.runtime for item in trial.constraints.filters if getattr(item, "runtime", "keras") != "keras"]
        if converted and executor.backend != "tensorflow":
            raise ValueError(f"{prefix}executor.options.env.KERAS_BACKEND {executor.backend!r} with "
                             f"{prefix}constraints.latency_runtime {converted[0]!r}: a worker converts each candidate "
                             f"to {converted[0]} on the tensorflow backend; train on tensorflow, or time on "
                             f"latency_runtime keras")
        return cls(name=name, store=str(store), space=space, num_trials=data["num_trials"],
                   strategy=StrategyConfig.from_value(data.get("strategy", "regularized"), path=f"{prefix}strategy"),
                   seed=seed, batch_size=batch_size, task=trial.task, budget=trial.budget,
                   constraints=trial.constraints, save_weights=trial.save_weights, evaluate=evaluate,
                   executor=executor, reuse_duplicates=reuse, rungs=rungs, max_epochs=max_epochs)

    def replace(self, **changes: Any) -> "SearchConfig":
        """A copy with some fields changed and checked again (``from_dict`` of the merged plain form)."""
        return SearchConfig.from_dict({**self.to_dict(), **changes})

    def trial_options(self) -> Any:
        """What each trial's function receives: typed ``TrialOptions`` for the default one, else its options."""
        if self.evaluate.default:
            return task_module.TrialOptions(self.task, self.budget, self.constraints, self.save_weights)
        return dict(self.evaluate.options)

    def stored(self) -> dict[str, Any]:
        """The normalised configuration a store keeps with the experiment; a resume must match it."""
        return {"space": self.space.to_dict(), "strategy": self.build_strategy().to_dict(), "seed": self.seed,
                "batch_size": self.batch_size, **self.trial_options_dict(), "evaluate": self.evaluate.to_dict(),
                "reuse_duplicates": self.reuse_duplicates, "rungs": None if self.rungs is None else self.rungs.to_dict()}

    def checkpoint_folder(self) -> Path:
        """Where this search's checkpoints live: ``rungs.checkpoints``, or ``<store>.checkpoints/<name>``."""
        root = Path(self.rungs.checkpoints) if self.rungs and self.rungs.checkpoints else \
            Path(f"{self.store}.checkpoints")
        return root / self.name

    def trial_options_dict(self) -> dict[str, Any]:
        return task_module.TrialOptions(self.task, self.budget, self.constraints, self.save_weights).to_dict()

    def build_space(self) -> SearchSpace:
        return self.space.build()

    def build_strategy(self, space: SearchSpace | None = None):
        return self.strategy.build(space or self.build_space(), seed=self.seed, batch_size=self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """The whole configuration in its plain, normalised form (``from_dict`` of it gives an equal config)."""
        return {"name": self.name, "store": self.store, "space": self.space.to_dict(),
                "strategy": {"name": self.strategy.name, "options": dict(self.strategy.options)},
                "seed": self.seed, "num_trials": self.num_trials, "batch_size": self.batch_size,
                **self.trial_options_dict(), "evaluate": self.evaluate.to_dict(), "executor": self.executor.to_dict(),
                "reuse_duplicates": self.reuse_duplicates, "rungs": None if self.rungs is None else self.rungs.to_dict(),
                "max_epochs": self.max_epochs}


def evaluate_fields(function: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A search configuration's fields for a trial ``function`` and its ``options``: the default function's options
    (task, budget, constraints, save_weights) sit at the top of the configuration, another function's under
    ``evaluate``. For callers that hold the pair (benchmarks, experiments sharing one trial function)."""
    if function == DEFAULT_EVALUATE:
        return dict(options or {})
    return {"evaluate": {"function": function, "options": dict(options or {})}}


def stored_default_evaluate(stored: Mapping[str, Any]) -> bool:
    """Whether a stored configuration ran the default trial function (one that trains a network on a task), in the
    form stores keep it: the function's name, or ``{"function": ..., "options": ...}``."""
    evaluate = stored.get("evaluate", DEFAULT_EVALUATE)
    return (evaluate.get("function", DEFAULT_EVALUATE) if isinstance(evaluate, Mapping) else evaluate) == \
        DEFAULT_EVALUATE


def stored_trial_options(stored: Mapping[str, Any]) -> task_module.TrialOptions:
    """The trial options an experiment ran with, from the configuration its store keeps: the top-level form, or the
    ``evaluate_options`` of stores written before ``SearchConfig`` (they still open for trials, export and reports)."""
    if "evaluate_options" in stored:
        return task_module.TrialOptions.from_dict(stored.get("evaluate_options") or {}, path="evaluate_options")
    return task_module.TrialOptions.from_dict({key: stored.get(key) for key in TRIAL_FIELDS})


def load_yaml(path: str | os.PathLike, *, section: str | None = None) -> dict[str, Any]:
    """A YAML mapping from ``path`` (``section``: one key of it), with a ``ValueError`` naming the file when it is
    missing, not YAML or not a mapping."""
    import yaml  # deferred: only the CLI and notebooks read YAML

    if not os.path.isfile(path):
        raise ValueError(f"config file {path} not found")
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"config {path} is not valid YAML: {' '.join(str(error).split())[:300]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must be a YAML mapping, got {type(data).__name__}")
    if section is not None:
        if section not in data:
            raise ValueError(f"config {path} has no {section!r} section; keys: {sorted(data)}")
        data = data[section]
    return data
