"""videonas.deploy.rewrite: a 3-D pooling factored into two 2-D pools, and a dilated (2+1)D conv on stacked taps,
compute the same function, exactly shaped."""

from __future__ import annotations

import keras
import numpy
import pytest

from videonas import layers as video_layers
from videonas.deploy import rewrite


@pytest.mark.parametrize("pool", [keras.layers.MaxPooling3D, keras.layers.AveragePooling3D])
@pytest.mark.parametrize("pool_size, strides, padding", [
    ((3, 1, 1), (2, 1, 1), "same"),   # TVN temporal pooling, odd frame count
    ((1, 3, 3), (1, 2, 2), "same"),   # TVN spatial pooling
    ((3, 3, 3), (2, 2, 2), "same"),   # EvaNet pool1: padded cells on every axis
    ((2, 2, 2), (1, 2, 2), "valid"),
])
def test_factored_pooling_equals_the_3d_pooling(pool, pool_size, strides, padding):
    inputs = keras.Input((5, 7, 9, 3))
    model = keras.Model(inputs, pool(pool_size, strides=strides, padding=padding)(inputs))
    factored = rewrite.for_litert(model)
    assert not any(isinstance(layer, pool) for layer in factored.layers)
    assert any(isinstance(layer, rewrite.FactoredPooling3D) for layer in factored.layers)
    # Values of both signs and a wide range: a pooling that counted padded cells would change the averages.
    x = numpy.random.default_rng(0).normal(size=(2, 5, 7, 9, 3)).astype("float32") * 10
    expected = model.predict_on_batch(x)
    assert factored.output.shape == model.output.shape
    numpy.testing.assert_allclose(factored.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)


def test_rewrite_shares_the_other_layers_and_keeps_a_model_without_3d_pools():
    inputs = keras.Input((4, 8, 8, 3))
    x = keras.layers.Conv3D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.MaxPooling3D((1, 2, 2), name="pool")(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(x))
    factored = rewrite.for_litert(model)
    assert factored.get_layer("conv") is model.get_layer("conv")  # the same weights, not a copy
    assert isinstance(factored.get_layer("pool"), rewrite.FactoredPooling3D)
    plain = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(inputs))
    assert rewrite.for_litert(plain) is plain


def test_factored_pooling_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        rewrite.FactoredPooling3D(mode="min", pool_size=(1, 2, 2), strides=(1, 2, 2), padding="same")


@pytest.mark.parametrize("temporal_kernel, dilation, temporal_first, frames", [
    (3, 2, False, 4),   # AssembleNet's bottleneck: 3 taps at dilation 2
    (5, 8, False, 4),   # its stem at dilation 8: taps reach past every frame, into the padding
    (3, 4, True, 5),    # temporal conv first (EvaNet's order), an odd frame count
])
def test_a_dilated_conv2plus1d_on_stacked_taps_computes_the_same_function(temporal_kernel, dilation, temporal_first,
                                                                          frames):
    inputs = keras.Input((frames, 6, 6, 3))
    conv = video_layers.Conv2Plus1D(5, temporal_kernel=temporal_kernel, temporal_dilation=dilation,
                                    temporal_first=temporal_first, use_bias=True, name="conv")
    model = keras.Model(inputs, conv(inputs))
    rng = numpy.random.default_rng(0)
    for weight in model.weights:  # BN statistics and biases away from their identity initial values
        values = rng.uniform(0.5, 2.0, weight.shape) if "variance" in weight.path else rng.normal(size=weight.shape)
        weight.assign(values.astype("float32"))
    rewritten = rewrite.for_litert(model)
    assert isinstance(rewritten.get_layer("conv"), rewrite.StackedTapsConv2Plus1D)
    assert rewritten.get_layer("conv").conv is conv  # the original weights, not a copy
    x = rng.normal(size=(2, frames, 6, 6, 3)).astype("float32")
    expected = model.predict_on_batch(x)
    assert numpy.max(numpy.abs(expected)) > 1.0
    numpy.testing.assert_allclose(rewritten.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dilation, frames", [(2, 4), (8, 5)])
def test_a_dilated_temporal_conv3d_on_stacked_taps_computes_the_same_function(dilation, frames):
    """The (3, 1, 1) conv that opens AssembleNet's odd blocks (as released), at dilations reaching into the padding."""
    inputs = keras.Input((frames, 6, 6, 3))
    conv = keras.layers.Conv3D(5, (3, 1, 1), padding="same", dilation_rate=(dilation, 1, 1), name="conv")
    model = keras.Model(inputs, conv(inputs))
    rng = numpy.random.default_rng(1)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    rewritten = rewrite.for_litert(model)
    assert isinstance(rewritten.get_layer("conv"), rewrite.StackedTapsConv3D)
    assert rewritten.get_layer("conv").conv is conv
    x = rng.normal(size=(2, frames, 6, 6, 3)).astype("float32")
    expected = model.predict_on_batch(x)
    assert numpy.max(numpy.abs(expected)) > 1.0
    numpy.testing.assert_allclose(rewritten.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5)


def test_an_undilated_conv2plus1d_is_kept():
    inputs = keras.Input((4, 6, 6, 3))
    model = keras.Model(inputs, video_layers.Conv2Plus1D(5, temporal_kernel=3, name="conv")(inputs))
    assert rewrite.for_litert(model) is model
