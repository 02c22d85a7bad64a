"""How a candidate is trained and evaluated: the one training recipe of the package.

``fit_and_score`` is the recipe: load the task's cached clips, fit with Adam under the budget (stopping at the first
NaN loss), score the validation split (top-1, or mAP for multi-label tasks) and, for reports, the held-out test split. ``train_candidate`` (the search's trial
function) builds a genome's model, checks the constraints first (a rejected candidate never loads data or trains)
and then runs the recipe; ``train_model`` runs the same recipe on any model (a baseline); the ensemble members use
``fit`` and ``predict``.

Run options are typed: ``TrialOptions`` (task, budget, constraints) is validated on the search driver before any trial
is stored (``evaluate_trial.check_options``), so a typo is one ``ValueError`` at start-up, not a store of failures.

Determinism: ``keras.utils.set_random_seed(seed)`` fixes initial weights, dropout and the batch order, so the same
genome, task and seed retrain to the same curve up to floating-point reduction order across CPU threads. A
``seconds`` budget makes the number of steps depend on the machine's speed; use ``epochs`` alone for repeatable runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import families
from videonas.checks import check_choice, check_float, check_int, check_keys
from videonas.deploy import runtimes as deploy_runtimes
from videonas.genome.base import Genome
from videonas.search.constraints import Constraints
from videonas.search.store import TrialResult

STREAMS = ("rgb", "flow")


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """What a candidate is trained on. ``num_frames``/``image_size``/``frame_stride`` are the clip input for families
    whose genome does not carry its own (TVN's does). ``dataset`` is anything ``videonas.data.DatasetSpec.from_value``
    reads: ``"embedded:smoke"``, ``"embedded:default"``, a folder or CSV path, or a mapping such as
    ``{"format": "charades", "path": ...}`` (the embedded data takes ``data_seed`` and ``multi_label`` from the task; a
    file format sets ``multi_label`` itself; a data set without a val split gets a stratified, seeded one).
    ``max_*_clips`` take a fixed random subset (the same for every candidate; ``max_val_clips`` caps test too).
    ``threads`` caps the backend's CPU threads (set it to cores / workers in a subprocess pool). ``classes`` restricts
    training and validation to some of the classes. Fitness is scored on val (what searches select on); with ``score_test`` a data set's held-out test
    split is scored too, into ``metrics["test"]``, for reports only: nothing selects on it."""

    dataset: Any = "embedded:smoke"
    multi_label: bool = False
    num_frames: int = 8
    image_size: int = 64
    frame_stride: int = 1
    batch_size: int = 16
    learning_rate: float = 1e-3
    data_seed: int = 0
    max_train_clips: int | None = None
    max_val_clips: int | None = None
    augment: bool = False
    width_multiplier: float = 1.0
    measure_latency: bool = False
    threads: int | None = None
    run_eagerly: bool = False
    classes: tuple[str, ...] | None = None
    score_test: bool = True

    def __post_init__(self) -> None:
        from videonas.data.spec import DatasetSpec

        try:
            spec = DatasetSpec.from_value(self.dataset)
        except ValueError as error:
            raise ValueError(f"task.dataset: {error}") from None
        object.__setattr__(self, "dataset", spec.to_dict() if isinstance(self.dataset, DatasetSpec) else self.dataset)
        if spec.format != "embedded":  # a file format says how it is scored (Charades: multi-label, mAP)
            object.__setattr__(self, "multi_label", spec.multi_label)
        check_int("task.num_frames", self.num_frames, 1, 1024)
        check_int("task.image_size", self.image_size, 8, 1024)
        check_int("task.frame_stride", self.frame_stride, 1, 64)
        check_int("task.batch_size", self.batch_size, 1, 4096)
        check_float("task.learning_rate", self.learning_rate, 1e-8, 10.0)
        check_int("task.data_seed", self.data_seed, 0, 2**32 - 1)
        check_float("task.width_multiplier", self.width_multiplier, 1e-3, 64.0)
        for field in ("multi_label", "augment", "measure_latency", "run_eagerly", "score_test"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"task.{field} must be true or false, got {getattr(self, field)!r}")
        if self.classes is not None:
            if isinstance(self.classes, str) or not all(isinstance(name, str) for name in self.classes):
                raise ValueError(f"task.classes must be a list of class names, got {self.classes!r}")
            object.__setattr__(self, "classes", tuple(self.classes))  # lists from JSON configs
        for field in ("max_train_clips", "max_val_clips", "threads"):
            if getattr(self, field) is not None:
                check_int(f"task.{field}", getattr(self, field), 1, 10**9)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "TrainTask":
        data = dict(data or {})
        check_keys("task", data, (), [f.name for f in dataclasses.fields(cls)])
        return cls(**data)

    def open_dataset(self):
        """The dataset index (no decoding): checks that the data exists and has ``train`` and ``val`` splits."""
        from videonas import data

        spec = data.DatasetSpec.from_value(self.dataset)
        if spec.format == "embedded":
            spec = spec.with_options(seed=self.data_seed, multi_label=self.multi_label)
        dataset = spec.open()
        missing = [split for split in ("train", "val") if split not in dataset.splits]
        if missing:
            raise ValueError(f"task.dataset {self.dataset!r} has splits {dataset.splits}, needs 'train' and 'val' "
                             f"(folders <root>/train/<class>/ and <root>/val/<class>/)")
        return dataset if self.classes is None else dataset.subset(self.classes)

    def clip_spec(self, *, inputs: Sequence[str], genome: Genome | None = None):
        """The ``ClipSpec`` of the clips a model eats: at ``genome``'s own input when its family carries it, else
        at the task's; ``inputs`` names the streams (``"rgb"``, ``"flow"``)."""
        from videonas import data

        for index, name in enumerate(inputs):
            check_choice(f"inputs[{index}]", name, STREAMS)
        num_frames, image_size, frame_stride = self.num_frames, self.image_size, self.frame_stride
        if genome is not None:
            num_frames, image_size, frame_stride = families.of(genome).clip_input(
                genome, num_frames=num_frames, image_size=image_size, frame_stride=frame_stride)
        return data.ClipSpec(num_frames=num_frames, image_size=image_size, frame_stride=frame_stride,
                             rgb="rgb" in inputs, flow="flow" in inputs)

    def load(self, dataset, split: str, clip_spec):
        """The clips of ``split``, cut to the task's fixed subset (the same for every candidate)."""
        from videonas import data

        limit = self.max_train_clips if split == "train" else self.max_val_clips
        return subset_clips(data.load_clips(dataset, split, clip_spec), limit, self.data_seed)


@dataclasses.dataclass(frozen=True)
class Budget:
    """Training budget: at most ``epochs`` epochs and (if set) ``seconds`` of training wall time."""

    epochs: int = 1
    seconds: float | None = None

    def __post_init__(self) -> None:
        check_int("budget.epochs", self.epochs, 1, 100_000)
        if self.seconds is not None:
            check_float("budget.seconds", self.seconds, 1e-3, 1e9)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Budget":
        data = dict(data or {})
        check_keys("budget", data, (), ["epochs", "seconds"])
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class TrialOptions:
    """The options of ``evaluate_trial``, typed: what a search config's ``evaluate_options`` holds."""

    task: TrainTask = TrainTask()
    budget: Budget = Budget()
    constraints: Constraints = Constraints()
    save_weights: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "TrialOptions":
        data = dict(data or {})
        check_keys("evaluate_options", data, (), ["task", "budget", "constraints", "save_weights"])
        save_weights = data.get("save_weights")
        if save_weights is not None and not isinstance(save_weights, (str, os.PathLike)):
            raise ValueError(f"evaluate_options.save_weights must be a folder path, got {save_weights!r}")
        return cls(TrainTask.from_dict(data.get("task")), Budget.from_dict(data.get("budget")),
                   Constraints.from_dict(data.get("constraints")),
                   None if save_weights is None else str(save_weights))


def check_trial_options(options: Mapping[str, Any] | None) -> TrialOptions:
    """Validate ``evaluate_trial``'s options on the driver, the dataset included (its index, not its clips)."""
    typed = TrialOptions.from_dict(options)
    typed.task.open_dataset()
    return typed


def evaluate_trial(genome: Genome, *, seed: int, **options: Any) -> TrialResult:
    """The search's trial function (``"videonas.train:evaluate_trial"``); plain-JSON options fit in configs."""
    typed = TrialOptions.from_dict(options)
    return train_candidate(genome, task=typed.task, budget=typed.budget, seed=seed, constraints=typed.constraints,
                           save_weights=typed.save_weights)


evaluate_trial.check_options = check_trial_options  # run_search calls it on the driver before storing anything


def evaluate_model(genome: None, *, seed: int, model: str, model_options: Mapping[str, Any] | None = None,
                   **options: Any) -> TrialResult:
    """A trial function for a named model (``videonas.models.create_model``) instead of a genome, for executors: a
    baseline trained over seeds with a candidate's recipe at the task's input. ``genome`` is ``None``."""
    typed = TrialOptions.from_dict(options)
    task = typed.task
    _limit_threads(task)
    import keras

    from videonas import models

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    dataset = task.open_dataset()
    built = models.create_model(model, num_classes=len(dataset.class_names), num_frames=task.num_frames,
                                image_size=task.image_size, multi_label=task.multi_label, **dict(model_options or {}))
    return train_model(built, task=task, budget=typed.budget, seed=seed)


def _limit_threads(task: TrainTask) -> None:
    """Cap the backend's CPU threads at ``task.threads``: effective only before the backend is imported, i.e. in a
    fresh worker, so every trial function calls this before ``import keras``."""
    if task.threads is not None:
        for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(variable, str(task.threads))


def check_model_options(options: Mapping[str, Any] | None) -> TrialOptions:
    """``evaluate_model``'s options checked on the driver: the model name, then the trial options."""
    from videonas import models

    options = dict(options or {})
    try:
        models.model_info(options.get("model"))
    except ValueError as error:
        raise ValueError(f"model: {error}") from None
    return check_trial_options({key: value for key, value in options.items() if key not in ("model", "model_options")})


evaluate_model.check_options = check_model_options


def train_candidate(genome: Genome, *, task: TrainTask, budget: Budget, seed: int,
                    constraints: Constraints | None = None, save_weights: str | Path | None = None) -> TrialResult:
    """Check the genome's cost, build, check the model's constraints, train, evaluate. Returns a done, rejected or
    failed ``TrialResult``.

    ``metrics["timings"]`` splits the wall time (import, build, constraints, data, fit, first step (graph tracing),
    evaluation) so the per-candidate overhead can be measured.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    _limit_threads(task)
    import keras

    from videonas import models

    family = families.of(genome)
    timings["import_s"], clock = time.perf_counter() - clock, time.perf_counter()
    keras.backend.clear_session()  # in-process executor: earlier candidates' graphs and layer names do not pile up
    keras.utils.set_random_seed(seed)
    dataset = task.open_dataset()
    # Cheap checks first: where the family counts params and FLOPs from the genome, a candidate that breaks P or a
    # FLOP cap is rejected before a weight is allocated.
    estimate = family.estimate_cost(genome, num_classes=len(dataset.class_names),
                                    width_multiplier=task.width_multiplier)
    rejection = None if estimate is None else (constraints or Constraints()).violation(estimate)
    if rejection is not None:
        timings["constraints_s"] = time.perf_counter() - clock
        return TrialResult(status="rejected", error=rejection.reason, rejected_by=rejection.rejected_by,
                           metrics={"timings": timings, "rejected_before_build": True}, **estimate)
    model = models.build_model(genome, num_classes=len(dataset.class_names), multi_label=task.multi_label,
                               num_frames=task.num_frames, image_size=task.image_size,
                               width_multiplier=task.width_multiplier)
    timings["build_s"], clock = time.perf_counter() - clock, time.perf_counter()
    latency_setup: dict[str, Any] = {}
    figures, rejection = (constraints or Constraints()).check(model, latency=task.measure_latency,
                                                              details=latency_setup,
                                                              time_latency=deploy_runtimes.measure_latency)
    timings["constraints_s"] = time.perf_counter() - clock
    if rejection is not None:
        return TrialResult(status="rejected", error=rejection.reason, rejected_by=rejection.rejected_by,
                           metrics={"timings": timings, **({"latency": latency_setup} if latency_setup else {})},
                           **figures)

    result = fit_and_score(model, task=task, budget=budget, seed=seed, genome=genome, dataset=dataset,
                           timings=timings, **figures)
    if result.status != "done":
        return result
    result.learned = family.context(model) or None
    if latency_setup:
        result.metrics["latency"] = latency_setup
    if save_weights is not None:
        path = Path(save_weights) / f"{genome.key}-{seed}.weights.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(path))
        result.metrics["weights_path"] = str(path)
    return result


def train_model(model, *, task: TrainTask, budget: Budget, seed: int) -> TrialResult:
    """Train and score a model that is not a genome (a baseline) with a candidate's recipe, on clips at ``task``'s
    input. Seed Keras before building the model to fix its initial weights too."""
    from videonas import measure

    return fit_and_score(model, task=task, budget=budget, seed=seed, params=measure.count_params(model),
                         flops=measure.count_flops(model))


def fit_and_score(model, *, task: TrainTask, budget: Budget, seed: int, genome: Genome | None = None, dataset=None,
                  timings: dict[str, float] | None = None, **figures: Any) -> TrialResult:
    """The recipe: fit ``model`` under ``budget`` (stopping at a NaN loss) and score the validation split (and the
    test split, for reports: see ``TrainTask.score_test``).

    Clips are at ``genome``'s input when its family carries it, else at ``task``'s; the streams are the model's
    input names. ``figures`` (params, flops, latency_ms) are passed through to the result.
    """
    timings = {} if timings is None else timings
    dataset = task.open_dataset() if dataset is None else dataset
    metrics = fit(model, task=task, budget=budget, seed=seed, genome=genome, dataset=dataset, timings=timings)
    if not all(math.isfinite(value) for value in metrics["loss_curve"]):
        return TrialResult.failed("NaN loss: training diverged", metrics=metrics, **figures)
    clock = time.perf_counter()
    scores, clips = predict(model, task=task, genome=genome, dataset=dataset)
    fitness, scored = score(scores, clips.labels, multi_label=task.multi_label, dataset=dataset)
    metrics.update(scored, num_val_clips=len(clips))
    if task.score_test and "test" in dataset.splits:
        scores, clips = predict(model, task=task, split="test", genome=genome, dataset=dataset)
        metrics["test"] = {**score(scores, clips.labels, multi_label=task.multi_label, dataset=dataset)[1],
                           "num_clips": len(clips)}
    timings["eval_s"] = time.perf_counter() - clock
    return TrialResult(fitness=fitness, metrics=metrics, **figures)


def fit(model, *, task: TrainTask, budget: Budget, seed: int, genome: Genome | None = None, dataset=None,
        timings: dict[str, float] | None = None) -> dict[str, Any]:
    """Compile and fit ``model`` on the task's training clips; returns the loss curve, steps and timings."""
    import keras

    from videonas import data

    timings = {} if timings is None else timings
    clock = time.perf_counter()
    dataset = task.open_dataset() if dataset is None else dataset
    inputs = model_inputs(model)
    clips = task.load(dataset, "train", task.clip_spec(inputs=inputs, genome=genome))
    batches = data.ClipBatches(clips, batch_size=task.batch_size, shuffle=True, seed=seed, inputs=inputs,
                               augment=task.augment)
    timings["data_s"], clock = time.perf_counter() - clock, time.perf_counter()
    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if task.multi_label
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # XLA compilation of every new architecture costs more than it saves at these budgets; ``run_eagerly`` skips
    # graph tracing (seconds per candidate) but makes every step slower: it pays off only for budgets of a few dozen
    # steps (``make bench``, throughput section, measures graph, eager and the torch backend).
    model.compile(optimizer=keras.optimizers.Adam(task.learning_rate), loss=loss, jit_compile=False,
                  run_eagerly=task.run_eagerly)
    # Adam's slots exist before the first step, so TensorFlow traces the train step once instead of twice (once to
    # create them): the first step of a new architecture drops from 7-9 s to 3-5 s here (``make bench``, throughput).
    model.optimizer.build(model.trainable_variables)
    recorder = _recorder(budget.seconds)
    model.fit(batches, epochs=budget.epochs, verbose=0, callbacks=[recorder, keras.callbacks.TerminateOnNaN()])
    timings["fit_s"] = time.perf_counter() - clock
    timings["first_step_s"] = recorder.first_step_s
    return {"loss_curve": recorder.losses, "steps": len(recorder.losses), "train_seconds": timings["fit_s"],
            "stopped_by_time": recorder.stopped_by_time, "timings": timings, "num_train_clips": len(clips)}


def predict(model, *, task: TrainTask, split: str = "val", genome: Genome | None = None, dataset=None):
    """``(scores, clips)``: the model's float64 logits on the task's ``split`` clips, in clip order."""
    from videonas import data

    dataset = task.open_dataset() if dataset is None else dataset
    inputs = model_inputs(model)
    clips = task.load(dataset, split, task.clip_spec(inputs=inputs, genome=genome))
    batches = data.ClipBatches(clips, batch_size=task.batch_size, shuffle=False, seed=0, inputs=inputs)
    return numpy.asarray(model.predict(batches, verbose=0), dtype="float64"), clips


def score(scores, labels, *, multi_label: bool, dataset=None) -> tuple[float, dict[str, Any]]:
    """Top-1 (or mAP) and its metrics; with class kinds known, also top-1 per kind (``accuracy_by_kind``)."""
    from videonas import metrics as scoring

    labels = numpy.asarray(labels)
    if multi_label:
        fitness = float(scoring.mean_average_precision(labels, scores))
        return fitness, {"mAP": fitness}
    fitness = float(scoring.top_k_accuracy(labels, scores, k=1))
    metrics: dict[str, Any] = {"accuracy": fitness}
    if getattr(dataset, "class_kinds", None):
        kinds = [dataset.class_kinds.get(dataset.class_names[label], "other") for label in labels]
        metrics["accuracy_by_kind"] = scoring.accuracy_by_group(labels, scores, kinds)
    return fitness, metrics


def model_inputs(model) -> tuple[str, ...]:
    """The clip streams a model eats: its input names (``"rgb"``, ``"flow"``)."""
    names = tuple(tensor.name.split(":")[0] for tensor in model.inputs)
    for index, name in enumerate(names):
        check_choice(f"model input {index}", name, STREAMS)
    return names


def subset_clips(clips, limit: int | None, seed: int):
    """A fixed random subset of at most ``limit`` clips (the same for every candidate: fitnesses stay comparable)."""
    if limit is None or limit >= len(clips):
        return clips
    keep = numpy.sort(numpy.random.default_rng(seed).permutation(len(clips))[:limit])
    return dataclasses.replace(
        clips, rgb=None if clips.rgb is None else numpy.asarray(clips.rgb[keep]),
        flow=None if clips.flow is None else numpy.asarray(clips.flow[keep]), labels=clips.labels[keep],
        paths=[clips.paths[i] for i in keep])


def _recorder(seconds: float | None):
    """A callback that records the loss after each step (Keras reports the epoch's running mean) and stops training
    once ``seconds`` of training have passed. Defined here so that importing this module does not import Keras."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.losses: list[float] = []
            self.first_step_s = 0.0
            self.stopped_by_time = False
            self.start = time.perf_counter()

        def on_train_begin(self, logs=None) -> None:
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None) -> None:
            elapsed = time.perf_counter() - self.start
            if not self.losses:
                self.first_step_s = elapsed
            self.losses.append(float((logs or {}).get("loss", float("nan"))))
            if seconds is not None and elapsed > seconds:
                self.stopped_by_time = True
                self.model.stop_training = True

    return Recorder()
