"""How a candidate is trained and evaluated: the one training recipe of the package.

``fit_and_score`` is the recipe: load the task's cached clips, fit with Adam under the budget (stopping at the first
NaN loss), score the validation split (top-1, or mAP for multi-label tasks) and, for reports, the held-out test split. ``train_candidate`` (the search's trial
function) builds a genome's model, checks the constraints first (a rejected candidate never loads data or trains)
and then runs the recipe; ``train_model`` runs the same recipe on any model (a baseline); the ensemble members use
``fit`` and ``predict``.

Early stopping (``budget.patience``): the best validation epoch's weights are tested and saved; ``metrics`` add
``epochs_trained``, ``best_epoch``, ``val_by_epoch`` and ``max_steps`` (what the budget allowed, beside ``steps``).

Multi-fidelity: with a ``videonas.task.Fidelity`` (set per evaluation by a search with rungs), training runs to
``fidelity.epochs`` in all, continuing from the checkpoint of an earlier evaluation (``resume_from``: weights,
optimizer state, and the data order of the next epoch) or starting fresh with the parent's matching layers
(``inherit_from``), and writes its own checkpoint (``save_to``; format in ``videonas.checkpoint``). Continuing equals
training the same length without a stop: the batches depend on (seed, epoch) only and dropout's seed counters are
part of the checkpoint.

Trial functions receive typed options (``videonas.task.TrialOptions``), parsed once on the search driver from the run
configuration (``videonas.config``), so a typo is one ``ValueError`` at start-up, not a store of failures.

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

from videonas import checkpoint as checkpoints, families, metrics as scoring, models, runtimes
from videonas.checks import check_choice
from videonas.deploy import runtimes as deploy_runtimes
from videonas.genome.base import Genome
from videonas.models import cost as model_cost
from videonas.search.constraints import Constraints
from videonas.search.store import TrialResult
from videonas.task import Budget, Fidelity, STREAMS, TrainTask, TrialOptions


def evaluate_trial(genome: Genome, *, seed: int, options: TrialOptions) -> TrialResult:
    """The search's default trial function (``"videonas.train:evaluate_trial"``)."""
    return train_candidate(genome, task=options.task, budget=options.budget, seed=seed,
                           constraints=options.constraints, save_weights=options.save_weights,
                           fidelity=options.fidelity)


@dataclasses.dataclass(frozen=True)
class ModelTrialOptions:
    """``evaluate_model``'s options: a named model (``videonas.models.create_model``) and the trial's options."""

    model: str
    model_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    trial: TrialOptions = TrialOptions()

    def __post_init__(self) -> None:
        try:
            models.model_info(self.model)
        except ValueError as error:
            raise ValueError(f"model: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        """The plain form ``typed_options`` reads back."""
        return {"model": self.model, "model_options": dict(self.model_options), **self.trial.to_dict()}


def typed_options(options: Mapping[str, Any]) -> TrialOptions | ModelTrialOptions:
    """The typed options of a job from their plain form: ``{"task", "budget", ...}`` trains a genome
    (``evaluate_trial``); with ``model`` and ``model_options`` too, a named model (``evaluate_model``)."""
    options = dict(options)
    model, model_options = options.pop("model", None), options.pop("model_options", None) or {}
    trial = TrialOptions.from_dict(options)
    return trial if model is None else ModelTrialOptions(model, dict(model_options), trial)


def job_options(function: str, options: Mapping[str, Any]) -> Any:
    """What a job for trial ``function`` carries: typed options for this module's trial functions, checked here on
    the driver; another function's keyword options unchanged."""
    if function in ("videonas.train:evaluate_trial", "videonas.train:evaluate_model"):
        return typed_options(options)
    return dict(options)


def evaluate_model(genome: None, *, seed: int, options: ModelTrialOptions) -> TrialResult:
    """A trial function for a named model instead of a genome, for executors: a baseline trained over seeds with a
    candidate's recipe at the task's input. ``genome`` is ``None``."""
    task = options.trial.task
    _limit_threads(task)
    import keras  # deferred: after the thread cap, which must precede the backend's start

    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    dataset = task.open_dataset()
    built = models.create_model(options.model, num_classes=len(dataset.class_names), num_frames=task.num_frames,
                                image_size=task.image_size, multi_label=task.multi_label,
                                **dict(options.model_options))
    return train_model(built, task=task, budget=options.trial.budget, seed=seed)


def _limit_threads(task: TrainTask) -> None:
    """Cap the backend's CPU threads at ``task.threads``: effective only before the backend is imported, i.e. in a
    fresh worker, so every trial function calls this before ``import keras``."""
    if task.threads is not None:
        for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
            os.environ.setdefault(variable, str(task.threads))


def train_candidate(genome: Genome, *, task: TrainTask, budget: Budget, seed: int,
                    constraints: Constraints | None = None, save_weights: str | Path | None = None,
                    fidelity: Fidelity | None = None) -> TrialResult:
    """Check the genome's estimated cost, build, check the model's constraints, train, evaluate. Returns a done,
    rejected or failed ``TrialResult``; one rejected before building has ``metrics["rejected_before_build"]`` and the
    estimate (``metrics["estimate"]``: params, FLOPs, training memory at ``task.batch_size``). ``fidelity`` (see
    ``fit``) replaces ``budget.epochs``; ``None`` trains ``budget.epochs`` from scratch.

    ``metrics["timings"]`` splits the wall time (import, build, constraints, data, fit, first step (graph tracing),
    evaluation) so the per-candidate overhead can be measured.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    _limit_threads(task)
    import keras

    family = families.of(genome)
    timings["import_s"], clock = time.perf_counter() - clock, time.perf_counter()
    keras.backend.clear_session()  # in-process executor: earlier candidates' graphs and layer names do not pile up
    keras.utils.set_random_seed(seed)
    dataset = task.open_dataset()
    # Cheap checks first: every built-in family counts params, FLOPs and training memory from the genome, so a
    # candidate that breaks P, a FLOP cap or the training-memory ceiling (always set: ``MaxTrainMemory``'s default) is
    # rejected before a weight is allocated. Params and FLOPs are rejected here only past the family's stated error.
    limits = constraints or Constraints()
    num_classes = len(dataset.class_names)
    estimate = family.estimate_cost(genome, num_classes=num_classes, width_multiplier=task.width_multiplier,
                                    num_frames=task.num_frames, image_size=task.image_size,
                                    batch_size=task.batch_size)
    rejection = None if estimate is None else limits.violation(estimate, tolerance=family.cost_tolerance)
    if rejection is not None:
        timings["constraints_s"] = time.perf_counter() - clock
        return TrialResult(status="rejected", error=rejection.reason, rejected_by=rejection.rejected_by,
                           params=estimate["params"], flops=estimate["flops"],
                           metrics={"timings": timings, "rejected_before_build": True, "estimate": estimate})
    model = models.build_model(genome, num_classes=num_classes, multi_label=task.multi_label,
                               num_frames=task.num_frames, image_size=task.image_size,
                               width_multiplier=task.width_multiplier)
    timings["build_s"], clock = time.perf_counter() - clock, time.perf_counter()
    if estimate is None:  # a family without an estimator: its built model is held to the memory ceiling instead
        memory = model_cost.model_train_memory_bytes(model, batch_size=task.batch_size)
        if (rejection := limits.violation({"train_memory_bytes": memory})) is not None:
            return TrialResult(status="rejected", error=rejection.reason, rejected_by=rejection.rejected_by,
                               metrics={"timings": timings, "estimate": {"train_memory_bytes": memory}})
    latency_setup: dict[str, Any] = {}
    figures, rejection = limits.check(model, latency=task.measure_latency, details=latency_setup,
                                      time_latency=deploy_runtimes.measure_latency)
    timings["constraints_s"] = time.perf_counter() - clock
    if rejection is not None:
        return TrialResult(status="rejected", error=rejection.reason, rejected_by=rejection.rejected_by,
                           metrics={"timings": timings, **({"latency": latency_setup} if latency_setup else {})},
                           **figures)

    result = fit_and_score(model, task=task, budget=budget, seed=seed, genome=genome, dataset=dataset,
                           timings=timings, fidelity=fidelity, **figures)
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
                  timings: dict[str, float] | None = None, fidelity: Fidelity | None = None,
                  **figures: Any) -> TrialResult:
    """The recipe: fit ``model`` under ``budget`` (stopping at a NaN loss) and score the validation split (and the
    test split, for reports: see ``TrainTask.score_test``).

    Clips are at ``genome``'s input when its family carries it, else at ``task``'s; the streams are the model's
    input names. ``figures`` (params, flops, latency_ms) are passed through to the result. A ``fidelity`` checkpoint
    that is missing or does not fit the model fails the trial, naming the path. With ``budget.patience`` the model
    ends with the weights of its best validation epoch (the first of equal bests).
    """
    if budget.patience is not None and fidelity is not None:
        raise ValueError(f"budget.patience {budget.patience} with a fidelity (a rung of a multi-fidelity search): a "
                         f"rung trains to its epochs and continues from its checkpoint, which early stopping would "
                         f"cut short and roll back; train with rungs or with patience, not both")
    timings = {} if timings is None else timings
    dataset = task.open_dataset() if dataset is None else dataset
    val_by_epoch: dict[str, float] = {}
    best: dict[str, Any] = {}  # with patience: the best epoch, its scores and its weights

    def score_val() -> tuple[float, dict[str, Any], int]:
        scores, clips = predict(model, task=task, genome=genome, dataset=dataset)
        return (*score(scores, clips.labels, multi_label=task.multi_label, dataset=dataset), len(clips))

    def score_during(epoch: int) -> int:
        """Score epoch ``epoch``; with patience keep its weights while it is the best. Epochs since the best."""
        clock = time.perf_counter()
        scored = score_val()
        val_by_epoch[str(epoch)] = scored[0]
        if budget.patience is not None and (not best or scored[0] > best["scored"][0]):
            best.update(epoch=epoch, scored=scored, weights=model.get_weights())
        timings["score_epochs_s"] = timings.get("score_epochs_s", 0.0) + time.perf_counter() - clock
        return epoch - best.get("epoch", epoch)

    scoring = budget.score_epochs or budget.patience is not None
    scorers = [_epoch_scorer(budget.score_epochs or None, score_during, patience=budget.patience)]
    try:
        metrics = fit(model, task=task, budget=budget, seed=seed, genome=genome, dataset=dataset, timings=timings,
                      fidelity=fidelity, callbacks=scorers if scoring else ())
    except checkpoints.CheckpointError as error:
        return TrialResult.failed(str(error), metrics={"timings": timings}, **figures)
    if not all(math.isfinite(value) for value in metrics["loss_curve"]):
        return TrialResult.failed("NaN loss: training diverged", metrics=metrics, **figures)
    clock = time.perf_counter()
    if best:
        model.set_weights(best["weights"])  # the best epoch's weights are the ones tested and saved
        fitness, scored, num_val_clips = best["scored"]
        metrics.update(best_epoch=best["epoch"], val_by_epoch=val_by_epoch)
    else:
        fitness, scored, num_val_clips = score_val()
    metrics.update(scored, num_val_clips=num_val_clips)
    if budget.score_epochs:
        final = {} if metrics["stopped_by_time"] else {str(metrics.get("epochs_trained", budget.epochs)): fitness}
        metrics["val_by_epoch"] = {**val_by_epoch, **final}
    timings["eval_s"], clock = time.perf_counter() - clock, time.perf_counter()
    if task.score_test and "test" in dataset.splits:
        scores, clips = predict(model, task=task, split="test", genome=genome, dataset=dataset)
        metrics["test"] = {**score(scores, clips.labels, multi_label=task.multi_label, dataset=dataset)[1],
                           "num_clips": len(clips)}
        timings["test_s"] = time.perf_counter() - clock
    metrics["backend"] = runtimes.backend()  # results differ between backends: a report says which trained them
    return TrialResult(fitness=fitness, metrics=metrics, **figures)


def fit(model, *, task: TrainTask, budget: Budget, seed: int, genome: Genome | None = None, dataset=None,
        timings: dict[str, float] | None = None, fidelity: Fidelity | None = None,
        callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Compile and fit ``model`` on the task's training clips; returns the loss curve, steps and timings.

    Without ``fidelity``: ``budget.epochs`` from the model's current weights. With one: up to ``fidelity.epochs``
    epochs in all, from its ``resume_from`` checkpoint (after ``start_epochs``) or from the model's weights with
    ``inherit_from``'s matching layers copied in; ``budget.seconds`` still caps this evaluation's training time. The
    metrics add ``epochs_trained`` (whole epochs in all), ``checkpoint`` (``save_to``, written unless the loss is
    NaN) and ``inherited_layers`` (how many layers were copied). Raises ``videonas.checkpoint.CheckpointError`` for a
    checkpoint that is missing or does not fit, before any data is loaded.
    """
    import keras

    from videonas import data

    timings = {} if timings is None else timings
    clock = time.perf_counter()
    epochs, start_epochs = (budget.epochs, 0) if fidelity is None else (fidelity.epochs, fidelity.start_epochs)
    resumed = inherited = None
    if fidelity is not None and fidelity.resume_from is not None:
        resumed = checkpoints.read(fidelity.resume_from, field="fidelity.resume_from")
        if resumed.epochs != start_epochs:
            raise checkpoints.CheckpointError(
                f"fidelity.resume_from: {fidelity.resume_from!r} holds {resumed.epochs} epochs, "
                f"fidelity.start_epochs is {start_epochs}")
    if fidelity is not None and fidelity.inherit_from is not None:
        inherited = checkpoints.inherit(model, checkpoints.read(fidelity.inherit_from, field="fidelity.inherit_from"))
    dataset = task.open_dataset() if dataset is None else dataset
    inputs = model_inputs(model)
    spec = task.clip_spec(inputs=inputs, genome=genome)
    clips = task.load(dataset, "train", task.sampling.window_spec(spec))
    batches = data.ClipBatches(clips, batch_size=task.batch_size, shuffle=True, seed=seed, inputs=inputs,
                               augment=task.augment, start_epoch=start_epochs,
                               sampler=task.sampling.samplers(spec, training=True)[0])
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
    if resumed is not None:
        checkpoints.restore(model, resumed, field="fidelity.resume_from")
    recorder = _recorder(budget.seconds)
    # ``shuffle=False``: the batches already come in a (seed, epoch) order; Keras's own shuffle of the batch order
    # would draw from Python's global random state, which a continued run cannot replay.
    model.fit(batches, initial_epoch=start_epochs, epochs=epochs, shuffle=False, verbose=0,
              callbacks=[recorder, keras.callbacks.TerminateOnNaN(), *callbacks])
    timings["fit_s"] = time.perf_counter() - clock
    timings["first_step_s"] = recorder.first_step_s
    metrics = {"loss_curve": recorder.losses, "steps": len(recorder.losses), "train_seconds": timings["fit_s"],
               "stopped_by_time": recorder.stopped_by_time, "timings": timings, "num_train_clips": len(clips)}
    if budget.patience is not None:  # what the budget allowed beside what was trained
        metrics.update(epochs_trained=recorder.whole_epochs, patience=budget.patience,
                       max_steps=epochs * len(batches))
    if fidelity is not None:
        metrics["epochs_trained"] = start_epochs + recorder.whole_epochs
        if fidelity.save_to is not None and all(math.isfinite(value) for value in recorder.losses):
            checkpoints.save(model, fidelity.save_to, epochs=metrics["epochs_trained"])
            metrics["checkpoint"] = str(fidelity.save_to)
        if inherited is not None:
            metrics["inherited_layers"] = len(inherited)
    return metrics


def predict(model, *, task: TrainTask, split: str = "val", genome: Genome | None = None, dataset=None):
    """``(scores, clips)``: the model's float64 logits on the task's ``split`` clips, in clip order; averaged over
    the views of ``task.sampling`` (``eval_clips`` x ``eval_crops``) when it sets several."""
    from videonas import data

    dataset = task.open_dataset() if dataset is None else dataset
    inputs = model_inputs(model)
    spec = task.clip_spec(inputs=inputs, genome=genome)
    clips = task.load(dataset, split, task.sampling.window_spec(spec))
    scores = [numpy.asarray(model.predict(data.ClipBatches(clips, batch_size=task.batch_size, shuffle=False, seed=0,
                                                           inputs=inputs, sampler=sampler), verbose=0), "float64")
              for sampler in task.sampling.samplers(spec, training=False)]
    return numpy.mean(scores, axis=0), clips


def score(scores, labels, *, multi_label: bool, dataset=None) -> tuple[float, dict[str, Any]]:
    """Top-1 (or mAP) and its metrics; with class kinds known, also top-1 per kind (``accuracy_by_kind``)."""

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


def _epoch_scorer(epochs: Sequence[int] | None, score_after, *, patience: int | None = None):
    """A callback that calls ``score_after(epoch)`` after each of ``epochs`` (``None``: every epoch; counted from 1
    over the whole training, continued runs included) whose steps all ran and whose loss is finite; with ``patience``,
    it stops training once ``score_after`` returns that many epochs since the best."""
    import keras

    class EpochScorer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None) -> None:
            if ((epochs is None or epoch + 1 in epochs) and not self.model.stop_training
                    and math.isfinite((logs or {}).get("loss", 0.0))):
                if score_after(epoch + 1) >= (patience or math.inf):
                    self.model.stop_training = True

    return EpochScorer()


def _recorder(seconds: float | None):
    """A callback that records the loss after each step (Keras reports the epoch's running mean) and stops training
    once ``seconds`` of training have passed. Defined here so that importing this module does not import Keras."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.losses: list[float] = []
            self.whole_epochs = 0  # epochs that ran all their steps (a time budget can stop one midway)
            self.epoch_first_step = 0
            self.first_step_s = 0.0
            self.stopped_by_time = False
            self.start = time.perf_counter()

        def on_train_begin(self, logs=None) -> None:
            self.start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None) -> None:
            self.epoch_first_step = len(self.losses)

        def on_epoch_end(self, epoch, logs=None) -> None:
            if len(self.losses) - self.epoch_first_step == self.params.get("steps"):
                self.whole_epochs += 1

        def on_train_batch_end(self, batch, logs=None) -> None:
            elapsed = time.perf_counter() - self.start
            if not self.losses:
                self.first_step_s = elapsed
            self.losses.append(float((logs or {}).get("loss", float("nan"))))
            if seconds is not None and elapsed > seconds:
                self.stopped_by_time = True
                self.model.stop_training = True

    return Recorder()
