"""Graph rewrites that let a model run on LiteRT's built-in ops only.

LiteRT has 2-D pooling kernels but no 3-D ones: a ``MaxPooling3D`` or ``AveragePooling3D`` converts only as a "Flex"
TensorFlow op, which the LiteRT runtime (``ai-edge-litert``) cannot run. A 3-D pooling window is a box, so it factors
exactly: max over a box is the max over time of the max over space, and the mean over the in-bounds part of a box
(TF's "same" padding excludes the padded cells) is the temporal mean of the spatial means, because every in-bounds
frame has the same in-bounds spatial cells.

A dilated convolution (AssembleNet's temporal convs at dilation 2-8) converts as ``SpaceToBatchND`` on a 5-D tensor,
again not a LiteRT built-in. A (k, 1, 1) conv at dilation d is k 1x1x1 convs of the input shifted by d frames, summed:
``StackedTapsConv2Plus1D`` pads the frames as TF's "same" does, stacks the k shifted views on the channels and runs
one 1x1x1 conv with the same kernel, reshaped (the multiply-adds of the dilated conv, no more); ``StackedTapsConv3D``
does the same for a plain dilated (k, 1, 1) ``Conv3D`` (the temporal conv that opens AssembleNet's odd blocks).

``for_litert`` swaps those layers and keeps every other layer, weights included (the swapped layers read the
original weights too), so the rewritten model computes the same function.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from videonas import layers as video_layers

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


class StackedTapsConv2Plus1D(keras.layers.Layer):
    """A dilated ``Conv2Plus1D`` (shared, weights and all) whose temporal conv is a 1x1x1 conv over its stacked taps.

    Only for export: it holds the original layer rather than a config, so it is never saved as a ``.keras`` file.
    """

    def __init__(self, conv: video_layers.Conv2Plus1D, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if conv.temporal is None or conv.strides[0] != 1:
            raise ValueError(f"layer {conv.name!r} must have a temporal conv of temporal stride 1, got temporal_kernel "
                             f"{conv.temporal_kernel} and strides {conv.strides}")
        self.conv = conv

    def build(self, input_shape) -> None:
        self.built = True  # the wrapped layer is built: its weights are the ones used

    def call(self, inputs, training=None):
        conv = self.conv
        if conv.temporal_first:
            return conv.spatial(ops.relu(conv.norm(_stacked_taps(conv.temporal, inputs), training=training)))
        return _stacked_taps(conv.temporal, ops.relu(conv.norm(conv.spatial(inputs), training=training)))


class StackedTapsConv3D(keras.layers.Layer):
    """A dilated (k, 1, 1) ``Conv3D`` of temporal stride 1 (shared, weights and all) as a 1x1x1 conv over its stacked
    taps. Only for export, like ``StackedTapsConv2Plus1D``."""

    def __init__(self, conv: keras.layers.Conv3D, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conv = conv

    def build(self, input_shape) -> None:
        self.built = True

    def call(self, inputs):
        outputs = _stacked_taps(self.conv, inputs)
        return outputs if self.conv.activation is None else self.conv.activation(outputs)


def _stacked_taps(temporal: keras.layers.Conv3D, x):
    """``temporal`` (a (k, 1, 1) conv at stride 1) applied as one 1x1x1 conv over its k dilated views of ``x``."""
    taps, dilation, frames = temporal.kernel_size[0], temporal.dilation_rate[0], x.shape[1]
    span = (taps - 1) * dilation  # TF's "same" at stride 1: span frames of zeros, the odd one after
    x = ops.pad(x, ((0, 0), (span // 2, span - span // 2), (0, 0), (0, 0), (0, 0)))
    stacked = ops.concatenate([x[:, tap * dilation: tap * dilation + frames] for tap in range(taps)], axis=-1)
    outputs = ops.conv(stacked, ops.reshape(temporal.kernel, (1, 1, 1, -1, temporal.filters)), padding="valid")
    return outputs + temporal.bias if temporal.use_bias else outputs


def _dilated(layer) -> bool:
    return isinstance(layer, video_layers.Conv2Plus1D) and layer.temporal is not None and layer.temporal_dilation > 1


def _dilated_temporal_conv3d(layer) -> bool:
    return (isinstance(layer, keras.layers.Conv3D) and layer.dilation_rate[0] > 1
            and tuple(layer.kernel_size[1:]) == (1, 1) and tuple(layer.strides) == (1, 1, 1)
            and layer.padding == "same")


def for_litert(model: keras.Model) -> keras.Model:
    """``model`` with its 3-D poolings factored into 2-D ones and its dilated (2+1)D and (k, 1, 1) convs on stacked
    taps; other layers are shared, not copied (same weights)."""
    if not any(type(layer) in _POOLS or _dilated(layer) or _dilated_temporal_conv3d(layer)
               for layer in _all_layers(model)):
        return model

    def swap(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=swap)
        if _dilated(layer):
            return StackedTapsConv2Plus1D(layer, name=layer.name)
        if _dilated_temporal_conv3d(layer):
            return StackedTapsConv3D(layer, name=layer.name)
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
