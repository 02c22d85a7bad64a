"""Spatio-temporal Keras 3 layers shared by the three families and the baselines.

Everything is written with ``keras.ops`` only, so the same model runs on the tensorflow and torch backends. All layers
take and return channels-last 5-D tensors ``(batch, time, height, width, channels)`` with static time/height/width.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy
from keras import layers, ops

_PACKAGE = "videonas"

# Keras' default of 0.99 leaves the moving statistics mostly at their initial values after the few hundred steps of a
# CPU search budget, so validation scores swung by tens of points between epochs; 0.9 (PyTorch's 0.1) settles in ~50.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(**kwargs) -> layers.BatchNormalization:
    """The BatchNormalization every videonas model uses (momentum ``BATCH_NORM_MOMENTUM``)."""
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, **kwargs)


def _triple(field: str, value: int | Sequence[int]) -> tuple[int, int, int]:
    values = (value, value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 3 or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"{field} must be a positive int or 3 positive ints, got {value!r}")
    return values  # type: ignore[return-value]


def _positive_int(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field} must be a positive int, got {value!r}")
    return value


def _spatial_axes_mean(inputs):
    return ops.mean(inputs, axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.filters = _positive_int("filters", filters)
        self.temporal_first = bool(temporal_first)
        self.temporal_kernel = _positive_int("temporal_kernel", temporal_kernel)
        self.spatial_kernel = _positive_int("spatial_kernel", spatial_kernel)
        self.strides = _triple("strides", strides)
        self.temporal_dilation = _positive_int("temporal_dilation", temporal_dilation)
        self.use_bias = bool(use_bias)
        self.mid_filters = self.filters if mid_filters is None else _positive_int("mid_filters", mid_filters)
        if self.temporal_dilation > 1 and self.strides[0] > 1:
            raise ValueError(f"temporal_dilation {temporal_dilation} needs temporal stride 1, got strides {strides!r}")
        t_stride, h_stride, w_stride = self.strides
        k = self.spatial_kernel
        if self.temporal_first:
            self.temporal = layers.Conv3D(self.mid_filters, (self.temporal_kernel, 1, 1), strides=(t_stride, 1, 1),
                                          dilation_rate=(self.temporal_dilation, 1, 1), padding="same",
                                          use_bias=self.use_bias, name="temporal")
            self.norm = batch_norm(name="mid_bn")
            self.spatial = layers.Conv3D(self.filters, (1, k, k), strides=(1, h_stride, w_stride), padding="same",
                                         use_bias=self.use_bias, name="spatial")
        elif self.temporal_kernel == 1:
            self.spatial = layers.Conv3D(self.filters, (1, k, k), strides=self.strides, padding="same",
                                         use_bias=self.use_bias, name="spatial")
            self.norm = self.temporal = None
        else:
            self.spatial = layers.Conv3D(self.mid_filters, (1, k, k), strides=(1, h_stride, w_stride), padding="same",
                                         use_bias=self.use_bias, name="spatial")
            self.norm = batch_norm(name="mid_bn")
            self.temporal = layers.Conv3D(self.filters, (self.temporal_kernel, 1, 1), strides=(t_stride, 1, 1),
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.filters = _positive_int("filters", filters)
        self.temporal_length = _positive_int("temporal_length", temporal_length)
        self.spatial_kernel = _positive_int("spatial_kernel", spatial_kernel)
        self.num_mixtures = _positive_int("num_mixtures", num_mixtures)
        self.strides = _triple("strides", strides)
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.min_units = None if min_units is None else _positive_int("min_units", min_units)

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        units = max(1, round(channels * self.ratio)) if self.min_units is None else \
            max(int(channels * self.ratio), self.min_units)
        self.squeeze = layers.Dense(units, activation="relu", name="squeeze")
        self.excite = layers.Dense(channels, activation="sigmoid", name="excite")
        self.squeeze.build((input_shape[0], channels))
        self.excite.build((input_shape[0], self.squeeze.units))

    def call(self, inputs):
        gates = self.excite(self.squeeze(_spatial_axes_mean(inputs)))
        return inputs * gates[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ratio": self.ratio, "min_units": self.min_units}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ContextGating(layers.Layer):
    """Context gating (Miech et al.): x * sigmoid(W mean(x) + b), a one-layer SE that TVN favours for its low cost."""

    def build(self, input_shape) -> None:
        channels = int(input_shape[-1])
        self.gate = layers.Dense(channels, activation="sigmoid", name="gate")
        self.gate.build((input_shape[0], channels))

    def call(self, inputs):
        return inputs * self.gate(_spatial_axes_mean(inputs))[:, None, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.norm = batch_norm(gamma_initializer="zeros", name="bn") if self.use_batch_norm else None
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
        if self.mode == "embedded_gaussian" and positions == 1:  # a softmax over one position is 1 (and warns)
            affinity = ops.ones_like(affinity)
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WeightedFusion(layers.Layer):
    """AssembleNet's node input, as released (tensorflow/models ``official/projects/assemblenet/modeling/
    assemblenet.py``, ``multi_connection_fusion``): sum_i sigmoid(w_i) * maxpool_i(x_i), projected to the widest input.

    Inputs share their time length; each is max-pooled (window = stride, 'same' padding) to the smallest spatial size.
    Gated inputs of equal width are summed first; a group narrower than the widest input gets one 1x1x1 projection (no
    bias), the widest group none, so sigmoid(w_i) is the only gain of an edge from a widest input. The logits start
    from a truncated normal (std 0.01) unless ``initial_weights`` (logits) are given. One input: the identity, with no
    weight (its connection weight reads 1).
    """

    def __init__(self, *, initial_weights: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_weights = None if initial_weights is None else [float(w) for w in initial_weights]

    def build(self, input_shape) -> None:
        shapes = list(input_shape)
        if not shapes or not isinstance(shapes[0], (tuple, list)):
            raise ValueError(f"WeightedFusion input must be a non-empty list of 5-D tensors, got shape {input_shape!r}")
        if len({int(s[1]) for s in shapes}) != 1:
            raise ValueError(f"inputs must share their time length, got shapes {shapes!r}")
        if self.initial_weights is not None and len(self.initial_weights) != len(shapes):
            raise ValueError(f"initial_weights must have {len(shapes)} values, got {self.initial_weights!r}")
        target = (min(int(s[2]) for s in shapes), min(int(s[3]) for s in shapes))
        self.pool_sizes = [tuple(_pool_to(int(size), small) for size, small in zip(shape[2:4], target))
                           for shape in shapes]
        self.filters = max(int(s[-1]) for s in shapes)
        self.groups = list(dict.fromkeys(int(s[-1]) for s in shapes))  # widths in first-seen order
        self.projections = {}  # str(width) -> projection: TF's SavedModel tracking (ONNX, LiteRT export) needs str keys
        for width in self.groups:
            if width != self.filters:
                projection = layers.Conv3D(self.filters, 1, use_bias=False, name=f"project_{width}")
                projection.build((None, int(shapes[0][1]), *target, width))
                self.projections[str(width)] = projection
        self.logits = None
        if len(shapes) > 1:
            init = keras.initializers.TruncatedNormal(stddev=0.01) if self.initial_weights is None else \
                keras.initializers.Constant(numpy.asarray(self.initial_weights))
            self.logits = self.add_weight(name="connection_logits", shape=(len(shapes),), initializer=init)

    def call(self, inputs):
        if self.logits is None:
            return inputs[0]
        gates = ops.sigmoid(self.logits)
        sums = {}
        for i, (x, pools) in enumerate(zip(inputs, self.pool_sizes)):
            if pools != (1, 1):  # a 2-D pool of every frame: LiteRT has no 3-D pooling kernel
                frames, rows, cols, channels = x.shape[1:]
                x = ops.max_pool(ops.reshape(x, (-1, rows, cols, channels)), pool_size=pools, strides=pools,
                                 padding="same")
                x = ops.reshape(x, (-1, frames, *x.shape[1:]))
            width = int(x.shape[-1])
            sums[width] = gates[i] * x if width not in sums else sums[width] + gates[i] * x
        total = None
        for width in self.groups:
            x = sums[width] if width == self.filters else self.projections[str(width)](sums[width])
            total = x if total is None else total + x
        return total

    def connection_weights(self) -> numpy.ndarray:
        """sigmoid(w_i) in input order (1.0 for a single input, which has no weight)."""
        if self.logits is None:
            return numpy.ones(1)
        return 1.0 / (1.0 + numpy.exp(-numpy.asarray(keras.ops.convert_to_numpy(self.logits), dtype="float64")))

    def compute_output_shape(self, input_shape):
        shapes = list(input_shape)
        return (shapes[0][0], shapes[0][1], min(s[2] for s in shapes), min(s[3] for s in shapes),
                max(s[-1] for s in shapes))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "initial_weights": self.initial_weights}


def _pool_to(size: int, small: int) -> int:
    """The max-pool window (= stride) taking ``size`` to ``small`` with 'same' padding: the released (size + 1) // small
    where it lands on ``small``, else the smallest window that does (one always exists when ``size`` came from
    ``small``'s map by an integer stride ratio, which AssembleNetGenome.validate ensures)."""
    released = max(1, (size + 1) // small)
    if -(-size // released) == small:
        return released
    for window in range(1, size + 1):
        if -(-size // window) == small:
            return window
    raise ValueError(f"cannot max-pool spatial size {size} to {small}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
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
        self.kernel_size = _positive_int("kernel_size", kernel_size)
        self.strides = _positive_int("strides", strides)
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


@keras.saving.register_keras_serializable(package=_PACKAGE)
class DepthwiseConv3D(layers.Layer):
    """Channel-wise (t, k, k) conv (X3D) as a sum over the t temporal taps of per-frame depthwise 2D convs.

    Same result as ``Conv3D(groups=channels)``, written this way because tensorflow has no fast grouped 3D conv on CPU
    (see :class:`FrameDepthwiseConv`; (1, 8, 28, 28, 48), k=3: 22 ms vs 55-62 ms). On torch the grouped conv is faster
    (10-71 ms vs 24-247 ms on the noisy shared CPU), so it is used there. 'same' padding.
    """

    def __init__(self, *, kernel_size: Sequence[int] = (3, 3, 3), strides: Sequence[int] = (1, 1, 1),
                 use_bias: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_size = _triple("kernel_size", kernel_size)
        self.strides = _triple("strides", strides)
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
