"""Train and evaluate one candidate under a budget: the trial function every search runs.

Order matters for cost: build the model, check the constraints (a rejected candidate never loads data or trains),
load the cached clips, train for at most ``budget.epochs`` epochs and ``budget.seconds`` seconds, stop at the first
NaN loss, then score the validation split (top-1, or mAP for multi-label tasks).

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
from typing import Any, Mapping

import numpy

from videonas.genome.base import Genome, check_choice, check_float, check_int, check_keys
from videonas.search.constraints import Constraints
from videonas.search.store import TrialResult


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """What a candidate is trained on. ``num_frames``/``image_size``/``frame_stride`` apply to EvaNet and AssembleNet;
    a TVN genome carries its own input. ``dataset`` is ``"embedded:smoke"``, ``"embedded:default"`` or a folder of
    class sub-folders (``dataset_format="folder"``). ``max_*_clips`` take a fixed random subset (the same for every
    candidate). ``threads`` caps the backend's CPU threads (set it to cores / workers in a subprocess pool). ``classes``
    restricts training and validation to some of the dataset's classes."""

    dataset: str = "embedded:smoke"
    dataset_format: str = "folder"
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

    def __post_init__(self) -> None:
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset must be a non-empty string, got {self.dataset!r}")
        if self.dataset.startswith("embedded:"):
            check_choice("dataset", self.dataset, ("embedded:smoke", "embedded:default"))
        check_choice("dataset_format", self.dataset_format, ("folder",))
        check_int("num_frames", self.num_frames, 1, 1024)
        check_int("image_size", self.image_size, 8, 1024)
        check_int("frame_stride", self.frame_stride, 1, 64)
        check_int("batch_size", self.batch_size, 1, 4096)
        check_float("learning_rate", self.learning_rate, 1e-8, 10.0)
        if self.classes is not None:
            if isinstance(self.classes, str) or not all(isinstance(name, str) for name in self.classes):
                raise ValueError(f"classes must be a list of class names, got {self.classes!r}")
            object.__setattr__(self, "classes", tuple(self.classes))  # lists from JSON configs
        for field in ("max_train_clips", "max_val_clips", "threads"):
            if getattr(self, field) is not None:
                check_int(field, getattr(self, field), 1, 10**9)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "TrainTask":
        data = dict(data or {})
        check_keys("task", data, (), [f.name for f in dataclasses.fields(cls)])
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class Budget:
    """Training budget: at most ``epochs`` epochs and (if set) ``seconds`` of training wall time."""

    epochs: int = 1
    seconds: float | None = None

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, 1, 100_000)
        if self.seconds is not None:
            check_float("seconds", self.seconds, 1e-3, 1e9)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Budget":
        data = dict(data or {})
        check_keys("budget", data, (), ["epochs", "seconds"])
        return cls(**data)


def evaluate_trial(genome: Genome, *, seed: int, task: Mapping[str, Any] | None = None,
                   budget: Mapping[str, Any] | None = None, constraints: Mapping[str, Any] | None = None,
                   save_weights: str | None = None) -> TrialResult:
    """The search's trial function (``"videonas.train:evaluate_trial"``); plain-JSON options fit in configs."""
    return train_candidate(genome, task=TrainTask.from_dict(task), budget=Budget.from_dict(budget), seed=seed,
                           constraints=Constraints.from_dict(constraints), save_weights=save_weights)


def train_candidate(genome: Genome, *, task: TrainTask, budget: Budget, seed: int,
                    constraints: Constraints | None = None, save_weights: str | Path | None = None) -> TrialResult:
    """Build, check constraints, train, evaluate. Returns a done, rejected or failed ``TrialResult``.

    ``metrics["timings"]`` splits the wall time (import, build, constraints, data, fit, first step (graph tracing),
    evaluation) so the per-candidate overhead can be measured.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    if task.threads is not None:  # effective only before the backend is imported, i.e. in a fresh worker
        for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(variable, str(task.threads))
    import keras

    from videonas import models

    timings["import_s"], clock = time.perf_counter() - clock, time.perf_counter()
    keras.backend.clear_session()  # in-process executor: earlier candidates' graphs and layer names do not pile up
    keras.utils.set_random_seed(seed)
    dataset = _dataset(task)
    spec = models.input_spec(genome, num_frames=task.num_frames, image_size=task.image_size,
                            frame_stride=task.frame_stride)
    model = models.build_model(genome, num_classes=len(dataset.class_names), multi_label=task.multi_label,
                              **_family_kwargs(genome, task))
    timings["build_s"], clock = time.perf_counter() - clock, time.perf_counter()
    figures, violation = (constraints or Constraints()).check(model, latency=task.measure_latency)
    timings["constraints_s"], clock = time.perf_counter() - clock, time.perf_counter()
    common = dict(params=figures["params"], flops=figures["flops"], latency_ms=figures["latency_ms"])
    if violation is not None:
        return TrialResult(status="rejected", error=violation, metrics={"timings": timings}, **common)

    result = _fit_and_score(model, dataset=dataset, spec=spec, task=task, budget=budget, seed=seed, timings=timings,
                            **common)
    if result.status != "done":
        return result
    fitness, metrics = result.fitness, result.metrics
    edge_weights = None
    if genome.FAMILY == "assemblenet":
        from videonas.models.assemblenet import assemblenet_edge_weights

        edge_weights = {tuple(edge): float(w) for edge, w in assemblenet_edge_weights(model).items()}
    if save_weights is not None:
        path = Path(save_weights) / f"{genome.key}-{seed}.weights.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(path))
        metrics["weights_path"] = str(path)
    return TrialResult(fitness=fitness, metrics=metrics, edge_weights=edge_weights, **common)


def train_model(model, *, task: TrainTask, budget: Budget, seed: int) -> TrialResult:
    """Train and score a model that is not a genome (a baseline) with a candidate's recipe: the same clips (at
    ``task``'s frames, size and stride), loss, optimizer, budget and scoring. Seed Keras before building the model
    to fix its initial weights too."""
    import keras

    from videonas import measure

    keras.utils.set_random_seed(seed)
    spec = {"num_frames": task.num_frames, "image_size": task.image_size, "frame_stride": task.frame_stride,
            "inputs": tuple(tensor.name.split(":")[0] for tensor in model.inputs)}
    return _fit_and_score(model, dataset=_dataset(task), spec=spec, task=task, budget=budget, seed=seed, timings={},
                          params=measure.count_params(model), flops=None, latency_ms=None)


def _fit_and_score(model, *, dataset, spec: dict, task: TrainTask, budget: Budget, seed: int,
                   timings: dict[str, float], **common) -> TrialResult:
    """Load the cached clips, fit under the budget (stopping at a NaN loss), score the validation split."""
    import keras

    from videonas import data

    clock = time.perf_counter()
    inputs = tuple(spec["inputs"])
    clip_spec = data.ClipSpec(num_frames=spec["num_frames"], image_size=spec["image_size"],
                              frame_stride=spec["frame_stride"], rgb="rgb" in inputs, flow="flow" in inputs)
    train_clips = _subset(data.load_clips(dataset, "train", clip_spec), task.max_train_clips, task.data_seed)
    val_clips = _subset(data.load_clips(dataset, "val", clip_spec), task.max_val_clips, task.data_seed)
    train_batches = data.ClipBatches(train_clips, batch_size=task.batch_size, shuffle=True, seed=seed,
                                     inputs=inputs, augment=task.augment)
    val_batches = data.ClipBatches(val_clips, batch_size=task.batch_size, shuffle=False, seed=0, inputs=inputs)
    timings["data_s"], clock = time.perf_counter() - clock, time.perf_counter()

    loss = (keras.losses.BinaryCrossentropy(from_logits=True) if task.multi_label
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    # XLA compilation of every new architecture costs more than it saves at these budgets; ``run_eagerly`` also skips
    # graph tracing (seconds per candidate), which pays off only for budgets of a handful of steps.
    model.compile(optimizer=keras.optimizers.Adam(task.learning_rate), loss=loss, jit_compile=False,
                  run_eagerly=task.run_eagerly)
    recorder = _recorder(budget.seconds)
    model.fit(train_batches, epochs=budget.epochs, verbose=0,
              callbacks=[recorder, keras.callbacks.TerminateOnNaN()])
    timings["fit_s"], clock = time.perf_counter() - clock, time.perf_counter()
    timings["first_step_s"] = recorder.first_step_s
    metrics: dict[str, Any] = {"loss_curve": recorder.losses, "steps": len(recorder.losses),
                               "train_seconds": timings["fit_s"], "stopped_by_time": recorder.stopped_by_time,
                               "timings": timings, "num_train_clips": len(train_clips),
                               "num_val_clips": len(val_clips)}
    if not all(math.isfinite(value) for value in recorder.losses):
        return TrialResult.failed("NaN loss: training diverged", metrics=metrics, **common)

    fitness, metrics = _score(model, val_batches, val_clips, task.multi_label, metrics, dataset)
    timings["eval_s"] = time.perf_counter() - clock
    return TrialResult(fitness=fitness, metrics=metrics, **common)


def _dataset(task: TrainTask):
    from videonas import data

    if task.dataset.startswith("embedded:"):
        profile = task.dataset.split(":", 1)[1]
        dataset = data.embedded_dataset(profile, seed=task.data_seed, multi_label=task.multi_label)
    else:
        dataset = data.folder_dataset(task.dataset)
    return dataset if task.classes is None else dataset.subset(task.classes)


def _family_kwargs(genome: Genome, task: TrainTask) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"width_multiplier": task.width_multiplier}
    if genome.FAMILY in ("evanet", "assemblenet"):
        kwargs.update(num_frames=task.num_frames, image_size=task.image_size)
    return kwargs


def _subset(clips, limit: int | None, seed: int):
    """A fixed random subset of at most ``limit`` clips (the same for every candidate: fitnesses stay comparable)."""
    if limit is None or limit >= len(clips):
        return clips
    keep = numpy.sort(numpy.random.default_rng(seed).permutation(len(clips))[:limit])
    return dataclasses.replace(
        clips, rgb=None if clips.rgb is None else numpy.asarray(clips.rgb[keep]),
        flow=None if clips.flow is None else numpy.asarray(clips.flow[keep]), labels=clips.labels[keep],
        paths=[clips.paths[i] for i in keep])


def _score(model, val_batches, val_clips, multi_label: bool, metrics: dict[str, Any], dataset) -> tuple[float, dict]:
    """Top-1 (or mAP) on the validation split; with class kinds known, also top-1 per kind ("accuracy_by_kind")."""
    from videonas import metrics as scoring

    scores = numpy.asarray(model.predict(val_batches, verbose=0), dtype="float64")
    labels = numpy.asarray(val_clips.labels)
    if multi_label:
        fitness = float(scoring.mean_average_precision(labels, scores))
        metrics["mAP"] = fitness
    else:
        fitness = float(scoring.top_k_accuracy(labels, scores, k=1))
        metrics["accuracy"] = fitness
        if getattr(dataset, "class_kinds", None):
            kinds = [dataset.class_kinds.get(dataset.class_names[label], "other") for label in labels]
            metrics["accuracy_by_kind"] = scoring.accuracy_by_group(labels, scores, kinds)
    return fitness, metrics


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
