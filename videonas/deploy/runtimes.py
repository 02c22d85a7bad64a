"""The runtimes a model can ship on: Keras itself, ONNX Runtime and LiteRT (the TFLite runtime).

``convert`` writes a Keras model in a runtime's format through Keras' own exporters (``model.export``: tf2onnx for
ONNX, the TFLite converter for LiteRT); ``load`` opens such a file as a ``Runner``, a callable from ``{input name:
array}`` to the logits with a fixed thread count. Tiny video nets spend most of a Keras ``predict_on_batch`` in
framework dispatch, so a latency limit meant for deployment is measured here, on the runtime that will run it.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy

RUNTIMES = ("keras", "onnxruntime", "litert")
SUFFIXES = {"keras": ".keras", "onnxruntime": ".onnx", "litert": ".tflite"}
_MODULES = {"keras": (), "onnxruntime": ("onnxruntime", "onnx", "tf2onnx"), "litert": ("ai_edge_litert",)}
# Converting to ONNX / LiteRT holds many copies of the weights: TVN-2 (109M parameters) took a process past 24 GiB
# and the OOM killer ended it (the bench, then a notebook's kernel). Larger models are refused with the reason.
MAX_CONVERT_PARAMS = 40_000_000


def too_large_to_convert(model) -> str | None:
    """Why ``model`` is not converted on this machine (``MAX_CONVERT_PARAMS``), or ``None`` when it is converted."""
    from videonas.measure import count_params

    params = count_params(model, trainable_only=False)
    if params <= MAX_CONVERT_PARAMS:
        return None
    return (f"not converted: {params / 1e6:.1f}M parameters > {MAX_CONVERT_PARAMS / 1e6:.0f}M, whose conversion does "
            "not fit in this machine's memory")


def check_runtime(field: str, value: Any) -> str:
    """``value`` if it names a runtime, else ``ValueError`` naming ``field`` and the value."""
    if not isinstance(value, str) or value not in RUNTIMES:
        raise ValueError(f"{field} must be one of {list(RUNTIMES)}, got {value!r}")
    return value


def check_installed(field: str, runtime: str) -> str:
    """``check_runtime``, and the runtime's converter and runtime packages are importable: a search set to measure R
    on ONNX Runtime fails at start-up where they are missing, not in every trial."""
    import importlib.util

    check_runtime(field, runtime)
    missing = [module for module in _MODULES[runtime] if importlib.util.find_spec(module) is None]
    if missing:
        raise ValueError(f"{field} {runtime!r} needs the Python modules {missing}: install the project's "
                         f"dependencies (pip install -e .)")
    if runtime != "keras" and backend() != "tensorflow":
        raise ValueError(f"{field} {runtime!r} converts on the tensorflow Keras backend, got {backend()!r} "
                         f"(KERAS_BACKEND=tensorflow)")
    return runtime


def backend() -> str:
    """The Keras backend this process uses (or will use: Keras is not imported for the answer)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def as_feed(model, inputs: Any) -> dict[str, numpy.ndarray]:
    """``{input name: float32 array}`` for ``model`` from an array (one input) or a mapping keyed by input name."""
    names = [tensor.name.split(":")[0] for tensor in model.inputs]
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise ValueError(f"inputs must be a mapping keyed by {names} for a model with {len(names)} inputs")
        inputs = {names[0]: inputs}
    missing = sorted(set(names) - set(inputs))
    if missing:
        raise ValueError(f"inputs lack {missing}; the model takes {names}")
    return {name: numpy.ascontiguousarray(inputs[name], dtype="float32") for name in names}


def convert(model, *, runtime: str, path: str | Path) -> Path:
    """Write ``model`` for ``runtime`` at ``path`` (``.keras``, ``.onnx`` or ``.tflite``); returns the path.

    LiteRT is converted to built-in ops only (after ``rewrite.for_litert``), so a model that would need TensorFlow
    "Flex" ops fails here, naming them, rather than when the runtime loads it.
    """
    import keras

    check_runtime("runtime", runtime)
    path = Path(path)
    if path.suffix != SUFFIXES[runtime]:
        raise ValueError(f"path for runtime {runtime!r} must end with {SUFFIXES[runtime]}, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not getattr(model, "_called", True):  # Keras' ONNX export traces only a model that has been called once
        from videonas import measure

        model(measure.random_inputs(model), training=False)
    if runtime != "keras" and keras.backend.backend() != "tensorflow":
        # torch: Keras' ONNX route (torch.onnx) fails on its channels-last convs; LiteRT needs litert-torch.
        raise ValueError(f"runtime {runtime!r} converts on the tensorflow backend, got {keras.backend.backend()!r}")
    reason = None if runtime == "keras" else too_large_to_convert(model)
    if reason:
        raise ValueError(f"model {model.name!r} for runtime {runtime!r}: {reason}")
    if runtime == "keras":
        model.save(path)
    elif runtime == "onnxruntime":
        with warnings.catch_warnings():  # Keras' bundled tf2onnx asks numpy for np.object: a FutureWarning per export
            warnings.filterwarnings("ignore", category=FutureWarning, module=r"keras\.src\.export")
            model.export(str(path), format="onnx", verbose=False)
    else:
        import tensorflow

        from videonas.deploy import rewrite

        rewrite.for_litert(model).export(str(path), format="litert", verbose=False,
                                         target_spec={"supported_ops": [tensorflow.lite.OpsSet.TFLITE_BUILTINS]})
    return path


class Runner:
    """A loaded model on one runtime: ``runner(feed) -> logits`` (numpy, float32), on ``threads`` CPU threads."""

    def __init__(self, path: str | Path, *, runtime: str, threads: int | None = None) -> None:
        self.runtime = check_runtime("runtime", runtime)
        self.path = Path(path)
        self.threads = int(threads or os.cpu_count() or 1)
        self._call: Callable[[dict[str, numpy.ndarray]], numpy.ndarray] = getattr(self, f"_open_{runtime}")()

    def __call__(self, feed: Mapping[str, numpy.ndarray]) -> numpy.ndarray:
        return self._call(dict(feed))

    def _open_keras(self):
        import keras

        model = keras.saving.load_model(self.path, compile=False)
        return lambda feed: numpy.asarray(model.predict_on_batch(feed if len(feed) > 1 else next(iter(feed.values()))))

    def _open_onnxruntime(self):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return lambda feed: session.run(None, feed)[0]

    def _open_litert(self):
        from ai_edge_litert import interpreter

        signature = interpreter.Interpreter(model_path=str(self.path), num_threads=self.threads
                                            ).get_signature_runner()
        return lambda feed: next(iter(signature(**feed).values()))


def load(path: str | Path, *, runtime: str, threads: int | None = None) -> Runner:
    """Open ``path`` (written by ``convert``) on ``runtime``."""
    return Runner(path, runtime=runtime, threads=threads)


def versions() -> dict[str, str | None]:
    """Versions of Keras, its backend and the deploy runtimes and converters (``None``: not installed)."""
    from importlib import metadata

    import keras

    found: dict[str, str | None] = {"keras": keras.__version__, "keras_backend": keras.backend.backend()}
    for package in ("tensorflow", "tensorflow-cpu", "torch", "onnx", "onnxruntime", "tf2onnx", "ai-edge-litert"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found
