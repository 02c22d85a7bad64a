"""Running a model on the runtimes it can ship on: Keras itself, ONNX Runtime and LiteRT (the TFLite runtime).

``convert`` writes a Keras model in a runtime's format through Keras' own exporters (``model.export``: tf2onnx for
ONNX, the TFLite converter for LiteRT); ``load`` opens such a file as a ``Runner``, a callable from ``{input name:
array}`` to the logits with a fixed thread count. Tiny video nets spend most of a Keras ``predict_on_batch`` in
framework dispatch, so a latency limit meant for deployment is measured here (``measure_latency``), on the runtime
that will run it.

Layers: the runtime names and the "is it installed" check are below, in ``videonas.runtimes`` (a search validates its
configuration with them without importing this package); Keras latency and the cost counts are below, in
``videonas.measure``. This module imports both and neither imports it, so the search's constraint check gets the
latency on a runtime as a function its caller passes (``Constraints.check(..., time_latency=measure_latency)``).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy

from videonas import runtimes as runtime_names

SUFFIXES = {"keras": ".keras", "onnxruntime": ".onnx", "litert": ".tflite"}
# Converting to ONNX / LiteRT holds many copies of the weights: TVN-2 (109M parameters) took a process past 24 GiB
# and the OOM killer ended it (the bench, then a notebook's kernel). Larger models are refused with the reason.
MAX_CONVERT_PARAMS = 40_000_000


def too_large_to_convert(model) -> str | None:
    """Why ``model`` is not converted on this machine (``MAX_CONVERT_PARAMS``), or ``None`` when it is converted."""
    from videonas import measure  # Keras: deferred

    params = measure.count_params(model, trainable_only=False)
    if params <= MAX_CONVERT_PARAMS:
        return None
    return (f"not converted: {params / 1e6:.1f}M parameters > {MAX_CONVERT_PARAMS / 1e6:.0f}M, whose conversion does "
            "not fit in this machine's memory")


def measure_latency(model, *, runtime: str = "keras", threads: int | None = None, runs: int = 20, warmup: int = 3,
                    batch_size: int = 1, seed: int = 0, inputs: Any = None) -> dict[str, Any]:
    """Inference latency of ``model`` on ``runtime``: ``videonas.measure.measure_latency``'s figures and setup.

    ``keras`` is ``measure.measure_latency`` itself (on the backend's threads). ``onnxruntime`` and ``litert`` convert
    the model into a temporary folder first and time the runtime's session on ``threads`` threads (default: as many
    as the Keras backend uses), on the CPU.
    """
    return measure_sessions(model, sessions=1, runtime=runtime, threads=threads, runs=runs, warmup=warmup,
                            batch_size=batch_size, seed=seed, inputs=inputs)[0]


def measure_sessions(model, *, sessions: int, runtime: str = "keras", threads: int | None = None, runs: int = 20,
                     warmup: int = 3, batch_size: int = 1, seed: int = 0, inputs: Any = None) -> list[dict[str, Any]]:
    """``measure_latency`` in ``sessions`` fresh sessions of one conversion (Keras: that many timings): the
    run-to-run spread of a latency without converting again, since each conversion holds copies of the weights that
    the converter does not all give back (five conversions each of TVN-1, -3 and -4 took a notebook's kernel past
    15 GiB, and the OOM killer ended it)."""
    from videonas import measure  # Keras: deferred

    runtime_names.check_runtime("runtime", runtime)
    if not isinstance(sessions, int) or isinstance(sessions, bool) or sessions < 1:
        raise ValueError(f"sessions must be an int >= 1, got {sessions!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    if runtime == "keras":
        return [measure.measure_latency(model, runs=runs, warmup=warmup, batch_size=batch_size, seed=seed,
                                        inputs=inputs) for _ in range(sessions)]
    for field, value, lowest in (("runs", runs, 1), ("warmup", warmup, 0), ("batch_size", batch_size, 1)):
        if not isinstance(value, int) or value < lowest:
            raise ValueError(f"{field} must be an int >= {lowest}, got {value!r}")
    data = measure.random_inputs(model, batch_size=batch_size, seed=seed) if inputs is None else inputs
    threads = threads or measure.environment()[1]
    feed = as_feed(model, data)
    timings = []
    with tempfile.TemporaryDirectory(prefix="videonas-latency-") as folder:
        path = convert(model, runtime=runtime, path=f"{folder}/model{SUFFIXES[runtime]}")
        for _ in range(sessions):
            runner = load(path, runtime=runtime, threads=threads)
            timings.append(measure.time_calls(lambda: runner(feed), runs=runs, warmup=warmup))
            del runner
    return [{**timing, "batch_size": batch_size, "threads": threads, "device": "cpu",
             "backend": runtime_names.backend(), "runtime": runtime} for timing in timings]


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
    import keras  # Keras: deferred

    from videonas import measure  # Keras: deferred

    runtime_names.check_runtime("runtime", runtime)
    path = Path(path)
    if path.suffix != SUFFIXES[runtime]:
        raise ValueError(f"path for runtime {runtime!r} must end with {SUFFIXES[runtime]}, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not getattr(model, "_called", True):  # Keras' ONNX export traces only a model that has been called once
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
        import tensorflow  # TensorFlow: deferred

        from videonas.deploy import rewrite  # TensorFlow: deferred

        rewrite.for_litert(model).export(str(path), format="litert", verbose=False,
                                         target_spec={"supported_ops": [tensorflow.lite.OpsSet.TFLITE_BUILTINS]})
    return path


class Runner:
    """A loaded model on one runtime: ``runner(feed) -> logits`` (numpy, float32), on ``threads`` CPU threads."""

    def __init__(self, path: str | Path, *, runtime: str, threads: int | None = None) -> None:
        self.runtime = runtime_names.check_runtime("runtime", runtime)
        self.path = Path(path)
        self.threads = int(threads or os.cpu_count() or 1)
        self._call: Callable[[dict[str, numpy.ndarray]], numpy.ndarray] = getattr(self, f"_open_{runtime}")()

    def __call__(self, feed: Mapping[str, numpy.ndarray]) -> numpy.ndarray:
        return self._call(dict(feed))

    def _open_keras(self):
        import keras  # Keras: deferred

        model = keras.saving.load_model(self.path, compile=False)
        return lambda feed: numpy.asarray(model.predict_on_batch(feed if len(feed) > 1 else next(iter(feed.values()))))

    def _open_onnxruntime(self):
        import onnxruntime  # ONNX Runtime: deferred

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        return lambda feed: session.run(None, feed)[0]

    def _open_litert(self):
        from ai_edge_litert import interpreter  # LiteRT: deferred

        signature = interpreter.Interpreter(model_path=str(self.path), num_threads=self.threads
                                            ).get_signature_runner()
        return lambda feed: next(iter(signature(**feed).values()))


def load(path: str | Path, *, runtime: str, threads: int | None = None) -> Runner:
    """Open ``path`` (written by ``convert``) on ``runtime``."""
    return Runner(path, runtime=runtime, threads=threads)


def versions() -> dict[str, str | None]:
    """Versions of Keras, its backend and the deploy runtimes and converters (``None``: not installed)."""
    import keras  # Keras: deferred

    found: dict[str, str | None] = {"keras": keras.__version__, "keras_backend": keras.backend.backend()}
    for package in ("tensorflow", "tensorflow-cpu", "torch", "onnx", "onnxruntime", "tf2onnx", "ai-edge-litert"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found
