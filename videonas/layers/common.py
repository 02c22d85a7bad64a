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


def spatial_axes_mean(inputs):
    return ops.mean(inputs, axis=(1, 2, 3))


__all__ = ["BATCH_NORM_MOMENTUM", "PACKAGE", "batch_norm", "positive_int", "spatial_axes_mean", "triple"]
