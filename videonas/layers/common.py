"""What every videonas layer shares: the registration package, the batch norm, and argument checks.

Registered names are ``"videonas>ClassName"`` whatever module a layer lives in, so saved ``.keras`` files load as long
as ``videonas.layers`` is imported.
"""

from __future__ import annotations

from typing import Any, Sequence

from keras import layers, ops

PACKAGE = "videonas"

# Keras' default of 0.99 leaves the moving statistics mostly at their initial values after the few hundred steps of a
# CPU search budget, so validation scores swung by tens of points between epochs; 0.9 (PyTorch's 0.1) settles in ~50.
BATCH_NORM_MOMENTUM = 0.9


def batch_norm(**kwargs) -> layers.BatchNormalization:
    """The BatchNormalization every videonas model uses (momentum ``BATCH_NORM_MOMENTUM``)."""
    return layers.BatchNormalization(momentum=BATCH_NORM_MOMENTUM, **kwargs)


def triple(field: str, value: int | Sequence[int]) -> tuple[int, int, int]:
    values = (value, value, value) if isinstance(value, int) else tuple(value)
    if len(values) != 3 or not all(isinstance(v, int) and v >= 1 for v in values):
        raise ValueError(f"{field} must be a positive int or 3 positive ints, got {value!r}")
    return values  # type: ignore[return-value]


def positive_int(field: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{field} must be a positive int, got {value!r}")
    return value


def same_padding(sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int]) -> str:
    """The padding argument that computes "same" alike on every backend and runtime: "same", or "valid" where they
    disagree.

    A window that ends two or more cells short of the input ((out - 1) * stride + kernel <= size - 2, out =
    ceil(size / stride): a kernel at most its stride - 2) needs no padding, and TensorFlow's 3-D convs and pools
    (Eigen) still shift it by a negative half-padding while its 2-D ops, ONNX Runtime and torch start at the first
    cell: exported networks gave other logits than Keras (0.86 on one pool, issue 27). "valid" gives such a layer
    "same"'s output size with the windows at the first cell everywhere.
    """
    short = []
    for size, k, stride in zip(sizes, kernel, strides):
        out = -(-int(size) // int(stride))
        short.append((out - 1) * int(stride) + int(k) - int(size))
    if not any(need <= -2 for need in short):
        return "same"
    if any(need > 0 for need in short):
        raise ValueError(f"kernel {tuple(kernel)} at strides {tuple(strides)} on a {tuple(sizes)} input pads one axis "
                         "and leaves another two cells short: no padding argument places it alike on every runtime")
    return "valid"


def spatial_axes_mean(inputs):
    return ops.mean(inputs, axis=(1, 2, 3))


__all__ = ["BATCH_NORM_MOMENTUM", "PACKAGE", "batch_norm", "positive_int", "same_padding", "spatial_axes_mean",
           "triple"]
