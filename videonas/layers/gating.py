"""Layers that reweight a clip from its whole extent: squeeze-excitation, context gating, non-local attention."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops

from videonas.layers import common


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class SqueezeExcitation(layers.Layer):
    """Squeeze-and-excitation (Hu et al.): channel gates in (0, 1) from the clip's mean over time and space.

    The bottleneck has max(1, round(C * ratio)) units, or max(int(C * ratio), min_units) when ``min_units`` is given
    (TVN passes 8, as released in google-research ``tiny_video_nets/layers.py``).
    """

    def __init__(self, ratio: float, *, min_units: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
        self.ratio = float(ratio)
        self.min_units = None if min_units is None else common.positive_int("min_units", min_units)

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        units = max(1, round(channels * self.ratio)) if self.min_units is None else \
            max(int(channels * self.ratio), self.min_units)
        self.squeeze = layers.Dense(units, activation="relu", name="squeeze")
        self.excite = layers.Dense(channels, activation="sigmoid", name="excite")
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], self.squeeze.units))

    def call(self, inputs):
        gates = self.excite(self.squeeze(common.spatial_axes_mean(inputs)))
        return inputs * gates[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ratio": self.ratio, "min_units": self.min_units}


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class ContextGating(layers.Layer):
    """Context gating (Miech et al.): x * sigmoid(W mean(x) + b), a one-layer SE that TVN favours for its low cost."""

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        self.gate = layers.Dense(channels, activation="sigmoid", name="gate")
        self.gate.build((input_shape[0], channels))

    def call(self, inputs):
        return inputs * self.gate(common.spatial_axes_mean(inputs))[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class NonLocal(layers.Layer):
    """Non-local block (Wang et al.): every position attends to all T*H*W positions; residual.

    ``embedded_gaussian`` normalises affinities with a softmax, ``dot_product`` divides them by N = T*H*W. The output
    projection starts at zero so a fresh block is the identity and can be dropped into a trained net. With
    ``use_batch_norm`` the BN gamma starts at zero instead (and the projection keeps its default init, since zeroing
    both would leave neither a gradient).
    """

    MODES = ("embedded_gaussian", "dot_product")

    def __init__(self, *, mode: str = "embedded_gaussian", bottleneck_ratio: float = 0.5,
                 use_batch_norm: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, got {mode!r}")
        if not isinstance(bottleneck_ratio, (int, float)) or not 0 < bottleneck_ratio <= 1:
            raise ValueError(f"bottleneck_ratio must be in (0, 1], got {bottleneck_ratio!r}")
        self.mode = mode
        self.bottleneck_ratio = float(bottleneck_ratio)
        self.use_batch_norm = bool(use_batch_norm)

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        inner = max(1, round(channels * self.bottleneck_ratio))
        self.theta = layers.Conv3D(inner, 1, name="theta")
        self.phi = layers.Conv3D(inner, 1, name="phi")
        self.g = layers.Conv3D(inner, 1, name="g")
        out_init = "glorot_uniform" if self.use_batch_norm else "zeros"
        self.project = layers.Conv3D(channels, 1, kernel_initializer=out_init, name="project")
        self.norm = common.batch_norm(gamma_initializer="zeros", name="bn") if self.use_batch_norm else None
        inner_shape = (*input_shape[:-1], inner)
        for layer in (self.theta, self.phi, self.g):
            layer.build(input_shape)
        self.project.build(inner_shape)
        if self.norm is not None:
            self.norm.build(input_shape)

    def call(self, inputs, training=None):
        _, t, h, w, channels = inputs.shape
        positions = int(t) * int(h) * int(w)

        def flat(x):
            return ops.reshape(x, (-1, positions, x.shape[-1]))

        theta, phi, g = flat(self.theta(inputs)), flat(self.phi(inputs)), flat(self.g(inputs))
        affinity = ops.matmul(theta, ops.transpose(phi, (0, 2, 1)))
        if self.mode == "embedded_gaussian" and positions == 1:
            # A softmax over one position is exp(a - max(a)) = 1, written out: ops.softmax warns on a size-1 axis,
            # and a constant 1 (ones_like) would cut theta and phi from the graph, so Keras would warn on every step
            # that they have no gradient. Here their gradient exists and is zero, as the softmax's is.
            affinity = ops.exp(affinity - ops.max(affinity, axis=-1, keepdims=True))
        elif self.mode == "embedded_gaussian":
            affinity = ops.softmax(affinity, axis=-1)
        else:
            affinity = affinity / positions
        y = ops.reshape(ops.matmul(affinity, g), (-1, int(t), int(h), int(w), g.shape[-1]))
        y = self.project(y)
        if self.norm is not None:
            y = self.norm(y, training=training)
        return inputs + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode, "bottleneck_ratio": self.bottleneck_ratio,
                "use_batch_norm": self.use_batch_norm}


__all__ = ["ContextGating", "NonLocal", "SqueezeExcitation"]
