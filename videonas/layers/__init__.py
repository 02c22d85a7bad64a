"""Spatio-temporal Keras 3 layers shared by the three families and the baselines.

Everything is written with ``keras.ops`` only, so the same model runs on the tensorflow and torch backends. All layers
take and return channels-last 5-D tensors ``(batch, time, height, width, channels)`` with static time/height/width.
"""

from __future__ import annotations

from videonas.layers.common import BATCH_NORM_MOMENTUM, batch_norm, same_padding
from videonas.layers.convolution import ITGM, Conv2Plus1D, DepthwiseConv3D, FoldedConv3D, FrameDepthwiseConv
from videonas.layers.fusion import WeightedFusion
from videonas.layers.gating import ContextGating, NonLocal, SqueezeExcitation

__all__ = [
    "BATCH_NORM_MOMENTUM",
    "ITGM",
    "ContextGating",
    "Conv2Plus1D",
    "DepthwiseConv3D",
    "FoldedConv3D",
    "FrameDepthwiseConv",
    "NonLocal",
    "SqueezeExcitation",
    "WeightedFusion",
    "batch_norm",
    "same_padding",
]
