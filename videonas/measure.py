"""Cost of a model: parameters, analytic FLOPs and measured latency.

FLOPs here are multiply-adds, as in the papers (X3D, TVN, AssembleNet, R(2+1)D quote multiply-adds as "FLOPs"): one
unit and one name, ``flops``, for every figure the package reports (trials, constraints, estimates, exports, bench,
reports). They are counted analytically at batch 1 from each layer's weights and its input/output shapes, so the count
is the same on every backend and needs no run. Only the matrix work is counted: convolutions (any rank, grouped,
depthwise), dense layers, and the convs, matmuls and attention products inside videonas's own layers. Batch norm,
activations, pooling, additions, gating multiplies, biases and the tiny matmul that builds an iTGM kernel are ignored:
they are memory-bound and a few percent of a conv net's count.

Latency here is Keras' own. This module sits below ``videonas.deploy`` and never imports it: timing a model on ONNX
Runtime or LiteRT converts it first, so that lives with the converters (``videonas.deploy.runtimes.measure_latency``),
and a search that limits latency on such a runtime is handed that function by its caller (``Constraints.check``).
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any, Callable

import keras
import numpy

from videonas import layers as vl


def count_params(model: keras.Model, *, trainable_only: bool = True) -> int:
    """Learned parameters (what the papers and torchvision report); ``trainable_only=False`` adds BN moving stats."""
    weights = model.trainable_weights if trainable_only else model.weights
    return int(sum(int(numpy.prod(w.shape)) for w in weights))


def _positions(shape) -> int:
    """Number of output positions (all axes but batch and channels)."""
    return int(numpy.prod([int(n) for n in shape[1:-1]]))


def _conv_flops(layer, input_shape, output_shape) -> int:
    kernel = layer.kernel.shape  # (*window, in_channels / groups, out_channels)
    return int(numpy.prod(kernel)) * _positions(output_shape)


def _depthwise_flops(layer, input_shape, output_shape) -> int:
    return int(numpy.prod(layer.kernel.shape)) * _positions(output_shape)


def _dense_flops(layer, input_shape, output_shape) -> int:
    return int(input_shape[-1]) * layer.units * _positions(output_shape) if len(output_shape) > 2 else \
        int(input_shape[-1]) * layer.units


def _separable_flops(layer, input_shape, output_shape) -> int:
    depthwise = int(numpy.prod(layer.depthwise_kernel.shape))
    pointwise = int(numpy.prod(layer.pointwise_kernel.shape))
    return (depthwise + pointwise) * _positions(output_shape)


def _conv2plus1d_flops(layer: vl.Conv2Plus1D, input_shape, output_shape) -> int:
    if layer.temporal_first:
        mid_positions = int(output_shape[1]) * int(input_shape[2]) * int(input_shape[3])
        temporal = int(numpy.prod(layer.temporal.kernel.shape)) * mid_positions
        return temporal + int(numpy.prod(layer.spatial.kernel.shape)) * _positions(output_shape)
    if layer.temporal is None:
        return _conv_flops(layer.spatial, input_shape, output_shape)
    mid_positions = int(input_shape[1]) * int(output_shape[2]) * int(output_shape[3])
    spatial = int(numpy.prod(layer.spatial.kernel.shape)) * mid_positions
    return spatial + int(numpy.prod(layer.temporal.kernel.shape)) * _positions(output_shape)


def _itgm_flops(layer: vl.ITGM, input_shape, output_shape) -> int:
    # The inflated kernel is L x k x k x Cin x Cout; building it is negligible next to the conv.
    return layer.temporal_length * int(numpy.prod(layer.spatial_kernel_weight.shape)) * _positions(output_shape)


def _se_flops(layer: vl.SqueezeExcitation, input_shape, output_shape) -> int:
    return 2 * int(input_shape[-1]) * layer.squeeze.units


def _gating_flops(layer: vl.ContextGating, input_shape, output_shape) -> int:
    return int(input_shape[-1]) ** 2


def _nonlocal_flops(layer: vl.NonLocal, input_shape, output_shape) -> int:
    n, channels, inner = _positions(input_shape), int(input_shape[-1]), layer.theta.filters
    embeddings = 3 * n * channels * inner
    attention = 2 * n * n * inner  # affinity theta.phi^T and its product with g
    return embeddings + attention + n * inner * channels


def _fusion_flops(layer: vl.WeightedFusion, input_shape, output_shape) -> int:
    return sum(_positions(output_shape) * int(width) * layer.filters for width in layer.projections)


def _frame_depthwise_flops(layer: vl.FrameDepthwiseConv, input_shape, output_shape) -> int:
    return int(numpy.prod(layer.depthwise.kernel.shape)) * _positions(output_shape)


# Most specific first: isinstance walks this in order.
_COUNTERS: list[tuple[type, Callable[..., int]]] = [
    (vl.Conv2Plus1D, _conv2plus1d_flops),
    (vl.ITGM, _itgm_flops),
    (vl.SqueezeExcitation, _se_flops),
    (vl.ContextGating, _gating_flops),
    (vl.NonLocal, _nonlocal_flops),
    (vl.WeightedFusion, _fusion_flops),
    (vl.FrameDepthwiseConv, _frame_depthwise_flops),
    (vl.DepthwiseConv3D, _depthwise_flops),
    (keras.layers.SeparableConv2D, _separable_flops),
    (keras.layers.SeparableConv1D, _separable_flops),
    (keras.layers.DepthwiseConv2D, _depthwise_flops),
    (keras.layers.DepthwiseConv1D, _depthwise_flops),
    (keras.layers.Conv1D, _conv_flops),
    (keras.layers.Conv2D, _conv_flops),
    (keras.layers.Conv3D, _conv_flops),
    (keras.layers.Dense, _dense_flops),
]


def _shape(tensors):
    if isinstance(tensors, (list, tuple)):
        return [tuple(t.shape) for t in tensors]
    return tuple(tensors.shape)


def _own_nodes(container) -> set[int] | None:
    """Ids of the call nodes of ``container``'s own graph, or ``None`` where it keeps no graph (count every call).

    A layer keeps a node for every graph that calls it, and a rewritten model that shares the layers (the LiteRT
    rewrite, ``videonas.deploy.rewrite.for_litert``) adds one: counting them all counted such a model twice."""
    by_depth = getattr(container, "_nodes_by_depth", None)
    if by_depth is None:
        return None
    return {id(node) for nodes in by_depth.values() for node in nodes}


def _calls(layer, own: set[int] | None) -> list[tuple[Any, Any]]:
    """(input shape, output shape) of every call of ``layer`` in its container's graph (``own``: its node ids);
    shared layers count each call."""
    calls = []
    for node in getattr(layer, "_inbound_nodes", []):
        if own is not None and id(node) not in own:
            continue
        inputs = node.arguments.args[0] if node.arguments.args else node.input_tensors
        calls.append((_shape(inputs), _shape(node.outputs[0] if len(node.outputs) == 1 else node.outputs)))
    return calls


def count_flops(model: keras.Model, *, by_layer: bool = False) -> int | dict[str, int]:
    """Analytic FLOPs (multiply-adds, as in the papers) of one forward pass at batch 1; nested models are walked.

    With ``by_layer`` returns ``{layer path: flops}`` for the layers that count (non-zero), which is handy to see where
    a genome spends its budget.
    """
    counts: dict[str, int] = {}

    def walk(container: keras.Model, prefix: str, calls: int) -> None:
        own = _own_nodes(container)
        for layer in container.layers:
            path = f"{prefix}{layer.name}"
            if isinstance(layer, keras.Model):  # a shared sub-model counts once per call
                walk(layer, f"{path}/", calls * max(1, len(_calls(layer, own))))
                continue
            counter = next((fn for kind, fn in _COUNTERS if isinstance(layer, kind)), None)
            if counter is None:
                continue
            total = calls * sum(counter(layer, inputs, outputs) for inputs, outputs in _calls(layer, own))
            if total:
                counts[path] = counts.get(path, 0) + total

    walk(model, "", 1)
    return counts if by_layer else int(sum(counts.values()))


def environment() -> tuple[str, int]:
    """(device, threads) for the active Keras backend: where and on how many threads it runs a model."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch  # the active backend only: the others are never imported

        device = f"cuda:{torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "cpu"
        return device, torch.get_num_threads()
    if backend == "tensorflow":
        import tensorflow as tf  # the active backend only

        gpus = tf.config.list_logical_devices("GPU")
        # TF_NUM_INTRAOP_THREADS (set by a capped worker, ``TrainTask.threads``) is what TF uses when its config is 0.
        threads = (tf.config.threading.get_intra_op_parallelism_threads()
                   or int(os.environ.get("TF_NUM_INTRAOP_THREADS") or 0) or os.cpu_count() or 1)
        return ("gpu:" + gpus[0].name if gpus else "cpu"), threads
    if backend == "jax":
        import jax  # the active backend only

        return jax.devices()[0].platform, os.cpu_count() or 1
    return "cpu", os.cpu_count() or 1


def _synchronise() -> None:
    if keras.backend.backend() == "torch":
        import torch  # the active backend only

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def random_inputs(model: keras.Model, *, batch_size: int = 1,
                  seed: int = 0) -> dict[str, numpy.ndarray] | numpy.ndarray:
    """Uniform [0, 1) float32 inputs matching the model's input shapes (dict keyed by input name if several)."""
    rng = numpy.random.default_rng(seed)
    arrays = {}
    for tensor in model.inputs:
        if any(n is None for n in tensor.shape[1:]):
            raise ValueError(f"input {tensor.name!r} must have a static shape, got {tensor.shape}")
        arrays[tensor.name] = rng.random((batch_size, *tensor.shape[1:]), dtype="float32")
    return arrays if len(arrays) > 1 else next(iter(arrays.values()))


def measure_latency(model: keras.Model, *, runs: int = 20, warmup: int = 3, batch_size: int = 1, seed: int = 0,
                    inputs: Any = None) -> dict[str, Any]:
    """Keras inference latency of ``model``: median/mean ms per batch over ``runs`` timed calls.

    ``predict_on_batch`` is the backend's compiled inference path (tf.function; torch under no_grad), and it returns
    numpy, so each timed call includes the device sync and the copy of the logits back to the host; it runs on the
    backend's own threads. ``cv`` is the coefficient of variation (std / mean); a high cv means a noisy machine. Runs,
    warm-up, batch size, threads and runtime are part of the result: a figure means nothing without them. Latency on
    ONNX Runtime or LiteRT needs the model converted first: ``videonas.deploy.runtimes.measure_latency``.
    """
    if not isinstance(runs, int) or runs < 1:
        raise ValueError(f"runs must be a positive int, got {runs!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    data = random_inputs(model, batch_size=batch_size, seed=seed) if inputs is None else inputs
    device, threads = environment()
    timing = time_calls(lambda: model.predict_on_batch(data), runs=runs, warmup=warmup, sync=_synchronise)
    return {**timing, "batch_size": batch_size, "threads": threads, "device": device,
            "backend": keras.backend.backend(), "runtime": "keras"}


def time_calls(call: Callable[[], Any], *, runs: int, warmup: int,
               sync: Callable[[], None] | None = None) -> dict[str, Any]:
    """Median/mean ms and cv of ``runs`` timed calls of ``call`` after ``warmup`` untimed ones, and each call's ms
    (``times_ms``: their spread is the run-to-run noise that a latency ratio's interval carries)."""
    for _ in range(warmup):
        call()
    if sync is not None:
        sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        if sync is not None:
            sync()
        times.append((time.perf_counter() - start) * 1000.0)
    mean = statistics.fmean(times)
    return {"median_ms": statistics.median(times), "mean_ms": mean,
            "cv": statistics.pstdev(times) / mean if mean > 0 else 0.0, "runs": runs, "warmup": warmup,
            "times_ms": times}
