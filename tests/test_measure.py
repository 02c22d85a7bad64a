"""videonas.measure: parameter and FLOP counts by hand and against torch's FLOP counter; latency bookkeeping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import keras
import numpy
import pytest

from videonas import layers as vl
from videonas import measure
from videonas.deploy import rewrite, runtimes


def _small_model() -> keras.Model:
    inputs = keras.Input((4, 8, 8, 3), name="rgb")
    x = keras.layers.Conv3D(8, 3, strides=(1, 2, 2), padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = vl.Conv2Plus1D(6, temporal_kernel=3, mid_filters=5, name="c21d")(x)
    x = vl.NonLocal(bottleneck_ratio=0.5, name="nl")(x)
    x = keras.layers.GlobalAveragePooling3D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, name="logits")(x))


def test_count_params_by_hand():
    model = _small_model()
    conv = 27 * 3 * 8 + 8
    bn_learned = 2 * 8
    c21d = 9 * 8 * 5 + 2 * 5 + 3 * 5 * 6  # spatial, mid BN gamma/beta, temporal
    nonlocal_ = 3 * (6 * 3 + 3) + (3 * 6 + 6)
    dense = 6 * 5 + 5
    learned = conv + bn_learned + c21d + nonlocal_ + dense
    assert measure.count_params(model) == learned
    moving_stats = 2 * 8 + 2 * 5
    assert measure.count_params(model, trainable_only=False) == learned + moving_stats


def test_count_flops_by_hand():
    per_layer = measure.count_flops(_small_model(), by_layer=True)
    positions = 4 * 4 * 4  # after the spatially strided conv
    assert per_layer == {
        "conv": 27 * 3 * 8 * positions,
        "c21d": 9 * 8 * 5 * positions + 3 * 5 * 6 * positions,
        "nl": 3 * positions * 6 * 3 + 2 * positions**2 * 3 + positions * 3 * 6,
        "logits": 6 * 5,
    }
    assert measure.count_flops(_small_model()) == sum(per_layer.values())


def test_count_flops_walks_nested_models_and_fusion():
    a = keras.Input((2, 8, 8, 4))
    b = keras.Input((2, 4, 4, 6))
    inner = keras.Model(a, keras.layers.Conv3D(3, 1, name="inner_conv")(a), name="inner")
    fused = vl.WeightedFusion(name="fuse")([inner(a), b, inner(a)])
    per_layer = measure.count_flops(keras.Model([a, b], fused), by_layer=True)
    # The shared sub-model runs twice; fusion pools the 8x8 inputs to 4x4, sums the two 3-channel inputs and projects
    # that sum once to the widest (6) input's width; the 6-channel input is not projected (as released).
    assert per_layer == {"inner/inner_conv": 2 * (4 * 3 * 2 * 64), "fuse": 2 * 16 * 3 * 6}
    assert measure.count_flops(keras.Model([a, b], fused)) == sum(per_layer.values())


def test_count_flops_counts_only_the_models_own_calls_of_shared_layers():
    """The LiteRT rewrite calls the model's layers again in a new graph: the model's count must not change (export
    printed twice the trial's figure for a TVN with 3-D pools)."""
    inputs = keras.Input((2, 8, 8, 3), name="rgb")
    x = keras.layers.Conv3D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling3D((1, 2, 2), strides=(1, 2, 2), padding="same", name="pool")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="logits")(keras.layers.Flatten()(x)))
    before = measure.count_flops(model)
    rewritten = rewrite.for_litert(model)
    assert rewritten is not model and rewritten.get_layer("conv") is model.get_layer("conv")
    assert measure.count_flops(model) == before == measure.count_flops(rewritten) == 27 * 3 * 4 * 128 + 128 * 3


_TORCH_SCRIPT = """
import json, keras, numpy, torch
from torch.utils.flop_counter import FlopCounterMode
from videonas import layers as vl, measure
x_in = keras.Input((4, 12, 12, 3), name="rgb")
x = keras.layers.Conv3D(8, (3, 5, 5), strides=(1, 2, 2), padding="same")(x_in)
x = vl.Conv2Plus1D(8, temporal_kernel=3, strides=(2, 1, 1))(x)
x = vl.FrameDepthwiseConv(kernel_size=3)(x)
x = vl.DepthwiseConv3D(kernel_size=(3, 3, 3))(x)
x = vl.ITGM(8, temporal_length=3)(x)
x = vl.SqueezeExcitation(0.5)(x)
x = vl.ContextGating()(x)
x = vl.NonLocal(mode="dot_product")(x)
y = keras.layers.Conv3D(4, 1, strides=(1, 2, 2))(x)
x = vl.WeightedFusion()([x, y])
x = keras.layers.GlobalAveragePooling3D()(x)
model = keras.Model(x_in, keras.layers.Dense(7)(x))
clip = numpy.random.default_rng(0).random((1, 4, 12, 12, 3), dtype="float32")
with torch.no_grad(), FlopCounterMode(display=False) as counter:
    model(clip)
print(json.dumps({"ours": measure.count_flops(model), "torch": counter.get_total_flops()}))
"""


@pytest.mark.slow
@pytest.mark.other_backend
def test_count_flops_agrees_with_torch_flop_counter():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", _TORCH_SCRIPT], env={**os.environ, "KERAS_BACKEND": "torch"},
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    # ITGM's profile matmul (Cin*Cout channel pairs x M mixtures x L taps, once per call, not per position) is the
    # only matrix work we leave out.
    # torch counts 2 FLOPs per multiply-add; ours are multiply-adds, as in the papers.
    itgm_profile = (8 * 8) * 4 * 3
    assert counts["torch"] > 1_000_000
    assert 2 * (counts["ours"] + itgm_profile) == counts["torch"]


def test_measure_latency_reports_consistent_figures():
    model = _small_model()
    start = time.perf_counter()
    result = measure.measure_latency(model, runs=5, warmup=1)
    elapsed_ms = (time.perf_counter() - start) * 1000
    assert set(result) >= {"median_ms", "mean_ms", "cv", "runs", "threads", "device", "backend", "batch_size"}
    assert result["runs"] == 5 and result["batch_size"] == 1
    assert 0 < result["median_ms"] and 5 * result["mean_ms"] <= elapsed_ms
    assert result["cv"] >= 0
    assert result["threads"] >= 1
    assert result["backend"] == keras.backend.backend()
    assert result["device"].split(":")[0] in {"cpu", "gpu", "cuda"}


def test_random_inputs_follow_the_model_inputs():
    a = keras.Input((2, 4, 4, 3), name="rgb")
    b = keras.Input((2, 4, 4, 2), name="flow")
    model = keras.Model({"rgb": a, "flow": b}, keras.layers.Concatenate()([a, b]))
    inputs = measure.random_inputs(model, batch_size=3, seed=1)
    assert {k: v.shape for k, v in inputs.items()} == {"rgb": (3, 2, 4, 4, 3), "flow": (3, 2, 4, 4, 2)}
    again = measure.random_inputs(model, batch_size=3, seed=1)
    numpy.testing.assert_array_equal(inputs["rgb"], again["rgb"])
    assert ((inputs["flow"] >= 0) & (inputs["flow"] < 1)).all()


@pytest.mark.parametrize("field, value", [("runs", 0), ("warmup", -1), ("batch_size", 0)])
def test_measure_latency_rejects_bad_arguments(field, value):
    with pytest.raises(ValueError, match=field):
        measure.measure_latency(_small_model(), **{field: value})


@pytest.mark.parametrize("runtime", ["onnxruntime", "litert"])
def test_latency_on_a_deploy_runtime_records_its_setup(runtime):
    result = runtimes.measure_latency(_small_model(), runs=3, warmup=2, runtime=runtime, threads=1)
    assert (result["runtime"], result["threads"], result["runs"], result["warmup"], result["batch_size"]) == \
        (runtime, 1, 3, 2, 1)
    assert result["median_ms"] > 0


def test_sessions_of_one_conversion_each_time_a_fresh_session(monkeypatch):
    converted, loaded = [], []
    convert, load = runtimes.convert, runtimes.load
    monkeypatch.setattr(runtimes, "convert", lambda *a, **k: converted.append(1) or convert(*a, **k))
    monkeypatch.setattr(runtimes, "load", lambda *a, **k: loaded.append(1) or load(*a, **k))
    timings = runtimes.measure_sessions(_small_model(), sessions=3, runs=2, warmup=0, runtime="onnxruntime",
                                        threads=1)
    assert (len(converted), len(loaded), len(timings)) == (1, 3, 3)
    assert all(t["median_ms"] > 0 and t["runtime"] == "onnxruntime" for t in timings)
    with pytest.raises(ValueError, match="sessions"):
        runtimes.measure_sessions(_small_model(), sessions=0, runtime="onnxruntime")


def test_latency_on_keras_through_deploy_is_measure_latency():
    result = runtimes.measure_latency(_small_model(), runs=2, warmup=0, runtime="keras", threads=1)
    assert (result["runtime"], result["runs"], result["threads"]) == ("keras", 2, measure.environment()[1])


@pytest.mark.parametrize("field, value", [("runs", 0), ("warmup", -1), ("batch_size", 0), ("threads", 0)])
def test_latency_on_a_deploy_runtime_rejects_bad_arguments(field, value):
    with pytest.raises(ValueError, match=field):
        runtimes.measure_latency(_small_model(), runtime="onnxruntime", **{field: value})


def test_latency_refuses_an_unknown_runtime():
    with pytest.raises(ValueError, match="runtime must be one of"):
        runtimes.measure_latency(_small_model(), runtime="tensorrt")
    with pytest.raises(TypeError):  # measure times Keras only: a runtime is deploy's
        measure.measure_latency(_small_model(), runtime="onnxruntime")
