"""Hand-made baselines: R(2+1)D-18 and R3D-18 (Tran et al., 2018), X3D-XS (Feichtenhofer, 2020), two-stream ResNet.

These are what a user would pick instead of a searched net, so they share the families' conventions: keyword-only
builders, inputs "rgb" (and "flow") in [0, 1] / scaled pixels per frame, a ``width_multiplier`` that gives CPU-size
variants, and an output of logits named "logits" (``multi_label`` changes the loss, not the model).
"""

from __future__ import annotations

import keras
from keras import layers

from videonas import checks
from videonas.layers import Conv2Plus1D, DepthwiseConv3D, FoldedConv3D, SqueezeExcitation, batch_norm

# Kinetics RGB statistics (per-channel values are within 0.01 of these); flow arrives already scaled.
_RGB_MEAN, _RGB_STD = 0.45, 0.225
_RESNET18_WIDTHS = (64, 128, 256, 512)
# X3D-XS blocks per stage: the X2D base (1, 2, 5, 3) expanded by X3D's depth factor 2.2 and rounded up. PAPERS.md lists
# the base; the expanded depths are what give the paper's ~3.8M parameters (the base gives ~2.7M).
_X3D_XS_DEPTHS = (3, 5, 11, 7)


def _check_common(num_classes: int, num_frames: int, image_size: int, width_multiplier: float, dropout: float) -> None:
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    checks.check_int("num_frames", num_frames, 1, checks.MAX_FRAMES)
    checks.check_int("image_size", image_size, checks.MIN_IMAGE_SIZE, checks.MAX_IMAGE_SIZE)
    if not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be > 0, got {width_multiplier!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")


def _width(channels: int, width_multiplier: float) -> int:
    return max(4, int(round(channels * width_multiplier)))


def _mid_filters(in_channels: int, out_channels: int, temporal: int = 3, spatial: int = 3) -> int:
    """Tran et al.'s M = floor(t d^2 Nin Nout / (d^2 Nin + t Nout)): the (2+1)D pair has the 3D conv's parameters."""
    return (temporal * spatial**2 * in_channels * out_channels) // (spatial**2 * in_channels + temporal * out_channels)


def _bn_relu(x, name: str, activation: bool = True):
    x = batch_norm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if activation else x


def _conv(x, filters: int, kernel, strides, *, factorised: bool, name: str):
    """A 3x3x3 conv (R3D) or its (2+1)D factorisation (R(2+1)D), no bias, followed by nothing."""
    if factorised:
        in_channels = int(x.shape[-1])
        return Conv2Plus1D(filters, temporal_kernel=kernel[0], spatial_kernel=kernel[1], strides=strides,
                           mid_filters=_mid_filters(in_channels, filters, kernel[0], kernel[1]), name=name)(x)
    return FoldedConv3D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)


def _basic_block(x, filters: int, stride: int, *, factorised: bool, name: str):
    strides = (stride, stride, stride)
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != filters:
        shortcut = FoldedConv3D(filters, 1, strides=strides, use_bias=False, name=f"{name}_down")(x)
        shortcut = _bn_relu(shortcut, f"{name}_down", activation=False)
    y = _bn_relu(_conv(x, filters, (3, 3, 3), strides, factorised=factorised, name=f"{name}_conv1"), f"{name}_conv1")
    y = _bn_relu(_conv(y, filters, (3, 3, 3), 1, factorised=factorised, name=f"{name}_conv2"), f"{name}_conv2",
                 activation=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def _resnet_trunk(x, *, blocks: tuple[int, ...], width_multiplier: float, factorised: bool, prefix: str):
    """Stem + 4 stages of BasicBlocks; stages 2-4 halve time and space (Tran et al., Table 1)."""
    stem = _width(64, width_multiplier)
    if factorised:
        # Stem (2+1)D: 1x7x7 to 45 channels then 3x1x1 to 64 (45 = M for 3 -> 64 channels with a 3x7x7 kernel).
        x = Conv2Plus1D(stem, temporal_kernel=3, spatial_kernel=7, strides=(1, 2, 2),
                        mid_filters=_width(45, width_multiplier), name=f"{prefix}stem")(x)
    else:
        x = FoldedConv3D(stem, (3, 7, 7), strides=(1, 2, 2), padding="same", use_bias=False, name=f"{prefix}stem")(x)
    x = _bn_relu(x, f"{prefix}stem")
    for stage, (count, channels) in enumerate(zip(blocks, _RESNET18_WIDTHS)):
        for index in range(count):
            stride = 2 if stage > 0 and index == 0 else 1
            x = _basic_block(x, _width(channels, width_multiplier), stride, factorised=factorised,
                             name=f"{prefix}stage{stage + 1}_block{index + 1}")
    return layers.GlobalAveragePooling3D(name=f"{prefix}pool")(x)


def _normalised_rgb(num_frames: int, image_size: int):
    inputs = keras.Input((num_frames, image_size, image_size, 3), name="rgb")
    return inputs, layers.Rescaling(1 / _RGB_STD, offset=-_RGB_MEAN / _RGB_STD, name="normalise")(inputs)


def _head(x, num_classes: int, dropout: float, name: str = "logits"):
    if dropout > 0:
        x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return layers.Dense(num_classes, name=name)(x)


def _build_resnet18(*, factorised: bool, num_classes: int, num_frames: int, image_size: int, width_multiplier: float,
                    dropout: float, name: str) -> keras.Model:
    _check_common(num_classes, num_frames, image_size, width_multiplier, dropout)
    inputs, x = _normalised_rgb(num_frames, image_size)
    x = _resnet_trunk(x, blocks=(2, 2, 2, 2), width_multiplier=width_multiplier, factorised=factorised, prefix="")
    return keras.Model(inputs, _head(x, num_classes, dropout), name=name)


def build_r2plus1d_18(*, num_classes: int, num_frames: int = 16, image_size: int = 112, multi_label: bool = False,
                      width_multiplier: float = 1.0, dropout: float = 0.5, name: str = "r2plus1d_18") -> keras.Model:
    """R(2+1)D-18: every 3x3x3 conv of R3D-18 split into 1x3x3 + 3x1x1 with parameter-matching mid channels."""
    return _build_resnet18(factorised=True, num_classes=num_classes, num_frames=num_frames, image_size=image_size,
                           width_multiplier=width_multiplier, dropout=dropout, name=name)


def build_r3d_18(*, num_classes: int, num_frames: int = 16, image_size: int = 112, multi_label: bool = False,
                 width_multiplier: float = 1.0, dropout: float = 0.5, name: str = "r3d_18") -> keras.Model:
    """R3D-18: ResNet-18 with full 3x3x3 convs (stem 3x7x7), 64/128/256/512 channels."""
    return _build_resnet18(factorised=False, num_classes=num_classes, num_frames=num_frames, image_size=image_size,
                           width_multiplier=width_multiplier, dropout=dropout, name=name)


def _x3d_block(x, *, inner: int, out: int, stride: int, use_se: bool, name: str):
    """X3D bottleneck: 1x1x1, BN ReLU; 3x3x3 channel-wise (spatial stride), BN [SE] swish; 1x1x1, BN; residual."""
    shortcut = x
    if stride != 1 or int(x.shape[-1]) != out:
        shortcut = FoldedConv3D(out, 1, strides=(1, stride, stride), use_bias=False, name=f"{name}_down")(x)
        shortcut = _bn_relu(shortcut, f"{name}_down", activation=False)
    y = _bn_relu(FoldedConv3D(inner, 1, use_bias=False, name=f"{name}_a")(x), f"{name}_a")
    y = DepthwiseConv3D(kernel_size=(3, 3, 3), strides=(1, stride, stride), name=f"{name}_b")(y)
    y = batch_norm(name=f"{name}_b_bn")(y)
    if use_se:
        y = SqueezeExcitation(1 / 16, name=f"{name}_se")(y)
    y = layers.Activation("swish", name=f"{name}_swish")(y)
    y = _bn_relu(FoldedConv3D(out, 1, use_bias=False, name=f"{name}_c")(y), f"{name}_c", activation=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def build_x3d_xs(*, num_classes: int, num_frames: int = 4, image_size: int = 160, multi_label: bool = False,
                 width_multiplier: float = 1.0, dropout: float = 0.5, name: str = "x3d_xs") -> keras.Model:
    """X3D-XS: 4 frames at 160 px; stages of 3/5/11/7 bottlenecks, 24/48/96/192 channels, 2.25x inner width.

    Interpretation (X3D paper as summarised in PAPERS.md, details as in its released configs): no temporal striding;
    every stage's first block halves space in its channel-wise conv; SE (ratio 1/16 of the inner width) in blocks 1, 3,
    5, ... of each stage; conv5 1x1x1 to 432 channels with BN+ReLU, global pool, 2048-d fc with ReLU (no BN), dropout,
    classifier.
    """
    _check_common(num_classes, num_frames, image_size, width_multiplier, dropout)
    inputs, x = _normalised_rgb(num_frames, image_size)
    stem = _width(24, width_multiplier)
    x = FoldedConv3D(stem, (1, 3, 3), strides=(1, 2, 2), padding="same", use_bias=False, name="stem_xy")(x)
    x = _bn_relu(DepthwiseConv3D(kernel_size=(5, 1, 1), name="stem_t")(x), "stem")
    for stage, (count, channels) in enumerate(zip(_X3D_XS_DEPTHS, (24, 48, 96, 192))):
        out = _width(channels, width_multiplier)
        for index in range(count):
            x = _x3d_block(x, inner=_width(channels * 2.25, width_multiplier), out=out,
                           stride=2 if index == 0 else 1, use_se=index % 2 == 0,
                           name=f"stage{stage + 2}_block{index + 1}")
    x = _bn_relu(FoldedConv3D(_width(432, width_multiplier), 1, use_bias=False, name="conv5")(x), "conv5")
    x = layers.GlobalAveragePooling3D(name="pool")(x)
    x = layers.Dense(_width(2048, width_multiplier), activation="relu", use_bias=False, name="fc")(x)
    return keras.Model(inputs, _head(x, num_classes, dropout), name=name)


def build_two_stream(*, num_classes: int, num_frames: int = 16, image_size: int = 112, multi_label: bool = False,
                     width_multiplier: float = 1.0, dropout: float = 0.5, name: str = "two_stream") -> keras.Model:
    """Two-stream late fusion: an RGB and a flow R(2+1)D-10 (one BasicBlock per stage), each with its own classifier;
    the logits are averaged. This is the classic hand-made two-stream design that AssembleNet's multi-stream search
    generalises.
    """
    _check_common(num_classes, num_frames, image_size, width_multiplier, dropout)
    rgb, rgb_x = _normalised_rgb(num_frames, image_size)
    flow = keras.Input((num_frames, image_size, image_size, 2), name="flow")
    stream_logits = []
    for prefix, x in (("rgb_", rgb_x), ("flow_", flow)):
        features = _resnet_trunk(x, blocks=(1, 1, 1, 1), width_multiplier=width_multiplier, factorised=True,
                                 prefix=prefix)
        stream_logits.append(_head(features, num_classes, dropout, name=f"{prefix}logits"))
    logits = layers.Average(name="logits")(stream_logits)
    return keras.Model({"rgb": rgb, "flow": flow}, logits, name=name)
