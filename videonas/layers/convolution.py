"""Spatio-temporal convolutions: a Conv3D that runs frame-wise kernels as 2-D convs, (2+1)D, EvaNet's iTGM, per-frame
and 3-D depthwise."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy
from keras import layers, ops

from videonas.layers import common


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class FoldedConv3D(layers.Conv3D):
    """``keras.layers.Conv3D``, computed as a 2-D conv over frames folded into the batch when its kernel and stride span
    one frame (a (1, k, k) or 1x1x1 kernel at temporal stride 1): the same function, weights and FLOPs.

    Why: without oneDNN (``videonas/__init__.py`` turns it on), TensorFlow's CPU Conv3D gradient takes a slow path for
    a strided (1, k, k) kernel on few channels (a (1, 7, 7) stem conv at stride 2 on 3 channels: 5.3 s a step against
    0.14 s as a 2-D conv, measured 2026-12-07 on tensorflow-cpu 2.21), which made one AssembleNet candidate train 5x
    slower; a 2-D conv is fast either way. Every builder uses this for its convs.

    A strided 1x1x1 kernel reads every stride-th cell: it runs as that subsample, then an unstrided 1x1 conv (the same
    cells under "same" and "valid"). Why: oneDNN's strided-1x1 weight gradient writes past its workspace when the
    input has fewer channels than its block (uxlfoundation/oneDNN#6035); here a 1x1 projection at stride 4 over 3
    channels corrupted the heap of a single-threaded trial (measured 2026-12-07, tensorflow-cpu 2.21).
    """

    def convolution_op(self, inputs, kernel):
        strides, frames = tuple(self.strides), inputs.shape[1]
        if self.data_format != "channels_last":
            return super().convolution_op(inputs, kernel)
        if tuple(self.kernel_size) == (1, 1, 1) and strides != (1, 1, 1):
            inputs = inputs[:, ::strides[0], ::strides[1], ::strides[2], :]
            strides, frames = (1, 1, 1), inputs.shape[1]
        if self.kernel_size[0] != 1 or strides[0] != 1 or frames is None:
            return ops.conv(inputs, kernel, strides=list(strides), padding=self.padding,
                            dilation_rate=list(self.dilation_rate), data_format="channels_last")
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        outputs = ops.conv(folded, kernel[0], strides=list(strides[1:]), padding=self.padding,
                           dilation_rate=list(self.dilation_rate[1:]), data_format="channels_last")
        return ops.reshape(outputs, (-1, frames, *outputs.shape[1:]))


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class Conv2Plus1D(layers.Layer):
    """(2+1)D convolution: a (1,k,k) spatial conv, BN, ReLU, then a (t,1,1) temporal conv (Tran et al., 2018).

    Splitting the 3D kernel doubles the non-linearities for the same receptive field. ``mid_filters`` defaults to
    ``filters``; the R(2+1)D baseline passes the parameter-matching width. With ``temporal_kernel=1`` the layer is the
    spatial conv alone (spatial and temporal strides folded into it), so frames stay independent.

    ``temporal_first=True`` is EvaNet's released order (google-research ``evanet/model_dna.py``, ``conv21d``): a
    (t,1,1) conv to ``mid_filters`` (EvaNet passes filters // 2), BN, ReLU, then the (1,k,k) conv to ``filters``; both
    convs exist even when t = 1, as released.
    """

    def __init__(
        self,
        filters: int,
        *,
        temporal_kernel: int,
        spatial_kernel: int = 3,
        strides: int | Sequence[int] = (1, 1, 1),
        temporal_dilation: int = 1,
        use_bias: bool = False,
        mid_filters: int | None = None,
        temporal_first: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = common.positive_int("filters", filters)
        self.temporal_first = bool(temporal_first)
        self.temporal_kernel = common.positive_int("temporal_kernel", temporal_kernel)
        self.spatial_kernel = common.positive_int("spatial_kernel", spatial_kernel)
        self.strides = common.triple("strides", strides)
        self.temporal_dilation = common.positive_int("temporal_dilation", temporal_dilation)
        self.use_bias = bool(use_bias)
        self.mid_filters = self.filters if mid_filters is None else common.positive_int("mid_filters", mid_filters)
        if self.temporal_dilation > 1 and self.strides[0] > 1:
            raise ValueError(f"temporal_dilation {temporal_dilation} needs temporal stride 1, got strides {strides!r}")
        t_stride, h_stride, w_stride = self.strides
        k = self.spatial_kernel
        if self.temporal_first:
            self.temporal = FoldedConv3D(self.mid_filters, (self.temporal_kernel, 1, 1), strides=(t_stride, 1, 1),
                                          dilation_rate=(self.temporal_dilation, 1, 1), padding="same",
                                          use_bias=self.use_bias, name="temporal")
            self.norm = common.batch_norm(name="mid_bn")
            self.spatial = FoldedConv3D(self.filters, (1, k, k), strides=(1, h_stride, w_stride), padding="same",
                                         use_bias=self.use_bias, name="spatial")
        elif self.temporal_kernel == 1:
            self.spatial = FoldedConv3D(self.filters, (1, k, k), strides=self.strides, padding="same",
                                         use_bias=self.use_bias, name="spatial")
            self.norm = self.temporal = None
        else:
            self.spatial = FoldedConv3D(self.mid_filters, (1, k, k), strides=(1, h_stride, w_stride), padding="same",
                                         use_bias=self.use_bias, name="spatial")
            self.norm = common.batch_norm(name="mid_bn")
            self.temporal = FoldedConv3D(self.filters, (self.temporal_kernel, 1, 1), strides=(t_stride, 1, 1),
                                          dilation_rate=(self.temporal_dilation, 1, 1), padding="same",
                                          use_bias=self.use_bias, name="temporal")

    def build(self, input_shape) -> None:
        first, second = (self.temporal, self.spatial) if self.temporal_first else (self.spatial, self.temporal)
        first.build(input_shape)
        if second is not None:
            mid_shape = first.compute_output_shape(input_shape)
            self.norm.build(mid_shape)
            second.build(mid_shape)

    def call(self, inputs, training=None):
        if self.temporal_first:
            x = ops.relu(self.norm(self.temporal(inputs), training=training))
            return self.spatial(x)
        x = self.spatial(inputs)
        if self.temporal is None:
            return x
        x = ops.relu(self.norm(x, training=training))
        return self.temporal(x)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "temporal_kernel": self.temporal_kernel,
                "spatial_kernel": self.spatial_kernel, "strides": self.strides,
                "temporal_dilation": self.temporal_dilation, "use_bias": self.use_bias, "mid_filters": self.mid_filters,
                "temporal_first": self.temporal_first}


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class ITGM(layers.Layer):
    """Inflated temporal Gaussian mixture conv (EvaNet): a k x k spatial kernel times a learned temporal profile.

    As released (google-research ``evanet/tgm_layer.py``): ``num_mixtures`` Cauchy kernels over the L taps, centre
    (L-1)(tanh(c)+1)/2 and width exp(1.5 - 2|tanh(g)|), each normalised to sum 1; every (input, output) channel pair
    mixes them with its own softmax weights, so the (L, Cin, Cout) profile sums to 1 over the taps and L = 1 is exactly
    a per-frame 2D conv. Learned: k*k*Cin*Cout spatial weights, plus 2*M + Cin*Cout*M profile weights when L > 1.
    """

    def __init__(
        self,
        filters: int,
        *,
        temporal_length: int,
        spatial_kernel: int = 3,
        num_mixtures: int = 4,
        strides: int | Sequence[int] = (1, 1, 1),
        use_bias: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.filters = common.positive_int("filters", filters)
        self.temporal_length = common.positive_int("temporal_length", temporal_length)
        self.spatial_kernel = common.positive_int("spatial_kernel", spatial_kernel)
        self.num_mixtures = common.positive_int("num_mixtures", num_mixtures)
        self.strides = common.triple("strides", strides)
        self.use_bias = bool(use_bias)
        self._taps = numpy.arange(self.temporal_length, dtype="float32")

    def build(self, input_shape) -> None:
        in_channels = int(input_shape[-1])
        k = self.spatial_kernel
        self.spatial_kernel_weight = self.add_weight(name="spatial_kernel", shape=(k, k, in_channels, self.filters),
                                                     initializer="he_normal")
        self.centres = self.widths = self.mixture_logits = None
        if self.temporal_length > 1:  # initialisers as released
            self.centres = self.add_weight(name="centres", shape=(self.num_mixtures,),
                                           initializer=keras.initializers.RandomNormal(stddev=0.5))
            self.widths = self.add_weight(name="widths", shape=(self.num_mixtures,),
                                          initializer=keras.initializers.RandomNormal(stddev=0.1))
            self.mixture_logits = self.add_weight(name="mixture_logits",
                                                  shape=(in_channels * self.filters, self.num_mixtures),
                                                  initializer=keras.initializers.TruncatedNormal(stddev=1.0))
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros") if self.use_bias else None

    def temporal_profile(self):
        """The (L, Cin, Cout) temporal profile; it sums to 1 over the L taps for every channel pair."""
        in_channels = int(self.spatial_kernel_weight.shape[2])
        if self.mixture_logits is None:
            return ops.ones((1, in_channels, self.filters))
        centres = (self.temporal_length - 1) * (ops.tanh(self.centres) + 1.0) / 2.0
        widths = ops.exp(1.5 - 2.0 * ops.abs(ops.tanh(self.widths)))
        z = (ops.convert_to_tensor(self._taps)[None, :] - centres[:, None]) / widths[:, None]
        cauchy = 1.0 / (math.pi * widths[:, None] * ops.square(z) + 1.0)
        cauchy = cauchy / (ops.sum(cauchy, axis=1, keepdims=True) + 1e-6)
        mixed = ops.matmul(ops.softmax(self.mixture_logits, axis=-1), cauchy)
        return ops.reshape(ops.transpose(mixed), (self.temporal_length, in_channels, self.filters))

    def call(self, inputs):
        kernel = self.temporal_profile()[:, None, None] * self.spatial_kernel_weight[None]
        outputs = ops.conv(inputs, kernel, strides=self.strides, padding="same")
        return outputs if self.bias is None else outputs + self.bias

    def compute_output_shape(self, input_shape):
        sizes = [None if n is None else -(-int(n) // s) for n, s in zip(input_shape[1:4], self.strides)]
        return (input_shape[0], *sizes, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "temporal_length": self.temporal_length,
                "spatial_kernel": self.spatial_kernel, "num_mixtures": self.num_mixtures, "strides": self.strides,
                "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class FrameDepthwiseConv(layers.Layer):
    """Per-frame k x k depthwise conv (TVN's "depth" spatial type), with time folded into the batch.

    Why folding: measured on the 2-core dev CPU (shared, so noisy), input (1, 8, 56, 56, 64), k=3, batch 1, median of
    30 runs after 3 warm-ups, inference (torch under no_grad), 2-3 repeats each:
      tensorflow: folded + DepthwiseConv2D 4.3-15.8 ms;  Conv3D(groups=64, kernel (1,3,3)) 599-882 ms (no fast grouped
                  3D kernel on CPU: ~50-140x slower)
      torch:      folded + DepthwiseConv2D 12.6-45 ms;   grouped Conv3D 12.7-100 ms (equal in the quietest repeat)
    So the folded form is used on both backends.
    """

    def __init__(self, *, kernel_size: int = 3, strides: int = 1, use_bias: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = common.positive_int("kernel_size", kernel_size)
        self.strides = common.positive_int("strides", strides)
        self.use_bias = bool(use_bias)
        self.depthwise = layers.DepthwiseConv2D(self.kernel_size, strides=self.strides, padding="same",
                                                use_bias=self.use_bias, name="depthwise")

    def build(self, input_shape) -> None:
        self.depthwise.build((None, *input_shape[2:]))

    def call(self, inputs):
        _, t, h, w, c = inputs.shape
        frames = self.depthwise(ops.reshape(inputs, (-1, int(h), int(w), int(c))))
        return ops.reshape(frames, (-1, int(t), *frames.shape[1:]))

    def compute_output_shape(self, input_shape):
        h, w = (None if n is None else -(-int(n) // self.strides) for n in input_shape[2:4])
        return (input_shape[0], input_shape[1], h, w, input_shape[4])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class DepthwiseConv3D(layers.Layer):
    """Channel-wise (t, k, k) conv (X3D) as a sum over the t temporal taps of per-frame depthwise 2D convs.

    Same result as ``Conv3D(groups=channels)``, written this way because tensorflow has no fast grouped 3D conv on CPU
    (see :class:`FrameDepthwiseConv`; (1, 8, 28, 28, 48), k=3: 22 ms vs 55-62 ms). On torch the grouped conv is faster
    (10-71 ms vs 24-247 ms on the noisy shared CPU), so it is used there. 'same' padding.
    """

    def __init__(self, *, kernel_size: Sequence[int] = (3, 3, 3), strides: Sequence[int] = (1, 1, 1),
                 use_bias: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = common.triple("kernel_size", kernel_size)
        self.strides = common.triple("strides", strides)
        if self.kernel_size[1] != self.kernel_size[2] or self.strides[1] != self.strides[2]:
            raise ValueError(f"kernel_size and strides must be square in space, got {kernel_size!r}, {strides!r}")
        self.use_bias = bool(use_bias)

    def build(self, input_shape) -> None:
        t, k, _ = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(t, k, k, int(input_shape[-1]), 1),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(int(input_shape[-1]),), initializer="zeros") \
            if self.use_bias else None

    def call(self, inputs):
        if keras.backend.backend() == "torch":  # torch has a fast grouped 3D conv; same numbers, fewer kernel calls
            kernel = ops.reshape(self.kernel, (*self.kernel_size, 1, -1))
            outputs = ops.conv(inputs, kernel, strides=self.strides, padding="same")
            return outputs if self.bias is None else outputs + self.bias
        _, frames, h, w, c = (int(n) if n is not None else None for n in inputs.shape)
        taps, stride = self.kernel_size[0], self.strides[0]
        out_frames = -(-frames // stride)
        pad = max((out_frames - 1) * stride + taps - frames, 0)
        x = ops.pad(inputs, ((0, 0), (pad // 2, pad - pad // 2), (0, 0), (0, 0), (0, 0))) if pad else inputs
        total = None
        for tap in range(taps):
            window = x[:, tap: tap + (out_frames - 1) * stride + 1: stride]
            y = ops.depthwise_conv(ops.reshape(window, (-1, h, w, c)), self.kernel[tap], strides=self.strides[1],
                                   padding="same")
            total = y if total is None else total + y
        total = ops.reshape(total, (-1, out_frames, *total.shape[1:]))
        return total if self.bias is None else total + self.bias

    def compute_output_shape(self, input_shape):
        sizes = [None if n is None else -(-int(n) // s) for n, s in zip(input_shape[1:4], self.strides)]
        return (input_shape[0], *sizes, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "kernel_size": self.kernel_size, "strides": self.strides,
                "use_bias": self.use_bias}


__all__ = ["ITGM", "Conv2Plus1D", "DepthwiseConv3D", "FoldedConv3D", "FrameDepthwiseConv"]
