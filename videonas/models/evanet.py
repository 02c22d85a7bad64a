"""EvaNet: an EvaNetGenome as a Keras model, the meta-architecture of the released code around four evolved modules.

Layout, channels-last 5-D, as released (google-research ``evanet/model_dna.py``, ``ModelDNA.model``):

    input (T, S, S, C) -> stem conv (stem.time, 7, 7), 64*w ch, stride (2, 2, 2), BN, ReLU
    -> max-pool (max_pool1_time, 3, 3) stride (2, 2, 2)                  # every module sees T/4 frames
    -> module 1 (256*w) -> max-pool (max_pool1_time, 2, 2) stride (1, 2, 2)
    -> module 2 (512*w) -> max-pool (max_pool3_time, 2, 2) stride (1, 2, 2)
    -> module 3 (1024*w) -> max-pool (max_pool4_time, 2, 2) stride (1, 2, 2)
    -> module 4 (2048*w) -> avg-pool (min(T', 2), S', S') 'valid' -> dropout -> 1x1 conv "logits" -> mean over positions

Each module splits its width evenly (floor) between its parallel branches, so a module of n branches has n * (W // n)
channels. (2+1)D convs are temporal-first to half width (``Conv2Plus1D(temporal_first=True)``), iTGM mixes 4 Cauchy
kernels per channel pair. Remaining differences from the released code: a temporal kernel longer than 2T'-1 is clipped
(it only meets padding; never at 32 frames), and the (2+1)D middle BN trains normally (released: always in inference
mode, since ``conv21d`` is never given ``is_training``).
"""

from __future__ import annotations

import keras
from keras import layers

from videonas import checks
from videonas.genome.evanet import Branch, EvaNetGenome
from videonas.layers import ITGM, Conv2Plus1D, FoldedConv3D, batch_norm
from videonas.models import cost

MODULE_FILTERS = (256, 512, 1024, 2048)
STEM_FILTERS = 64
INPUT_CHANNELS = {"rgb": 3, "flow": 2}
ITGM_MIXTURES = 4  # Cauchy kernels per iTGM profile, as released


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
    _check_arguments(genome, num_classes, num_frames, image_size, modality, width_multiplier)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    if not isinstance(multi_label, bool):
        raise ValueError(f"multi_label must be a bool, got {multi_label!r}")

    inputs = keras.Input((num_frames, image_size, image_size, INPUT_CHANNELS[modality]), name=modality, dtype="float32")
    x = layers.Rescaling(2.0, offset=-1.0, name="scale")(inputs) if modality == "rgb" else inputs
    x = _conv_bn_relu(x, genome.stem.conv, _width(STEM_FILTERS, width_multiplier), genome.stem.time, "stem",
                      spatial_kernel=7, strides=(2, 2, 2))
    x = _max_pool(x, genome.max_pool1_time, 3, strides=(2, 2, 2), name="pool1")
    later_pools = (genome.max_pool1_time, genome.max_pool3_time, genome.max_pool4_time)  # pool 2 reuses pool 1's time
    for index, (block, filters) in enumerate(zip(genome.blocks, MODULE_FILTERS)):
        if index > 0:
            x = _max_pool(x, later_pools[index - 1], 2, strides=(1, 2, 2), name=f"pool{index + 1}")
        share = max(1, _width(filters, width_multiplier) // len(block.layers))
        for repeat in range(block.repeats):
            x = _module_repeat(x, block.layers, share, repeat, name=f"block{index + 1}_repeat{repeat}")
    window = (min(int(x.shape[1]), 2), int(x.shape[2]), int(x.shape[3]))
    x = layers.AveragePooling3D(window, strides=1, padding="valid", name="head_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = FoldedConv3D(num_classes, 1, name="logits_conv")(x)
    outputs = layers.GlobalAveragePooling3D(name="logits")(x)
    return keras.Model(inputs, outputs, name=name or "evanet")


def _module_repeat(x, branches: tuple[Branch, ...], share: int, repeat: int, name: str):
    """One residual repeat: parallel branches of ``share`` channels each, concatenated, added to the shortcut, ReLU.

    As released: the first repeat projects the shortcut (1x1 + BN), later ones add the identity; odd repeats use
    temporal size 1 for the conv branches while a max-pool branch keeps its temporal window.
    """
    temporal = repeat % 2 == 0
    outputs = [_branch(x, branch, share, temporal, name=f"{name}_branch{i}") for i, branch in enumerate(branches)]
    y = outputs[0] if len(outputs) == 1 else layers.Concatenate(name=f"{name}_concat")(outputs)
    shortcut = x
    if repeat == 0:
        shortcut = FoldedConv3D(int(y.shape[-1]), 1, use_bias=False, name=f"{name}_projection")(x)
        shortcut = batch_norm(name=f"{name}_projection_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_relu")(y)


def _branch(x, branch: Branch, filters: int, temporal: bool, name: str):
    """One parallel layer; its last conv ends with BN but no ReLU, which comes after the residual add (ResNet-style)."""
    time = branch.time if temporal and branch.time is not None else 1
    if branch.layer == "single":
        return _pointwise(x, filters, f"{name}_1x1", relu=False)
    if branch.layer == "maxpoolconv":
        x = _max_pool(x, branch.time, 3, strides=(1, 1, 1), name=f"{name}_pool")
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
        x = FoldedConv3D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
    elif conv_type == "2plus1d":
        x = Conv2Plus1D(filters, temporal_kernel=time, spatial_kernel=spatial_kernel, strides=strides,
                        mid_filters=max(1, filters // 2), temporal_first=True, name=name)(x)
    else:
        x = ITGM(filters, temporal_length=time, spatial_kernel=spatial_kernel, num_mixtures=ITGM_MIXTURES,
                 strides=strides, name=name)(x)
    x = batch_norm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _pointwise(x, filters: int, name: str, *, relu: bool = True):
    return _conv_bn_relu(x, "3d", filters, 1, name, spatial_kernel=1, relu=relu)


def _max_pool(x, time: int, space: int, *, strides: tuple[int, int, int], name: str):
    # The window never exceeds the clip's current length and "same" padding rounds up, so time never drops below 1.
    window = (min(time, x.shape[1]), space, space)
    return layers.MaxPooling3D(window, strides=strides, padding="same", name=name)(x)


def _width(filters: int, width_multiplier: float) -> int:
    return max(1, int(round(filters * width_multiplier)))


def _check_arguments(genome, num_classes, num_frames, image_size, modality, width_multiplier) -> None:
    """The checks the builder and the cost estimate share."""
    if not isinstance(genome, EvaNetGenome):
        raise ValueError(f"genome must be an EvaNetGenome, got {type(genome).__name__}")
    genome.validate()
    _check_positive_int("num_classes", num_classes)
    checks.check_int("num_frames", num_frames, 1, checks.MAX_FRAMES)
    checks.check_int("image_size", image_size, checks.MIN_IMAGE_SIZE, checks.MAX_IMAGE_SIZE)
    if modality not in INPUT_CHANNELS:
        raise ValueError(f"modality must be one of {list(INPUT_CHANNELS)}, got {modality!r}")
    if isinstance(width_multiplier, bool) or not isinstance(width_multiplier, (int, float)) or width_multiplier <= 0:
        raise ValueError(f"width_multiplier must be a positive number, got {width_multiplier!r}")


def _check_positive_int(field: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{field} must be a positive int, got {value!r}")


# --- the cost estimate: the builder's layers walked from the genome alone --------------------------------------------

Map = tuple[int, int, int]  # (frames, size, channels) of a feature map; size is both height and width


def evanet_cost(genome: EvaNetGenome, *, num_classes: int, num_frames: int, image_size: int,
                width_multiplier: float = 1.0, batch_size: int = 1, modality: str = "rgb") -> dict[str, int]:
    """``{"params", "flops", "train_memory_bytes"}`` of ``build_evanet(genome, ...)`` without building it.

    Walks the layers ``build_evanet`` makes, with the same kernel clipping, strides and widths: parameters and FLOPs
    equal ``videonas.measure``'s counts on the built model (a test holds them equal), training memory at
    ``batch_size`` clips is ``videonas.models.cost``'s definition.
    """
    _check_arguments(genome, num_classes, num_frames, image_size, modality, width_multiplier)
    tally = cost.Tally()
    x = (num_frames, image_size, INPUT_CHANNELS[modality])
    tally.output(*_elements(x))  # the input
    if modality == "rgb":
        tally.output(*_elements(x))  # rescaled
    x = _conv_cost(tally, x, genome.stem.conv, _width(STEM_FILTERS, width_multiplier), genome.stem.time,
                   spatial_kernel=7, stride=2)
    x = _pool_cost(tally, x, temporal_stride=2, spatial_stride=2)
    for index, (block, filters) in enumerate(zip(genome.blocks, MODULE_FILTERS)):
        if index > 0:
            x = _pool_cost(tally, x, temporal_stride=1, spatial_stride=2)
        share = max(1, _width(filters, width_multiplier) // len(block.layers))
        for repeat in range(block.repeats):
            x = _module_repeat_cost(tally, x, block.layers, share, repeat)
    frames, size, channels = x
    positions = frames - min(frames, 2) + 1  # the head's 'valid' (min(T', 2), S', S') average pool
    tally.output(positions, channels)  # head pool
    tally.output(positions, channels)  # dropout
    tally.conv(channels, num_classes, 1, positions, bias=True)
    tally.output(positions, num_classes)
    tally.output(num_classes)  # mean over positions
    return tally.result(batch_size)


def _elements(x: Map) -> tuple[int, int, int, int]:
    frames, size, channels = x
    return frames, size, size, channels


def _module_repeat_cost(tally: cost.Tally, x: Map, branches: tuple[Branch, ...], share: int, repeat: int) -> Map:
    temporal = repeat % 2 == 0
    for branch in branches:
        _branch_cost(tally, x, branch, share, temporal)
    frames, size, channels = x
    y = (frames, size, share * len(branches))
    if len(branches) > 1:
        tally.output(*_elements(y))  # concatenation
    if repeat == 0:
        tally.conv(channels, y[2], 1, frames * size * size)
        tally.output(*_elements(y))
        tally.batch_norm(y[2], frames * size * size)
    tally.output(*_elements(y))  # add
    tally.output(*_elements(y))  # ReLU
    return y


def _branch_cost(tally: cost.Tally, x: Map, branch: Branch, filters: int, temporal: bool) -> None:
    time = branch.time if temporal and branch.time is not None else 1
    if branch.layer == "single":
        _conv_cost(tally, x, "3d", filters, 1, spatial_kernel=1, relu=False)
    elif branch.layer == "maxpoolconv":
        _pool_cost(tally, x, temporal_stride=1, spatial_stride=1)
        _conv_cost(tally, x, "3d", filters, 1, spatial_kernel=1, relu=False)
    elif branch.layer == "conv":
        x = _conv_cost(tally, x, "3d", max(1, filters // 2), 1, spatial_kernel=1)
        _conv_cost(tally, x, branch.conv, filters, time, relu=False)
    else:
        x = _conv_cost(tally, x, "3d", max(1, filters // 4), 1, spatial_kernel=1)
        x = _conv_cost(tally, x, branch.conv, max(1, filters // 2), time)
        _conv_cost(tally, x, branch.conv2, filters, branch.time2 if temporal else 1, relu=False)


def _conv_cost(tally: cost.Tally, x: Map, conv_type: str, filters: int, time: int, *, spatial_kernel: int = 3,
               stride: int = 1, relu: bool = True) -> Map:
    """``_conv_bn_relu``'s layers; ``stride`` applies to every axis (the stem's (2, 2, 2), else 1)."""
    frames, size, channels = x
    time = min(time, 2 * frames - 1)
    out = (-(-frames // stride), -(-size // stride), filters)
    positions, taps = out[0] * out[1] * out[1], spatial_kernel * spatial_kernel
    if conv_type == "3d":
        tally.conv(channels, filters, time * taps, positions)
    elif conv_type == "2plus1d":  # temporal first, to half width, then spatial
        middle = max(1, filters // 2)
        middle_positions = out[0] * size * size
        tally.conv(channels, middle, time, middle_positions)
        tally.params += 2 * middle  # its BN
        tally.activations += 3 * middle * middle_positions  # conv, BN and ReLU outputs inside the layer
        tally.conv(middle, filters, taps, positions)
    else:  # iTGM: a spatial kernel and, for more than one tap, the mixture profile
        tally.params += taps * channels * filters
        if time > 1:
            tally.params += 2 * ITGM_MIXTURES + channels * filters * ITGM_MIXTURES
        tally.flops += time * taps * channels * filters * positions
    tally.output(*_elements(out))
    tally.batch_norm(filters, positions)
    if relu:
        tally.output(*_elements(out))
    return out


def _pool_cost(tally: cost.Tally, x: Map, *, temporal_stride: int, spatial_stride: int) -> Map:
    """A 'same' max-pool: no weights, its output kept."""
    frames, size, channels = x
    out = (-(-frames // temporal_stride), -(-size // spatial_stride), channels)
    tally.output(*_elements(out))
    return out
