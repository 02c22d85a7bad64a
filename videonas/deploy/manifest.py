"""What an export says about itself: the preprocessing a clip needs, and a JSON copy of the manifest inside the files.

A network trained on ``pixels / 255`` and given raw ``uint8`` pixels still answers, just badly (18% instead of 40% on
the embedded data): so the manifest states every step from a video file to the input tensor, read from the clip
specification the network was trained with (``videonas.data.ClipSpec``) and the batching of training
(``videonas.data.ClipBatches``), and ``videonas.deploy.predict`` reads them back instead of knowing them.

``describe_preprocessing`` writes that description; ``field`` reads one value back by its dotted name, with a
``ValueError`` naming what is missing. ``embed`` puts the manifest into the ONNX file (``metadata_props``), the LiteRT
file (a flatbuffer metadata entry) and the ``.keras`` zip (an extra member), and ``read_embedded`` reads it back, so
a model file that travels alone still describes itself.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import jsonio

VERSION = 1  # of the "preprocessing" section
EMBEDDED_KEY = "videonas_manifest"  # ONNX metadata_props key, LiteRT metadata name, ``.keras`` zip member stem
# What ``ClipBatches`` divides RGB by (it holds the number; tests/test_deploy_predict.py holds the two equal).
RGB_SCALE = 1.0 / 255.0
LAYOUT = "NTHWC"  # batch, frames, height, width, channels (Keras' channels-last video layout)
RESIZE_RULE = ("scale the shorter side to image_size (OpenCV INTER_AREA when shrinking, INTER_LINEAR when enlarging), "
               "then crop the centre square (videonas.data.resize_clip)")
TEMPORAL_RULE = ("num_frames targets, frame_stride source frames apart (1 / fps seconds when fps is set), centred in "
                 "the video; each takes the frame on screen at its time (videonas.data.decode_clip)")


def describe_preprocessing(clip_spec, *, inputs: Sequence[str]) -> dict[str, Any]:
    """From a video file to the model's input tensors, for the clips of ``clip_spec`` fed as ``inputs``.

    Each stream's value is ``(decoded * scale - mean) / std`` per channel (``mean``/``std`` ``None``: not applied).
    Flow is kept as float16 by the clip cache, so training saw float16-rounded flow: ``training_dtype`` says so.
    """
    from videonas.data import flow  # OpenCV: deferred

    streams: dict[str, Any] = {}
    for name in inputs:
        channels = 3 if name == "rgb" else 2
        stream = {"layout": LAYOUT, "shape": [None, clip_spec.num_frames, clip_spec.image_size,
                                               clip_spec.image_size, channels], "dtype": "float32"}
        if name == "rgb":
            streams[name] = {**stream, "source": "RGB uint8 frames, upright (rotation metadata applied)",
                             "scale": RGB_SCALE, "mean": None, "std": None, "training_dtype": "float32"}
        else:
            streams[name] = {**stream, "source": "optical flow (x, y) from each sampled frame to the next source "
                             "frame, both resized, in pixels per frame times flow_scale", "method":
                             clip_spec.flow_method, "flow_scale": flow.FLOW_SCALE, "scale": 1.0, "mean": None,
                             "std": None, "training_dtype": "float16"}
    return {"version": VERSION,
            "decode": {"num_frames": clip_spec.num_frames, "frame_stride": clip_spec.frame_stride,
                       "fps": clip_spec.fps, "start": clip_spec.start, "temporal": "center", "rule": TEMPORAL_RULE},
            "resize": {"image_size": clip_spec.image_size, "crop": "center", "rule": RESIZE_RULE},
            "streams": streams}


def check_against_inputs(preprocessing: Mapping[str, Any], inputs: Mapping[str, Sequence[int]]) -> None:
    """The described streams are the model's inputs, at its shapes: a manifest never describes another network."""
    streams = preprocessing["streams"]
    if sorted(streams) != sorted(inputs):
        raise ValueError(f"preprocessing.streams {sorted(streams)} are not the model's inputs {sorted(inputs)}")
    for name, shape in inputs.items():
        if list(streams[name]["shape"][1:]) != list(shape):
            raise ValueError(f"preprocessing.streams.{name}.shape {streams[name]['shape'][1:]} is not the model's "
                             f"input shape {list(shape)}")


def field(manifest: Mapping[str, Any], dotted: str, *, source: str = "manifest", nullable: bool = False) -> Any:
    """``manifest``'s value at ``dotted`` (``"preprocessing.decode.num_frames"``); ``ValueError`` naming ``source``
    and the first missing part (``preprocessing.decode``) when it is missing, or null unless ``nullable`` (``fps``,
    ``mean``, ``std``)."""
    value: Any = manifest
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if not isinstance(value, Mapping) or part not in value or (value[part] is None and not (last and nullable)):
            raise ValueError(f"{source}: field {'.'.join(parts[:index + 1])} is missing")
        value = value[part]
    return value


def embed(manifest: Mapping[str, Any], folder: str | Path) -> dict[str, str]:
    """Write a JSON copy of ``manifest`` into each of its files; returns ``{runtime: where}``."""
    text = jsonio.dumps(manifest, sort_keys=True)
    where = {}
    for runtime, file_name in manifest["files"].items():
        path = Path(folder) / file_name
        if runtime == "onnxruntime":
            where[runtime] = _embed_onnx(path, text)
        elif runtime == "litert":
            where[runtime] = _embed_litert(path, text)
        else:
            with zipfile.ZipFile(path, "a") as archive:  # Keras reads its own members and ignores others
                archive.writestr(f"{EMBEDDED_KEY}.json", text)
            where[runtime] = f"zip member {EMBEDDED_KEY}.json"
    return where


def read_embedded(path: str | Path) -> dict[str, Any]:
    """The manifest copy inside a ``.onnx``, ``.tflite`` or ``.keras`` file written by ``embed``."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file {str(path)!r} does not exist")
    text = None
    if path.suffix == ".onnx":
        import onnx  # ONNX: deferred

        props = {prop.key: prop.value for prop in onnx.load(str(path), load_external_data=False).metadata_props}
        text = props.get(EMBEDDED_KEY)
    elif path.suffix == ".tflite":
        from tensorflow.lite.tools import flatbuffer_utils  # TensorFlow: deferred

        model = flatbuffer_utils.read_model(str(path))
        for entry in model.metadata or []:
            if entry.name.decode() == EMBEDDED_KEY:
                text = bytes(model.buffers[entry.buffer].data).decode()
    elif path.suffix == ".keras":
        with zipfile.ZipFile(path) as archive:
            if f"{EMBEDDED_KEY}.json" in archive.namelist():
                text = archive.read(f"{EMBEDDED_KEY}.json").decode()
    else:
        raise ValueError(f"model file {str(path)!r} must end with .onnx, .tflite or .keras")
    if text is None:
        raise ValueError(f"model file {str(path)!r} holds no {EMBEDDED_KEY} (not written by videonas export?)")
    return json.loads(text)


def _embed_onnx(path: Path, text: str) -> str:
    import onnx  # ONNX: deferred

    model = onnx.load(str(path))
    kept = [prop for prop in model.metadata_props if prop.key != EMBEDDED_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=EMBEDDED_KEY, value=text)
    onnx.save(model, str(path))
    return f"metadata_props[{EMBEDDED_KEY!r}]"


def _embed_litert(path: Path, text: str) -> str:
    """A flatbuffer ``Metadata`` entry pointing at a new buffer (LiteRT keeps such entries and runs the same ops)."""
    import numpy

    from tensorflow.lite.python import schema_py_generated as schema  # TensorFlow: deferred
    from tensorflow.lite.tools import flatbuffer_utils  # TensorFlow: deferred

    model = flatbuffer_utils.read_model(str(path))
    buffer = schema.BufferT()
    buffer.data = numpy.frombuffer(text.encode(), dtype=numpy.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = EMBEDDED_KEY, len(model.buffers) - 1
    model.metadata = [old for old in (model.metadata or []) if old.name.decode() != EMBEDDED_KEY] + [entry]
    flatbuffer_utils.write_model(model, str(path))
    return f"metadata[{EMBEDDED_KEY!r}]"
