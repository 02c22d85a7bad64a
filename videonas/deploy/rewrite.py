"""Graph rewrites that let a model run on LiteRT's built-in ops only.

LiteRT has 2-D pooling kernels but no 3-D ones: a ``MaxPooling3D`` or ``AveragePooling3D`` converts only as a "Flex"
TensorFlow op, which the LiteRT runtime (``ai-edge-litert``) cannot run. A 3-D pooling window is a box, so it factors
exactly: max over a box is the max over time of the max over space, and the mean over the in-bounds part of a box
(TF's "same" padding excludes the padded cells) is the temporal mean of the spatial means, because every in-bounds
frame has the same in-bounds spatial cells. ``for_litert`` swaps those layers for ``FactoredPooling3D`` (two 2-D pools)
and keeps every other layer, weights included, so the rewritten model computes the same function.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

_POOLS = {keras.layers.MaxPooling3D: "max", keras.layers.AveragePooling3D: "average"}


@keras.saving.register_keras_serializable(package="videonas")
class FactoredPooling3D(keras.layers.Layer):
    """A channels-last 3-D pooling computed as a spatial 2-D pool of every frame, then a temporal 2-D pool."""

    def __init__(self, *, mode: str, pool_size, strides, padding: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("max", "average"):
            raise ValueError(f"mode must be 'max' or 'average', got {mode!r}")
        self.mode = mode
        self.pool_size = tuple(int(n) for n in pool_size)
        self.strides = tuple(int(n) for n in strides)
        self.padding = padding

    def _pool(self, x, pool_size, strides):
        pool = ops.max_pool if self.mode == "max" else ops.average_pool
        return pool(x, pool_size=pool_size, strides=strides, padding=self.padding)

    def call(self, inputs):
        _, frames, height, width, channels = inputs.shape
        x = ops.reshape(inputs, (-1, height, width, channels))
        x = self._pool(x, self.pool_size[1:], self.strides[1:])
        height, width = x.shape[1], x.shape[2]
        x = ops.reshape(x, (-1, frames, height * width, channels))
        x = self._pool(x, (self.pool_size[0], 1), (self.strides[0], 1))
        return ops.reshape(x, (-1, x.shape[1], height, width, channels))

    def compute_output_shape(self, input_shape):
        pooled = keras.layers.MaxPooling3D(self.pool_size, strides=self.strides, padding=self.padding)
        return pooled.compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode, "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding}


def for_litert(model: keras.Model) -> keras.Model:
    """``model`` with its 3-D poolings factored into 2-D ones; other layers are shared, not copied (same weights)."""
    if not any(type(layer) in _POOLS for layer in _all_layers(model)):
        return model

    def swap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=swap)
        mode = _POOLS.get(type(layer))
        if mode is None:
            return layer
        if layer.data_format != "channels_last":
            raise ValueError(f"layer {layer.name!r}: data_format must be channels_last, got {layer.data_format!r}")
        return FactoredPooling3D(mode=mode, pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding,
                                 name=layer.name)

    return keras.models.clone_model(model, clone_function=swap)


def _all_layers(model: keras.Model) -> list[keras.layers.Layer]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found += _all_layers(layer)
    return found
