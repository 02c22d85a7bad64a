"""EvaNet: an EvaNetGenome as a Keras model (the paper's meta-architecture around four evolved modules).

Layout, channels-last 5-D throughout (interpretations of the released genome are marked "Interpretation"):

    input (T, S, S, C) -> stem conv (stem.time, 7, 7), 64*w ch, stride (1, 2, 2), BN, ReLU
    -> max-pool (max_pool1_time, 3, 3) stride (1, 2, 2)
    -> module 1 (256*w) -> max-pool (1, 3, 3) stride (1, 2, 2)
    -> module 2 (512*w) -> max-pool (max_pool3_time, 3, 3) stride (2, 2, 2)
    -> module 3 (1024*w) -> max-pool (max_pool4_time, 3, 3) stride (2, 2, 2)
    -> module 4 (2048*w) -> global average pool -> dropout -> dense "logits"

Interpretation: the genome names pools 1, 3 and 4 after I3D's, whose pool 2 is always (1, 3, 3) with stride (1, 2, 2)
and whose pools 3 and 4 also halve time; we place one pool between each pair of modules the same way, so the net
downsamples space by 32 (224 px -> 7) and time by 4, like ResNet-50 / I3D. (2+1)D convs keep the layer's default
middle width (= their output width) rather than R(2+1)D's parameter-matching one; iTGM uses 4 mixtures.
"""

from __future__ import annotations

import keras
from keras import layers

from videonas.genome.evanet import Branch, EvaNetGenome
from videonas.layers import ITGM, Conv2Plus1D, batch_norm

MODULE_FILTERS = (256, 512, 1024, 2048)
STEM_FILTERS = 64
INPUT_CHANNELS = {"rgb": 3, "flow": 2}


def build_evanet(
    genome: EvaNetGenome,
    *,
    num_classes: int,
    multi_label: bool = False,
    num_frames: int,
    image_size: int,
    modality: str = "rgb",
    width_multiplier: float = 1.0,
    dropout: float = 0.5,
    name: str | None = None,
) -> keras.Model:
    """The EvaNet of ``genome`` for clips of ``num_frames`` x ``image_size``^2 of one ``modality``.

    Outputs logits either way; ``multi_label`` only tells the caller to use a sigmoid loss (kept for the common
    builder signature). Widths are scaled by ``width_multiplier`` (the paper's nets use 1.0).
    """
    if not isinstance(genome, EvaNetGenome):
        raise ValueError(f"genome must be an EvaNetGenome, got {type(genome).__name__}")
    genome.validate()
    _check_positive_int("num_classes", num_classes)
    _check_positive_int("num_frames", num_frames)
    _check_positive_int("image_size", image_size)
    if modality not in INPUT_CHANNELS:
        raise ValueError(f"modality must be one of {list(INPUT_CHANNELS)}, got {modality!r}")
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be a positive number, got {width_multiplier!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not isinstance(multi_label, bool):
        raise ValueError(f"multi_label must be a bool, got {multi_label!r}")

    inputs = keras.Input((num_frames, image_size, image_size, INPUT_CHANNELS[modality]), name=modality, dtype="float32")
    x = layers.Rescaling(2.0, offset=-1.0, name="scale")(inputs) if modality == "rgb" else inputs
    x = _conv_bn_relu(x, genome.stem.conv, _width(STEM_FILTERS, width_multiplier), genome.stem.time, "stem",
                      spatial_kernel=7, strides=(1, 2, 2))
    pools = [(genome.max_pool1_time, 1), (1, 1), (genome.max_pool3_time, 2), (genome.max_pool4_time, 2)]
    for index, (block, filters) in enumerate(zip(genome.blocks, MODULE_FILTERS)):
        pool_time, time_stride = pools[index]
        x = _max_pool(x, pool_time, strides=(time_stride, 2, 2), name=f"pool{index + 1}")
        width = max(len(block.layers), _width(filters, width_multiplier))
        for repeat in range(block.repeats):
            x = _module_repeat(x, block.layers, width, repeat, name=f"block{index + 1}_repeat{repeat}")
    x = layers.GlobalAveragePooling3D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name=name or "evanet")


def _module_repeat(x, branches: tuple[Branch, ...], filters: int, repeat: int, name: str):
    """One residual repeat: parallel branches, concatenated to ``filters`` channels, added to the shortcut, ReLU.

    Interpretation of the channel split: the released spec gives one width per module, so the ``filters`` output
    channels are shared evenly between the branches (the first ``filters % n`` branches get one more), and each
    branch's inner widths (f/2, f/4) are relative to its own share. The concatenation then has exactly ``filters``
    channels and no extra projection is needed; a wide module of many branches costs about what one bottleneck does.
    Odd repeats use temporal size 1 for every branch ("repeats alternate the temporal extent on/off").
    """
    temporal = repeat % 2 == 0
    shares = [filters // len(branches) + (i < filters % len(branches)) for i in range(len(branches))]
    outputs = [
        _branch(x, branch, share, temporal, name=f"{name}_branch{i}")
        for i, (branch, share) in enumerate(zip(branches, shares))
    ]
    y = outputs[0] if len(outputs) == 1 else layers.Concatenate(name=f"{name}_concat")(outputs)
    shortcut = x
    if repeat == 0 or x.shape[-1] != filters:
        shortcut = layers.Conv3D(filters, 1, use_bias=False, name=f"{name}_projection")(x)
        shortcut = batch_norm(name=f"{name}_projection_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu")(y)


def _branch(x, branch: Branch, filters: int, temporal: bool, name: str):
    """One parallel layer; its last conv ends with BN but no ReLU, which comes after the residual add (ResNet-style)."""
    time = branch.time if temporal and branch.time is not None else 1
    if branch.layer == "single":
        return _pointwise(x, filters, f"{name}_1x1", relu=False)
    if branch.layer == "maxpoolconv":
        x = _max_pool(x, time, strides=(1, 1, 1), name=f"{name}_pool")
        return _pointwise(x, filters, f"{name}_1x1", relu=False)
    if branch.layer == "conv":
        x = _pointwise(x, max(1, filters // 2), f"{name}_1x1")
        return _conv_bn_relu(x, branch.conv, filters, time, f"{name}_conv", relu=False)
    time2 = branch.time2 if temporal else 1
    x = _pointwise(x, max(1, filters // 4), f"{name}_1x1")
    x = _conv_bn_relu(x, branch.conv, max(1, filters // 2), time, f"{name}_conv")
    return _conv_bn_relu(x, branch.conv2, filters, time2, f"{name}_conv2", relu=False)


def _conv_bn_relu(x, conv_type: str, filters: int, time: int, name: str, *, spatial_kernel: int = 3,
                  strides: tuple[int, int, int] = (1, 1, 1), relu: bool = True):
    # Taps further than T-1 frames from the centre only ever meet zero padding, so a kernel longer than 2T-1 is
    # clipped: the same function class for 3D and (2+1)D (iTGM's profile then spans the reachable taps) at a fraction
    # of the cost on short clips. It never triggers at 32 frames, where the shortest clip inside the net is 8.
    time = min(time, 2 * x.shape[1] - 1)
    if conv_type == "3d":
        kernel = (time, spatial_kernel, spatial_kernel)
        x = layers.Conv3D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
    elif conv_type == "2plus1d":
        x = Conv2Plus1D(filters, temporal_kernel=time, spatial_kernel=spatial_kernel, strides=strides, name=name)(x)
    else:
        x = ITGM(filters, temporal_length=time, spatial_kernel=spatial_kernel, strides=strides, name=name)(x)
    x = batch_norm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _pointwise(x, filters: int, name: str, *, relu: bool = True):
    return _conv_bn_relu(x, "3d", filters, 1, name, spatial_kernel=1, relu=relu)


def _max_pool(x, time: int, *, strides: tuple[int, int, int], name: str):
    # The window never exceeds the clip's current length and "same" padding rounds up, so time never drops below 1.
    window = (min(time, x.shape[1]), 3, 3)
    return layers.MaxPooling3D(window, strides=strides, padding="same", name=name)(x)


def _width(filters: int, width_multiplier: float) -> int:
    return max(1, int(round(filters * width_multiplier)))


def _check_positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be a positive int, got {value!r}")
