"""videonas.deploy.rewrite: a 3-D pooling factored into two 2-D pools computes the same function, exactly shaped."""

from __future__ import annotations

import keras
import numpy
import pytest

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
