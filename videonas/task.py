"""What one candidate is trained on and for how long: the typed options every trial function receives.

``TrainTask`` (data, clip input, batch, learning rate), ``Budget`` (epochs) and ``TrialOptions`` (task, budget,
constraints, where to save weights) are parsed once on the search driver (``videonas.config``) and reach workers as
these objects, never as raw mappings to parse again. Parsing a mapping names the dotted path of a bad key or value
(``task.num_frames``); ``to_dict`` is the normalised form a trial store keeps, every default written out.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Sequence

import numpy

from videonas import checks, families
from videonas.checks import check_choice, check_float, check_int, check_keys, within
from videonas.genome.base import Genome
from videonas.search.constraints import Constraints

STREAMS = ("rgb", "flow")


@dataclasses.dataclass(frozen=True)
class Sampling:
    """How clips are sampled from each video (``task.sampling``); the defaults are one fixed centre clip per video,
    exactly as before these options existed.

    ``window_frames``: frames cached per video around its centre; longer than the model's clip, training draws the
    clip at a seeded random offset in the window every epoch (temporal jitter) and evaluation takes its centre (a
    clip at least as long as the window takes all of it). ``cache_scale``: the cached square's side over the input
    size (e.g. 256/224), room for crops. ``crop_scale``/``crop_ratio``: random resized crops in training (area fraction
    and width/height ranges; ``None``: the centre crop). ``fps``: sample at this frame rate instead of every
    ``frame_stride``-th source frame (a genome's own stride then steps through those frames). ``eval_clips`` x
    ``eval_crops``: the views of each val and test video (temporal positions over the window, crops across the cached
    square) whose logits are averaged; the usual Kinetics protocol is 10 x 3. ``segments``: one frame from each of
    the clip's equal segments of the whole video (TSN-style sparse sampling, a seek per frame) instead of a
    contiguous clip around the centre."""

    window_frames: int | None = None
    cache_scale: float = 1.0
    crop_scale: tuple[float, float] | None = None
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    fps: float | None = None
    eval_clips: int = 1
    eval_crops: int = 1
    segments: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.segments, bool):
            raise ValueError(f"task.sampling.segments must be true or false, got {self.segments!r}")
        if self.segments and (self.fps is not None or self.window_frames is not None):
            raise ValueError("task.sampling.segments spreads the frames over the whole video: it takes no fps or "
                             f"window_frames, got fps {self.fps!r}, window_frames {self.window_frames!r}")
        if self.window_frames is not None:
            check_int("task.sampling.window_frames", self.window_frames, 1, checks.MAX_FRAMES)
        check_float("task.sampling.cache_scale", self.cache_scale, 1.0, 4.0)
        for field, high in (("crop_scale", 1.0), ("crop_ratio", 100.0)):
            value = getattr(self, field)
            if value is None and field == "crop_scale":
                continue
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or len(value) != 2:
                raise ValueError(f"task.sampling.{field} must be a [low, high] pair, got {value!r}")
            for index, bound in enumerate(value):
                check_float(f"task.sampling.{field}[{index}]", bound, 1e-6, high)
            if not value[0] <= value[1]:
                raise ValueError(f"task.sampling.{field} must be [low, high] with low <= high, got {value!r}")
            object.__setattr__(self, field, (float(value[0]), float(value[1])))  # lists from JSON configs
        if self.fps is not None:
            check_float("task.sampling.fps", self.fps, 1e-3, 1000.0)
        check_int("task.sampling.eval_clips", self.eval_clips, 1, 100)
        check_int("task.sampling.eval_crops", self.eval_crops, 1, 10)
        if self.eval_clips > 1 and self.window_frames is None:
            raise ValueError(f"task.sampling.eval_clips {self.eval_clips} needs task.sampling.window_frames: the "
                             f"clips are spread over the cached window")
        if self.eval_crops > 1 and self.cache_scale == 1.0:
            raise ValueError(f"task.sampling.eval_crops {self.eval_crops} needs task.sampling.cache_scale > 1: at "
                             f"the input size every crop is the same")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "task.sampling") -> "Sampling":
        data = {} if data is None else data
        check_keys(path, data, (), [f.name for f in dataclasses.fields(cls)])
        return within(path, "task.sampling", lambda: cls(**data))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["crop_ratio"] = list(self.crop_ratio)
        data["crop_scale"] = None if self.crop_scale is None else list(self.crop_scale)
        return data

    @property
    def active(self) -> bool:
        """Whether any option differs from the single centre clip."""
        return self != Sampling()

    def window_spec(self, spec):
        """The ``ClipSpec`` cached for model input ``spec``: its window and square (``spec`` itself by default)."""
        if self.window_frames is None and self.cache_scale == 1.0:
            return spec
        return dataclasses.replace(spec, num_frames=max(spec.num_frames, self.window_frames or 0),
                                   image_size=round(spec.image_size * self.cache_scale))

    def samplers(self, spec, *, training: bool) -> list:
        """The ``videonas.data.views.Sampler`` of training (one) or of each evaluation view; ``[None]`` when the
        cached clips are the input."""
        if self.window_spec(spec) is spec and (not training or self.crop_scale is None):
            return [None]
        from videonas.data import views  # decoders and OpenCV: only when sampling is on

        sampler = views.Sampler(spec.num_frames, spec.image_size, jitter=training, crop_scale=self.crop_scale,
                                crop_ratio=self.crop_ratio)
        if training:
            return [sampler]
        return [dataclasses.replace(sampler, crop_scale=None, clip=clip, clips=self.eval_clips, crop=crop,
                                    crops=self.eval_crops)
                for clip in range(self.eval_clips) for crop in range(self.eval_crops)]


@dataclasses.dataclass(frozen=True)
class TrainTask:
    """What a candidate is trained on. ``num_frames``/``image_size``/``frame_stride`` are the clip input for families
    whose genome does not carry its own (TVN's does). ``dataset`` is anything ``videonas.data.DatasetSpec.from_value``
    reads: ``"embedded:smoke"``, ``"embedded:default"``, a folder or CSV path, or a mapping such as
    ``{"format": "charades", "path": ...}`` (the embedded data takes ``data_seed`` and ``multi_label`` from the task; a
    file format sets ``multi_label`` itself; a data set without a val split gets a stratified, seeded one).
    ``max_*_clips`` take a fixed random subset (the same for every candidate; ``max_val_clips`` caps test too).
    ``threads`` caps the backend's CPU threads (set it to cores / workers in a subprocess pool). ``classes`` restricts
    training and validation to some of the classes. ``sampling`` (``Sampling``): temporal jitter, random resized crops,
    a frame rate and multi-view evaluation; off by default. Fitness is scored on val (what searches select on); with
    ``score_test`` a data set's held-out test split is scored too, into ``metrics["test"]``, for reports only: nothing
    selects on it. ``loader_workers``: processes that decode a split into the clip cache (the same clips with any
    count; more pay off on data past the source cache's budget). ``derive_from_largest``: cut a smaller RGB input from
    the largest entry of its split already cached instead of decoding it (close to decoding, not equal: see
    ``videonas.data.entries``)."""

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
    sampling: Sampling = Sampling()
    loader_workers: int = 1
    derive_from_largest: bool = False

    def __post_init__(self) -> None:
        from videonas.data.spec import DatasetSpec

        try:
            spec = DatasetSpec.from_value(self.dataset)
        except ValueError as error:
            raise ValueError(f"task.dataset: {error}") from None
        object.__setattr__(self, "dataset", spec.to_dict() if isinstance(self.dataset, DatasetSpec) else self.dataset)
        if spec.format != "embedded":  # a file format says how it is scored (Charades: multi-label, mAP)
            object.__setattr__(self, "multi_label", spec.multi_label)
        check_int("task.num_frames", self.num_frames, 1, checks.MAX_FRAMES)
        check_int("task.image_size", self.image_size, checks.MIN_IMAGE_SIZE, checks.MAX_IMAGE_SIZE)
        check_int("task.frame_stride", self.frame_stride, 1, 64)
        check_int("task.batch_size", self.batch_size, 1, 4096)
        check_float("task.learning_rate", self.learning_rate, 1e-8, 10.0)
        check_int("task.data_seed", self.data_seed, 0, 2**32 - 1)
        check_float("task.width_multiplier", self.width_multiplier, 1e-3, 64.0)
        check_int("task.loader_workers", self.loader_workers, 1, 64)
        for field in ("multi_label", "augment", "measure_latency", "run_eagerly", "score_test", "derive_from_largest"):
            if not isinstance(getattr(self, field), bool):
                raise ValueError(f"task.{field} must be true or false, got {getattr(self, field)!r}")
        if self.classes is not None:
            if isinstance(self.classes, str) or not all(isinstance(name, str) for name in self.classes):
                raise ValueError(f"task.classes must be a list of class names, got {self.classes!r}")
            object.__setattr__(self, "classes", tuple(self.classes))  # lists from JSON configs
        for field in ("max_train_clips", "max_val_clips", "threads"):
            if getattr(self, field) is not None:
                check_int(f"task.{field}", getattr(self, field), 1, 10**9)
        if not isinstance(self.sampling, Sampling):
            object.__setattr__(self, "sampling", Sampling.from_dict(self.sampling))
        if self.sampling.fps is not None and self.frame_stride != 1:
            raise ValueError(f"task.sampling.fps {self.sampling.fps!r} and task.frame_stride {self.frame_stride!r} "
                             f"both set the sampling rate: give one")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "task") -> "TrainTask":
        data = {} if data is None else data
        check_keys(path, data, (), [f.name for f in dataclasses.fields(cls)])
        return within(path, "task", lambda: cls(**data))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, every field written out (``classes`` as a list) but a default ``sampling``, ``loader_workers``
        or ``derive_from_largest``, left out so that tasks stored before they existed compare equal."""
        data = dataclasses.asdict(self)
        for field, default in (("loader_workers", 1), ("derive_from_largest", False)):
            if data[field] == default:
                del data[field]
        data["classes"] = None if self.classes is None else list(self.classes)
        if self.sampling.active:
            data["sampling"] = self.sampling.to_dict()
        else:
            del data["sampling"]
        return data

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
        at the task's; ``inputs`` names the streams (``"rgb"``, ``"flow"``). With ``sampling.fps``, frames are
        sampled at that rate over the stride (``frame_stride`` is 1 unless a genome carries its own)."""
        from videonas import data

        for index, name in enumerate(inputs):
            check_choice(f"inputs[{index}]", name, STREAMS)
        num_frames, image_size, frame_stride = self.num_frames, self.image_size, self.frame_stride
        if genome is not None:
            num_frames, image_size, frame_stride = families.of(genome).clip_input(
                genome, num_frames=num_frames, image_size=image_size, frame_stride=frame_stride)
        if self.sampling.fps is not None:
            return data.ClipSpec(num_frames=num_frames, image_size=image_size, fps=self.sampling.fps / frame_stride,
                                 rgb="rgb" in inputs, flow="flow" in inputs)
        if self.sampling.segments:
            return data.ClipSpec(num_frames=num_frames, image_size=image_size, sampling="segments",
                                 rgb="rgb" in inputs, flow="flow" in inputs)
        return data.ClipSpec(num_frames=num_frames, image_size=image_size, frame_stride=frame_stride,
                             rgb="rgb" in inputs, flow="flow" in inputs)

    def load(self, dataset, split: str, clip_spec):
        """The clips of ``split``, cut to the task's fixed subset (the same for every candidate). Pass
        ``sampling.window_spec(spec)`` to get the windows the samplers cut from."""
        from videonas import data

        limit = self.max_train_clips if split == "train" else self.max_val_clips
        clips = data.load_clips(dataset, split, clip_spec, loader_workers=self.loader_workers,
                                derive_from_largest=self.derive_from_largest)
        return subset_clips(clips, limit, self.data_seed)


@dataclasses.dataclass(frozen=True)
class Budget:
    """Training budget: at most ``epochs`` epochs and (if set) ``seconds`` of training wall time.

    ``score_epochs``: also score the validation split after each of these epochs (each below ``epochs``), into
    ``metrics["val_by_epoch"]``: the fitness a shorter budget would have given, recorded during one training. Training
    goes on unchanged (scoring draws no random numbers), so it equals what a run stopped there would score.

    ``patience``: train until validation stops improving, so that every network of a comparison trains as long as it
    profits from (``epochs`` is then the maximum). Validation is scored after every epoch; training stops once it has
    not improved (strictly) for ``patience`` epochs, and the best epoch's weights are the ones scored, tested and
    saved. It takes no ``score_epochs`` (every epoch is scored, into ``val_by_epoch``, and a shorter budget would
    have picked among fewer epochs, so those scores are not what it would have given)."""

    epochs: int = 1
    seconds: float | None = None
    score_epochs: tuple[int, ...] = ()
    patience: int | None = None

    def __post_init__(self) -> None:
        check_int("budget.epochs", self.epochs, 1, 100_000)
        if self.seconds is not None:
            check_float("budget.seconds", self.seconds, 1e-3, 1e9)
        if isinstance(self.score_epochs, (str, bytes)) or not isinstance(self.score_epochs, (list, tuple)):
            raise ValueError(f"budget.score_epochs must be a list of epochs, got {self.score_epochs!r}")
        for index, epoch in enumerate(self.score_epochs):
            check_int(f"budget.score_epochs[{index}]", epoch, 1, self.epochs - 1)
        object.__setattr__(self, "score_epochs", tuple(sorted(set(self.score_epochs))))
        if self.patience is not None:
            check_int("budget.patience", self.patience, 1, 100_000)
            if self.score_epochs:
                raise ValueError(f"budget.score_epochs {list(self.score_epochs)} with budget.patience "
                                 f"{self.patience}: with patience every epoch is scored into val_by_epoch, and a "
                                 f"shorter budget would have restored a different best epoch; leave score_epochs out")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "budget") -> "Budget":
        data = {} if data is None else data
        check_keys(path, data, (), [f.name for f in dataclasses.fields(cls)])
        return within(path, "budget", lambda: cls(**data))

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if self.score_epochs:
            data["score_epochs"] = list(self.score_epochs)
        else:
            del data["score_epochs"]  # budgets stored before the field existed compare equal
        if self.patience is None:
            del data["patience"]  # likewise
        return data


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """How long one evaluation of a candidate trains, and from where: the rung of a multi-fidelity search.

    The candidate trains until it has seen ``epochs`` epochs in all. ``start_epochs`` of them were trained before and
    are restored from the checkpoint ``resume_from`` (weights, optimizer state, and the data order of the next epoch,
    which depends on the training seed and the epoch index only), so that continuing equals training the same length
    without a stop. ``save_to`` is where its checkpoint goes after training (for a later rung, or for children that
    inherit it); ``inherit_from`` is a parent's checkpoint whose layers of matching name and shape initialise a fresh
    model (weight inheritance; the other layers keep their fresh initialisation)."""

    epochs: int
    start_epochs: int = 0
    resume_from: str | None = None
    save_to: str | None = None
    inherit_from: str | None = None

    def __post_init__(self) -> None:
        check_int("fidelity.epochs", self.epochs, 1, 100_000)
        check_int("fidelity.start_epochs", self.start_epochs, 0, self.epochs - 1)
        if (self.start_epochs > 0) != (self.resume_from is not None):
            raise ValueError(f"fidelity: start_epochs {self.start_epochs} needs resume_from (and only then), got "
                             f"{self.resume_from!r}")
        if self.resume_from is not None and self.inherit_from is not None:
            raise ValueError("fidelity: a candidate resumes its own checkpoint or inherits a parent's, not both")


@dataclasses.dataclass(frozen=True)
class TrialOptions:
    """What one trial of the default trial function receives, typed: a run configuration's task, budget, constraints
    and ``save_weights`` (a folder for each trained candidate's weights, or ``None``)."""

    task: TrainTask = TrainTask()
    budget: Budget = Budget()
    constraints: Constraints = Constraints()
    save_weights: str | None = None
    fidelity: Fidelity | None = None  # set by a multi-fidelity search per evaluation; None: ``budget`` from scratch

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "") -> "TrialOptions":
        """From the plain form (keys ``task``, ``budget``, ``constraints``, ``save_weights``); ``path`` prefixes the
        dotted names in errors (``""`` at the top of a run configuration)."""
        data = {} if data is None else data
        check_keys(path or "options", data, (), [f.name for f in dataclasses.fields(cls) if f.name != "fidelity"])
        prefix = f"{path}." if path else ""
        save_weights = data.get("save_weights")
        if save_weights is not None and not isinstance(save_weights, (str, os.PathLike)):
            raise ValueError(f"{prefix}save_weights must be a folder path or null, got {save_weights!r}")
        constraints = data.get("constraints")
        return cls(TrainTask.from_dict(data.get("task"), path=f"{prefix}task"),
                   Budget.from_dict(data.get("budget"), path=f"{prefix}budget"),
                   within(f"{prefix}constraints", "constraints",
                          lambda: Constraints.from_dict(constraints, path=f"{prefix}constraints")),
                   None if save_weights is None else str(save_weights))

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.to_dict(), "budget": self.budget.to_dict(),
                "constraints": self.constraints.to_dict(), "save_weights": self.save_weights}


def subset_clips(clips, limit: int | None, seed: int):
    """A fixed random subset of at most ``limit`` clips (the same for every candidate: fitnesses stay comparable)."""
    if limit is None or limit >= len(clips):
        return clips
    keep = numpy.sort(numpy.random.default_rng(seed).permutation(len(clips))[:limit])
    return dataclasses.replace(
        clips, rgb=None if clips.rgb is None else numpy.asarray(clips.rgb[keep]),
        flow=None if clips.flow is None else numpy.asarray(clips.flow[keep]), labels=clips.labels[keep],
        paths=[clips.paths[i] for i in keep])


