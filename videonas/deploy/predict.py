"""Run an exported network on a video file: ``videonas predict`` and ``predict(path, video)`` from Python.

    from videonas.deploy import predict
    predict.predict("exported", "clip.mp4")                    # [("motion_left", 0.91), ("motion_right", 0.04), ...]
    predictor = predict.load("exported", runtime="litert")     # open once, run on many videos

The clip is decoded and preprocessed as training decoded it (``videonas.data.decode_clip``, ``resize_clip``,
``compute_flow``), with every number read from the export's manifest (``videonas.deploy.manifest``): frames, stride or
fps, image size, crop, scale, mean and std; nothing here knows them. The answer is every class with its probability,
most likely first: the softmax of the logits, or a sigmoid per class for a multi-label network (its output section).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy

from videonas import runtimes as runtime_names
from videonas.deploy import manifest as manifests
from videonas.deploy import runtimes as rt

MANIFEST_SUFFIX = ".manifest.json"
ACTIVATIONS = ("softmax", "sigmoid")


def open_manifest(path: str | Path) -> tuple[dict[str, Any], Path, str | None]:
    """``(manifest, folder of its files, runtime of the model file given or None)`` for an export folder (holding
    one ``*.manifest.json``), a manifest file, or a model file that carries its manifest (``.onnx``, ``.tflite``,
    ``.keras``)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob(f"*{MANIFEST_SUFFIX}"))
        if len(found) != 1:
            names = ", ".join(item.name for item in found) or "none"
            raise ValueError(f"export folder {str(path)!r} must hold one *{MANIFEST_SUFFIX} file, has {names}: "
                             "give the manifest file itself")
        path = found[0]
    if not path.is_file():
        raise ValueError(f"export {str(path)!r} does not exist (an export folder, a {MANIFEST_SUFFIX} file or a "
                         "model file written by videonas export)")
    if path.name.endswith(MANIFEST_SUFFIX):
        try:
            loaded = json.loads(path.read_text())
        except ValueError as error:
            raise ValueError(f"manifest {str(path)!r} is not JSON: {error}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"manifest {str(path)!r} must be a JSON object, got {type(loaded).__name__}")
        return loaded, path.parent, None
    runtime = {suffix: name for name, suffix in rt.SUFFIXES.items()}.get(path.suffix)
    if runtime is None:
        raise ValueError(f"export {str(path)!r} must be a folder, a {MANIFEST_SUFFIX} file or a .onnx, .tflite or "
                         ".keras file")
    return manifests.read_embedded(path), path.parent, runtime


class Predictor:
    """An exported network opened on one runtime: ``predictor(video)`` gives ``[(class name, probability), ...]``.

    ``runtime`` defaults to the model file's when one was given, else ``onnxruntime``.
    """

    def __init__(self, path: str | Path, *, runtime: str | None = None, threads: int | None = None) -> None:
        self.manifest, folder, given = open_manifest(path)
        self.source = f"manifest of {str(path)!r}"
        self.runtime = runtime_names.check_runtime("runtime", runtime or given or "onnxruntime")
        files = self._field("files")
        if self.runtime not in files:
            raise ValueError(f"{self.source}: field files has no {self.runtime!r} file (has {sorted(files)})")
        self.path = folder / files[self.runtime]
        if not self.path.is_file():
            raise ValueError(f"{self.source}: files.{self.runtime} {str(self.path)!r} does not exist")
        if self.manifest.get("class_names") is None and (self.manifest.get("source") or {}).get("preset"):
            raise ValueError(f"{self.source}: field class_names is missing: an untrained --preset export has no "
                             "classes (export a search's trial to predict)")
        self.class_names = list(self._field("class_names"))
        self.activation = self._field("output.activation")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"{self.source}: output.activation must be one of {list(ACTIVATIONS)}, got "
                             f"{self.activation!r}")
        self.preprocessing = check_preprocessing(self._field("preprocessing"), source=self.source)
        if self.runtime == "keras":
            from videonas import layers  # noqa: F401 - registers the custom layers the .keras file names

        self.runner = rt.load(self.path, runtime=self.runtime, threads=threads)

    def _field(self, dotted: str) -> Any:
        return manifests.field(self.manifest, dotted, source=self.source)

    def inputs(self, video: str | Path) -> dict[str, numpy.ndarray]:
        """``{stream: float32 (1, T, H, W, C)}``: the video decoded and preprocessed as the manifest says."""
        return clip_feed(self.preprocessing, video, source=self.source)

    def logits(self, video: str | Path) -> numpy.ndarray:
        """The network's logits (one per class) on ``video``."""
        return numpy.asarray(self.runner(self.inputs(video)))[0]

    def __call__(self, video: str | Path, *, top_k: int | None = None) -> list[tuple[str, float]]:
        """Classes with their probabilities, most likely first (the ``top_k`` first)."""
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        logits = self.logits(video)
        if len(logits) != len(self.class_names):
            raise ValueError(f"{self.source}: class_names has {len(self.class_names)} names, the network gives "
                             f"{len(logits)} logits")
        probabilities = probabilities_of(logits, activation=self.activation)
        order = numpy.argsort(-probabilities, kind="stable")[:top_k]
        return [(self.class_names[index], float(probabilities[index])) for index in order]


def check_preprocessing(preprocessing: Mapping[str, Any], *, source: str = "manifest") -> Mapping[str, Any]:
    """``preprocessing`` (a manifest's section) when every field a clip needs is there, before a video is opened;
    else ``ValueError`` naming the first missing or unsupported field."""
    def get(dotted: str, nullable: bool = False) -> Any:
        return manifests.field({"preprocessing": preprocessing}, f"preprocessing.{dotted}", source=source,
                               nullable=nullable)

    if get("version") != manifests.VERSION:
        raise ValueError(f"{source}: preprocessing.version must be {manifests.VERSION}, got {get('version')!r}")
    for dotted in ("decode.num_frames", "decode.frame_stride", "resize.image_size", "streams"):
        get(dotted)
    for dotted in ("decode.fps", "decode.start"):
        get(dotted, nullable=True)
    for dotted, supported in (("decode.temporal", "center"), ("resize.crop", "center")):
        if get(dotted) != supported:
            raise ValueError(f"{source}: preprocessing.{dotted} {get(dotted)!r} is not supported (only {supported!r})")
    for name in get("streams"):
        if name not in ("rgb", "flow"):
            raise ValueError(f"{source}: preprocessing.streams.{name} is not a stream videonas decodes (rgb, flow)")
        for key in ("shape", "scale", "training_dtype") + (("method", "flow_scale") if name == "flow" else ()):
            get(f"streams.{name}.{key}")
        for key in ("mean", "std"):
            get(f"streams.{name}.{key}", nullable=True)
    return preprocessing


def clip_feed(preprocessing: Mapping[str, Any], video: str | Path, *,
              source: str = "manifest") -> dict[str, numpy.ndarray]:
    """``{stream: float32 (1, T, H, W, C)}``: ``video`` decoded and preprocessed as ``preprocessing`` (a manifest's
    section, see ``check_preprocessing``) says, which is how training decoded and batched its clips."""
    from videonas import data  # PyAV/OpenCV: deferred

    check_preprocessing(preprocessing, source=source)
    if not Path(video).is_file():
        raise ValueError(f"video {str(video)!r} does not exist")
    decode, size = preprocessing["decode"], preprocessing["resize"]["image_size"]
    streams = preprocessing["streams"]
    decoded = data.decode_clip(video, num_frames=decode["num_frames"], frame_stride=decode["frame_stride"],
                               fps=decode["fps"], start=decode["start"], temporal=decode["temporal"],
                               with_next="flow" in streams)
    rgb = data.resize_clip(decoded.frames, size, crop=preprocessing["resize"]["crop"])
    feed = {}
    for name, stream in streams.items():
        if name == "rgb":
            raw = rgb
        else:
            flow = data.compute_flow(rgb, data.resize_clip(decoded.next_frames, size), method=stream["method"])
            raw = flow if stream["flow_scale"] == data.FLOW_SCALE else flow * (stream["flow_scale"] / data.FLOW_SCALE)
        # As training saw it: flow went through the clip cache's float16; 1 / scale is 255 exactly for RGB, so the
        # division is ClipBatches' own, bit for bit.
        value = numpy.asarray(raw).astype(stream["training_dtype"]).astype("float32")
        if stream["scale"] != 1.0:
            value = value / numpy.float32(1.0 / stream["scale"])
        if stream["mean"] is not None:
            value = value - numpy.asarray(stream["mean"], "float32")
        if stream["std"] is not None:
            value = value / numpy.asarray(stream["std"], "float32")
        if list(value.shape) != list(stream["shape"][1:]):
            raise ValueError(f"{source}: preprocessing.streams.{name}.shape is {stream['shape'][1:]}, the decoded "
                             f"clip is {list(value.shape)}")
        feed[name] = numpy.ascontiguousarray(value[None], dtype="float32")
    return feed


def probabilities_of(logits: numpy.ndarray, *, activation: str) -> numpy.ndarray:
    """Softmax (one label per clip) or a sigmoid per class (multi-label) of ``logits``, in float64."""
    logits = numpy.asarray(logits, dtype="float64")
    if activation == "sigmoid":
        return 1.0 / (1.0 + numpy.exp(-logits))
    shifted = numpy.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def load(path: str | Path, *, runtime: str | None = None, threads: int | None = None) -> Predictor:
    """Open an export (folder, manifest or model file) on ``runtime`` to run it on many videos."""
    return Predictor(path, runtime=runtime, threads=threads)


def predict(path: str | Path, video: str | Path, *, runtime: str | None = None, top_k: int | None = None,
            threads: int | None = None) -> list[tuple[str, float]]:
    """``[(class name, probability), ...]`` of the exported network at ``path`` on ``video``, most likely first."""
    return Predictor(path, runtime=runtime, threads=threads)(video, top_k=top_k)
