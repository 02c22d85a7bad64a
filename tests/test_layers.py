"""Numeric properties of videonas.layers (tiny shapes; default backend, plus one torch subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy
import pytest

from videonas import layers as vl


def _rng(seed: int = 0) -> numpy.random.Generator:
    return numpy.random.default_rng(seed)


def _np(x) -> numpy.ndarray:
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("strides", [(1, 1, 1), (1, 2, 2)])
def test_itgm_length_one_equals_per_frame_conv2d(strides):
    x = _rng().standard_normal((2, 3, 8, 8, 4)).astype("float32")
    itgm = vl.ITGM(6, temporal_length=1, spatial_kernel=3, strides=strides)
    y = _np(itgm(x))
    conv = keras.layers.Conv2D(6, 3, strides=strides[1:], padding="same", use_bias=False)
    conv.build((None, 8, 8, 4))
    conv.set_weights([_np(itgm.spatial_kernel_weight)])
    expected = numpy.stack([_np(conv(x[:, t])) for t in range(3)], axis=1)
    assert y.shape == expected.shape == (2, 3, 8 // strides[1], 8 // strides[2], 6)
    numpy.testing.assert_allclose(y, expected, atol=1e-5)


def test_itgm_profile_is_released_per_channel_pair_mixture_and_kernel_is_inflated():
    itgm = vl.ITGM(5, temporal_length=5, num_mixtures=3)
    itgm.build((None, 4, 6, 6, 2))
    rng = _rng(1)
    itgm.centres.assign(rng.standard_normal(3).astype("float32") * 3)
    itgm.widths.assign(rng.standard_normal(3).astype("float32"))
    # One set of mixture weights per (input, output) channel pair, as released (evanet/tgm_layer.py).
    assert tuple(itgm.mixture_logits.shape) == (2 * 5, 3)
    itgm.mixture_logits.assign(rng.standard_normal((10, 3)).astype("float32"))
    profile = _np(itgm.temporal_profile())
    assert profile.shape == (5, 2, 5)
    numpy.testing.assert_allclose(profile.sum(axis=0), numpy.ones((2, 5)), atol=1e-5)
    assert (profile > 0).all()
    assert not numpy.allclose(profile[:, 0, 0], profile[:, 1, 0])  # input channels mix differently
    # Recompute by hand with the released formulas.
    centres = 4 * (numpy.tanh(_np(itgm.centres)) + 1) / 2
    widths = numpy.exp(1.5 - 2 * numpy.abs(numpy.tanh(_np(itgm.widths))))
    cauchy = 1 / (numpy.pi * widths[:, None] * ((numpy.arange(5)[None] - centres[:, None]) / widths[:, None]) ** 2 + 1)
    cauchy /= cauchy.sum(axis=1, keepdims=True) + 1e-6
    logits = _np(itgm.mixture_logits)
    mixture = numpy.exp(logits) / numpy.exp(logits).sum(axis=1, keepdims=True)
    numpy.testing.assert_allclose(profile, (mixture @ cauchy).T.reshape(5, 2, 5), atol=1e-5)
    # The conv uses the inflated kernel profile[t] * spatial: check against a Conv3D holding it.
    x = rng.standard_normal((1, 4, 6, 6, 2)).astype("float32")
    conv = keras.layers.Conv3D(5, (5, 3, 3), padding="same", use_bias=False)
    conv.build(x.shape)
    conv.set_weights([profile[:, None, None] * _np(itgm.spatial_kernel_weight)[None]])
    numpy.testing.assert_allclose(_np(itgm(x)), _np(conv(x)), atol=1e-5)


def test_itgm_parameter_count_as_released():
    for length, expected in ((1, 3 * 3 * 4 * 6), (5, 3 * 3 * 4 * 6 + 2 * 4 + 4 * 6 * 4)):
        itgm = vl.ITGM(6, temporal_length=length)
        itgm.build((None, 4, 6, 6, 4))
        assert itgm.count_params() == expected


def test_conv2plus1d_temporal_first_is_evanets_released_order():
    layer = vl.Conv2Plus1D(8, temporal_kernel=1, mid_filters=4, temporal_first=True, strides=(2, 2, 2))
    y = layer(numpy.zeros((1, 4, 8, 8, 3), "float32"))
    assert tuple(y.shape) == (1, 2, 4, 4, 8)
    # Both convs exist even at t = 1: (1,1,1) 3->4 then (1,3,3) 4->8 (plus the middle BN's 2 x 4 trainables).
    assert tuple(layer.temporal.kernel.shape) == (1, 1, 1, 3, 4)
    assert tuple(layer.spatial.kernel.shape) == (1, 3, 3, 4, 8)


def test_squeeze_excitation_scales_channels_by_gates_in_open_unit_interval():
    keras.utils.set_random_seed(1)  # an unlucky initialisation can zero every squeeze unit (all gates 0.5)
    x = _rng().uniform(0.5, 2.0, (2, 3, 4, 4, 8)).astype("float32")
    x[1] *= numpy.linspace(0.1, 3.0, 8, dtype="float32")  # a clip of a different channel profile
    se = vl.SqueezeExcitation(0.25)
    ratio = _np(se(x)) / x
    assert se.squeeze.units == 2
    per_channel = ratio.reshape(2, -1, 8)
    numpy.testing.assert_allclose(per_channel, numpy.broadcast_to(per_channel[:, :1], per_channel.shape), rtol=1e-5)
    assert ((per_channel > 0) & (per_channel < 1)).all()
    assert not numpy.allclose(per_channel[0, 0], per_channel[1, 0])  # gates depend on the clip


def test_context_gating_gates_are_constant_over_time_and_space():
    x = _rng(2).uniform(0.5, 2.0, (1, 2, 3, 3, 5)).astype("float32")
    ratio = (_np(vl.ContextGating()(x)) / x).reshape(-1, 5)
    numpy.testing.assert_allclose(ratio, numpy.broadcast_to(ratio[:1], ratio.shape), rtol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()


def test_weighted_fusion_matches_numpy_as_released():
    """Pool to the smallest map, gate, sum equal widths, project only the narrower group to the widest width."""
    rng = _rng(3)
    big = rng.standard_normal((2, 3, 8, 8, 3)).astype("float32")
    small = rng.standard_normal((2, 3, 4, 4, 5)).astype("float32")
    other = rng.standard_normal((2, 3, 4, 4, 3)).astype("float32")
    fusion = vl.WeightedFusion(initial_weights=[0.3, -1.2, 0.7])
    y = _np(fusion([big, small, other]))
    assert list(fusion.projections) == ["3"]  # one projection for the 3-channel group, none for the widest (5)
    pooled = big.reshape(2, 3, 4, 2, 4, 2, 3).max(axis=(3, 5))
    kernel = _np(fusion.projections["3"].kernel).reshape(3, 5)
    gates = 1 / (1 + numpy.exp(-numpy.array([0.3, -1.2, 0.7])))
    expected = (gates[0] * pooled + gates[2] * other) @ kernel + gates[1] * small
    numpy.testing.assert_allclose(y, expected, atol=1e-5)
    numpy.testing.assert_allclose(fusion.connection_weights(), gates, rtol=1e-6)
    fresh = vl.WeightedFusion()
    fresh([big, small])
    numpy.testing.assert_allclose(fresh.connection_weights(), [0.5, 0.5], atol=0.02)  # logits ~ N(0, 0.01)
    single = vl.WeightedFusion()
    numpy.testing.assert_allclose(_np(single([small])), small)
    assert single.trainable_weights == [] and list(single.connection_weights()) == [1.0]


def test_weighted_fusion_rejects_mismatched_time():
    with pytest.raises(ValueError, match="time length"):
        vl.WeightedFusion()([numpy.zeros((1, 2, 4, 4, 1), "float32"), numpy.zeros((1, 3, 4, 4, 1), "float32")])


@pytest.mark.parametrize("mode", vl.NonLocal.MODES)
def test_nonlocal_fresh_is_identity_and_attention_matches_numpy(mode):
    rng = _rng(4)
    x = rng.standard_normal((2, 2, 3, 3, 4)).astype("float32")
    block = vl.NonLocal(mode=mode, bottleneck_ratio=0.5)
    numpy.testing.assert_allclose(_np(block(x)), x, atol=1e-6)
    block.project.set_weights([rng.standard_normal((1, 1, 1, 2, 4)).astype("float32"), numpy.zeros(4, "float32")])
    flat = x.reshape(2, 18, 4)

    def embed(layer):
        kernel, bias = layer.get_weights()
        return flat @ kernel.reshape(4, 2) + bias

    affinity = embed(block.theta) @ embed(block.phi).transpose(0, 2, 1)
    if mode == "embedded_gaussian":
        affinity = numpy.exp(affinity - affinity.max(-1, keepdims=True))
        affinity /= affinity.sum(-1, keepdims=True)
    else:
        affinity /= 18
    kernel, bias = block.project.get_weights()
    expected = flat + (affinity @ embed(block.g)) @ kernel.reshape(2, 4) + bias
    numpy.testing.assert_allclose(_np(block(x)), expected.reshape(x.shape), atol=1e-4)


def test_nonlocal_on_one_position_adds_the_projected_value_without_a_softmax_warning(recwarn):
    x = _rng(6).standard_normal((2, 1, 1, 1, 4)).astype("float32")
    block = vl.NonLocal(bottleneck_ratio=0.5)
    block(x)
    block.project.set_weights([numpy.ones((1, 1, 1, 2, 4), "float32"), numpy.zeros(4, "float32")])
    kernel, bias = block.g.get_weights()
    expected = x + (x.reshape(2, 4) @ kernel.reshape(4, 2) + bias).sum(-1).reshape(2, 1, 1, 1, 1)
    numpy.testing.assert_allclose(_np(block(x)), expected, atol=1e-5)
    assert not [w for w in recwarn if "softmax" in str(w.message)]


def test_nonlocal_on_one_position_trains_without_a_missing_gradient_warning(recwarn):
    # A TVN's last block can sit at 1x1x1: theta and phi must stay in the graph (zero gradient, not none), else
    # Keras warns "Gradients do not exist for variables" on every training step of such a candidate.
    inputs = keras.Input((1, 1, 1, 4))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(vl.NonLocal(name="nl")(inputs)))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(_rng(7).standard_normal((4, 1, 1, 1, 4)).astype("float32"), numpy.array([0, 1, 0, 1]), epochs=1,
              verbose=0)
    assert not [w for w in recwarn if "Gradients do not exist" in str(w.message)]


def test_nonlocal_with_batch_norm_starts_as_identity():
    x = _rng(5).standard_normal((1, 2, 2, 2, 4)).astype("float32")
    numpy.testing.assert_allclose(_np(vl.NonLocal(use_batch_norm=True)(x)), x, atol=1e-6)


@pytest.mark.parametrize("temporal_kernel", [1, 3])
def test_conv2plus1d_temporal_mixing_only_with_temporal_kernel(temporal_kernel):
    x = _rng(6).standard_normal((1, 5, 6, 6, 3)).astype("float32")
    layer = vl.Conv2Plus1D(4, temporal_kernel=temporal_kernel)
    before = _np(layer(x, training=False))
    x[:, 2] += 1.0
    changed = numpy.abs(_np(layer(x, training=False)) - before).reshape(5, -1).max(axis=1) > 1e-6
    expected = [False, False, True, False, False] if temporal_kernel == 1 else [False, True, True, True, False]
    assert changed.tolist() == expected


def test_conv2plus1d_shapes_and_parameter_count():
    layer = vl.Conv2Plus1D(8, temporal_kernel=3, strides=(2, 2, 2), mid_filters=5)
    y = layer(numpy.zeros((1, 4, 8, 8, 3), "float32"))
    assert tuple(y.shape) == (1, 2, 4, 4, 8)
    assert layer.count_params() == 3 * 3 * 3 * 5 + 4 * 5 + 3 * 5 * 8  # spatial, BN (4 vectors), temporal


@pytest.mark.parametrize("strides", [(1, 1, 1), (2, 2, 2)])
def test_depthwise_conv3d_equals_grouped_conv3d(strides):
    x = _rng(7).standard_normal((1, 5, 6, 6, 4)).astype("float32")
    layer = vl.DepthwiseConv3D(kernel_size=(3, 3, 3), strides=strides)
    y = _np(layer(x))
    grouped = keras.layers.Conv3D(4, 3, strides=strides, padding="same", groups=4, use_bias=False)
    grouped.build(x.shape)
    grouped.set_weights([numpy.swapaxes(_np(layer.kernel), 3, 4)])
    numpy.testing.assert_allclose(y, _np(grouped(x)), atol=1e-5)


def test_frame_depthwise_conv_is_per_frame_depthwise():
    x = _rng(8).standard_normal((2, 3, 6, 6, 4)).astype("float32")
    layer = vl.FrameDepthwiseConv(kernel_size=3, strides=2)
    y = _np(layer(x))
    assert y.shape == (2, 3, 3, 3, 4)
    numpy.testing.assert_allclose(y[:, 1], _np(layer.depthwise(x[:, 1])), atol=1e-6)


@pytest.mark.parametrize("kernel, strides, padding", [
    ((1, 3, 3), (1, 2, 2), "same"), ((1, 7, 7), (1, 2, 2), "valid"), ((3, 1, 1), (2, 1, 1), "same"),
    ((3, 3, 3), (1, 1, 1), "same"), ((1, 1, 1), (1, 1, 1), "same"), ((1, 1, 1), (2, 2, 2), "valid"),
    ((1, 1, 1), (1, 3, 3), "same")])
def test_folded_conv3d_computes_what_conv3d_does_with_the_same_weights(kernel, strides, padding):
    """Frame-wise kernels fold into 2-D convs and strided 1x1x1 kernels subsample first: the same function as
    Conv3D (compared where TensorFlow's own Conv3D places its windows like every other runtime)."""
    x = _rng(5).standard_normal((2, 5, 9, 9, 3)).astype("float32")
    folded = vl.FoldedConv3D(4, kernel, strides=strides, padding=padding)
    y = _np(folded(x))
    if kernel == (1, 1, 1):  # one cell a window: every stride-th cell through the kernel
        expected = x[:, ::strides[0], ::strides[1], ::strides[2]] @ _np(folded.kernel)[0, 0, 0] + _np(folded.bias)
    else:
        plain = keras.layers.Conv3D(4, kernel, strides=strides, padding=padding)
        plain.build(x.shape)
        plain.set_weights(folded.get_weights())
        expected = _np(plain(x))
    assert y.shape == expected.shape
    numpy.testing.assert_allclose(y, expected, atol=1e-5)


_STRIDED_PROJECTION_SCRIPT = """
import numpy, tensorflow
from videonas import layers as vl
x = tensorflow.constant(numpy.random.default_rng(0).standard_normal((16, 2, 32, 32, 3)).astype("float32"))
layer = vl.FoldedConv3D(128, 1, strides=(1, 4, 4), use_bias=False)
for _ in range(10):
    with tensorflow.GradientTape() as tape:
        loss = tensorflow.reduce_sum(layer(x) ** 2)
    tape.gradient(loss, layer.trainable_weights)
print("finished")
"""


def test_a_strided_projection_over_three_channels_trains_single_threaded_under_onednn():
    """oneDNN's strided 1x1 weight gradient overruns its workspace on inputs with few channels (oneDNN#6035): it
    corrupted the heap of a single-threaded search worker. FoldedConv3D never hands it a strided 1x1 kernel."""
    env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1", "TF_NUM_INTRAOP_THREADS": "1", "KERAS_BACKEND": "tensorflow"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", _STRIDED_PROJECTION_SCRIPT], env=env, cwd=root,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "finished" in result.stdout, (result.returncode, result.stderr[-2000:])


def _all_layers_model():
    a = keras.Input((4, 8, 8, 6))
    b = keras.Input((4, 4, 4, 5))
    outputs = [
        vl.Conv2Plus1D(4, temporal_kernel=3, strides=(2, 1, 1), temporal_dilation=1)(a),
        vl.ITGM(4, temporal_length=3, num_mixtures=2)(a),
        vl.SqueezeExcitation(0.5)(a),
        vl.ContextGating()(a),
        vl.NonLocal(mode="dot_product")(a),
        vl.WeightedFusion(initial_weights=[0.5, -0.5])([a, b]),
        vl.FrameDepthwiseConv(kernel_size=3)(a),
        vl.DepthwiseConv3D(kernel_size=(3, 3, 3), strides=(1, 2, 2))(a),
    ]
    return keras.Model([a, b], outputs)


def test_serialisation_round_trip(tmp_path):
    model = _all_layers_model()
    rng = _rng(9)
    inputs = [rng.standard_normal(shape).astype("float32") for shape in ((1, 4, 8, 8, 6), (1, 4, 4, 4, 5))]
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    model.save(tmp_path / "layers.keras")
    loaded = keras.saving.load_model(tmp_path / "layers.keras")
    for got, want in zip(loaded.predict_on_batch(inputs), model.predict_on_batch(inputs)):
        numpy.testing.assert_allclose(got, want, atol=1e-5)


def test_registered_names_do_not_depend_on_the_module():
    """Saved .keras files name layers "videonas>ClassName"; the layers package must keep resolving those names."""
    classes = (vl.Conv2Plus1D, vl.ITGM, vl.FrameDepthwiseConv, vl.DepthwiseConv3D, vl.SqueezeExcitation,
               vl.ContextGating, vl.NonLocal, vl.WeightedFusion)
    for layer_class in classes:
        name = f"videonas>{layer_class.__name__}"
        assert keras.saving.get_registered_name(layer_class) == name
        assert keras.saving.get_registered_object(name) is layer_class


@pytest.mark.parametrize("kernel, stride, padding", [(2, 4, "valid"), (1, 4, "valid"), (1, 3, "same"), (3, 4, "same"),
                                                     (1, 2, "same"), (2, 3, "same"), (3, 2, "same")])
def test_same_padding_is_valid_only_where_the_windows_end_two_cells_short(kernel, stride, padding):
    assert vl.same_padding((4, 32, 32), (1, kernel, kernel), (1, stride, stride)) == padding
    if padding == "valid":  # "valid" then keeps "same"'s output size and starts at the first cell
        pool = keras.layers.MaxPooling2D(kernel, strides=stride, padding="valid")
        x = numpy.arange(32.0 * 32).reshape(1, 32, 32, 1)
        out = _np(pool(x))
        assert out.shape[1] == -(-32 // stride)
        assert out[0, 0, 0, 0] == x[0, kernel - 1, kernel - 1, 0]


def test_same_padding_refuses_a_window_that_pads_one_axis_and_falls_short_on_another():
    with pytest.raises(ValueError, match="kernel"):
        vl.same_padding((4, 32, 32), (3, 1, 1), (1, 4, 4))


def test_bad_arguments_raise_value_error_naming_the_field():
    for make, field in [
        (lambda: vl.SqueezeExcitation(0), "ratio"),
        (lambda: vl.NonLocal(mode="gaussian"), "mode"),
        (lambda: vl.ITGM(4, temporal_length=0), "temporal_length"),
        (lambda: vl.Conv2Plus1D(4, temporal_kernel=3, strides=(2, 1, 1), temporal_dilation=2), "temporal_dilation"),
        (lambda: vl.Conv2Plus1D(4, temporal_kernel=3, strides=(1, 2)), "strides"),
    ]:
        with pytest.raises(ValueError, match=field):
            make()


_TORCH_SCRIPT = """
import json, keras, numpy
from videonas import layers as vl
from tests.test_layers import _all_layers_model
rng = numpy.random.default_rng(0)
model = _all_layers_model()
a, b = rng.standard_normal((1, 4, 8, 8, 6)).astype("float32"), rng.standard_normal((1, 4, 4, 4, 5)).astype("float32")
outs = [keras.ops.convert_to_numpy(o) for o in model([a, b])]
itgm = vl.ITGM(3, temporal_length=1)
conv = keras.layers.Conv2D(3, 3, padding="same", use_bias=False)
y = keras.ops.convert_to_numpy(itgm(a))
conv.build((None, 8, 8, 6)); conv.set_weights([keras.ops.convert_to_numpy(itgm.spatial_kernel_weight)])
ref = numpy.stack([keras.ops.convert_to_numpy(conv(a[:, t])) for t in range(4)], 1)
fusion = [layer for layer in model.layers if isinstance(layer, vl.WeightedFusion)][0]
print(json.dumps({"backend": keras.backend.backend(), "shapes": [list(o.shape) for o in outs],
                  "finite": all(bool(numpy.isfinite(o).all()) for o in outs),
                  "nonlocal_identity": float(numpy.abs(outs[4] - a).max()),
                  "itgm_vs_conv2d": float(numpy.abs(y - ref).max()),
                  "fusion_weights": fusion.connection_weights().tolist()}))
"""


@pytest.mark.slow
@pytest.mark.other_backend
def test_all_layers_on_torch_backend():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-c", _TORCH_SCRIPT], env={**os.environ, "KERAS_BACKEND": "torch"},
                            cwd=root, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "torch"
    assert report["shapes"] == [[1, 2, 8, 8, 4], [1, 4, 8, 8, 4], [1, 4, 8, 8, 6], [1, 4, 8, 8, 6], [1, 4, 8, 8, 6],
                                [1, 4, 4, 4, 6], [1, 4, 8, 8, 6], [1, 4, 4, 4, 6]]  # fusion: the widest input
    assert report["finite"]
    assert report["nonlocal_identity"] < 1e-6
    assert report["itgm_vs_conv2d"] < 1e-5
    numpy.testing.assert_allclose(report["fusion_weights"], 1 / (1 + numpy.exp(-numpy.array([0.5, -0.5]))), rtol=1e-6)
