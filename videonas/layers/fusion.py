"""AssembleNet's learned, sigmoid-weighted fusion of a node's input streams."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy
from keras import layers, ops

from videonas.layers import common


@keras.saving.register_keras_serializable(package=common.PACKAGE)
class WeightedFusion(layers.Layer):
    """AssembleNet's node input, as released (tensorflow/models ``official/projects/assemblenet/modeling/
    assemblenet.py``, ``multi_connection_fusion``): sum_i sigmoid(w_i) * maxpool_i(x_i), projected to the widest input.

    Inputs share their time length; each is max-pooled (window = stride, 'same' padding) to the smallest spatial size.
    Gated inputs of equal width are summed first; a group narrower than the widest input gets one 1x1x1 projection (no
    bias), the widest group none, so sigmoid(w_i) is the only gain of an edge from a widest input. The logits start
    from a truncated normal (std 0.01) unless ``initial_weights`` (logits) are given. One input: the identity, with no
    weight (its connection weight reads 1). ``learn_weights=False`` keeps the logits constant while the projections
    still train: the release loads a preset's learnt connection weights that way (``_ApplyEdgeWeight``).
    """

    def __init__(self, *, initial_weights: Sequence[float] | None = None, learn_weights: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_weights = None if initial_weights is None else [float(w) for w in initial_weights]
        self.learn_weights = bool(learn_weights)

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
            self.logits = self.add_weight(name="connection_logits", shape=(len(shapes),), initializer=init,
                                          trainable=self.learn_weights)

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
        return {**super().get_config(), "initial_weights": self.initial_weights, "learn_weights": self.learn_weights}


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


__all__ = ["WeightedFusion"]
