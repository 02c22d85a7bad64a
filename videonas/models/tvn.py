"""Build a Tiny Video Network from its genome.

Reading of the released code (``tiny_video_nets``, default non-inverted bottleneck) that this builder follows:
per block repeat, ``[1x1 conv -> kxk conv (standard or depthwise, per frame)] | kxk pool`` at ``filters`` width with
the spatial stride; then a ``(k, 1, 1)`` temporal conv (to ``filters``) or pool with the temporal stride; then a 1x1
conv expanding to ``filters * expand`` (BN, no ReLU); squeeze-excitation; context gating; residual; ReLU. So ``filters``
is the bottleneck width and ``filters * expand`` the block's output width. Repeats after the first have stride 1 and
alternate the temporal layer off/on. Head: global average pool, dropout, dense to the classes.

As released (google-research ``tiny_video_nets/tiny_video_net.py`` and ``layers.py``): a kernel of 1 means "no layer"
and its stride is ignored; the residual is always a 1x1 projection + BN (strided when the spatial size changed) and is
dropped when the repeat changes the frame count; squeeze-excitation's bottleneck is max(int(C * ratio), 8).

Where we differ from the released code (interpretations, applied identically to every genome):
- kernels are clipped to the map: convs to 2n-1 taps (the farther taps only ever meet "same" padding, so the function
  is the same), pools to n (torch's average pooling refuses a larger window); a clipped kernel keeps its layer (its
  1x1 reduce and its conv), so a smaller input never adds parameters; temporal strides are clipped to the frames left;
- the non-local layer (in the paper's space, absent from the released code) goes after context gating, before the
  residual; it is zero-initialised, so a fresh one is the identity.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from videonas.checks import check_float, check_int, check_type
from videonas.genome.tvn import TVNBlock, TVNGenome

from videonas import layers as video_layers


def build_tvn(
    genome: TVNGenome,
    *,
    num_classes: int,
    multi_label: bool = False,
    dropout: float = 0.5,
    width_multiplier: float = 1.0,
    name: str | None = None,
) -> keras.Model:
    """A Keras model ``{"rgb": (batch, T, S, S, 3) float32 in [0, 1]} -> logits (batch, num_classes)``.

    ``T``, ``S`` come from the genome. ``multi_label`` does not change the graph (logits either way; the loss picks
    sigmoid or softmax) and is accepted for the common builder interface. ``width_multiplier`` scales every block's
    ``filters`` (at least 8), for width-scaling experiments.
    """
    check_type("genome", genome, TVNGenome)
    check_int("num_classes", num_classes, 1, 1_000_000)
    check_type("multi_label", multi_label, bool)
    check_float("dropout", dropout, 0.0, 0.99)
    check_float("width_multiplier", width_multiplier, 0.01, 100.0)
    inputs = keras.Input((genome.num_frames, genome.image_size, genome.image_size, 3), name="rgb")
    x = layers.Rescaling(2.0, offset=-1.0, name="normalise")(inputs)
    frames = genome.num_frames
    for index, block in enumerate(genome.blocks):
        filters = max(8, round(block.filters * width_multiplier))
        for repeat in range(block.repeats):
            # As released: the first repeat carries the strides, later ones alternate the temporal layer off/on.
            x, frames = _block(
                x,
                block,
                filters=filters,
                frames=frames,
                strided=repeat == 0,
                use_temporal=repeat % 2 == 0,
                prefix=f"block{index}_{repeat}",
            )
    x = layers.GlobalAveragePooling3D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(
        num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01), name="logits"
    )(x)
    return keras.Model(inputs, logits, name=name or "tvn")


def _block(
    x,
    block: TVNBlock,
    *,
    filters: int,
    frames: int,
    strided: bool,
    use_temporal: bool,
    prefix: str,
):
    """One repeat of a block; returns the output and its number of frames."""
    shortcut, in_frames = x, frames
    spatial_stride = block.spatial_stride if strided and block.spatial_kernel > 1 else 1
    x = _spatial(x, block, filters=filters, stride=spatial_stride, prefix=prefix)
    if use_temporal and frames > 1 and block.temporal_kernel > 1:
        # Clipped to the frames left: a longer stride would only see "same" padding.
        temporal_stride = min(block.temporal_stride if strided else 1, frames)
        x = _temporal(x, block.temporal_type, filters=filters, kernel=block.temporal_kernel, stride=temporal_stride,
                      prefix=prefix)
        frames = math.ceil(frames / temporal_stride)
    x = _conv_bn(x, filters * block.expand, kernel=(1, 1, 1), relu=False, name=f"{prefix}_expand")
    if block.squeeze > 0:
        x = video_layers.SqueezeExcitation(block.squeeze, min_units=8, name=f"{prefix}_squeeze")(x)
    if block.context_gate:
        x = video_layers.ContextGating(name=f"{prefix}_context_gate")(x)
    if block.non_local:
        x = video_layers.NonLocal(name=f"{prefix}_non_local")(x)
    if block.skip and frames == in_frames:
        stride = spatial_stride if shortcut.shape[2] != x.shape[2] else 1
        shortcut = _conv_bn(shortcut, x.shape[-1], kernel=(1, 1, 1), strides=(1, stride, stride), relu=False,
                            name=f"{prefix}_projection")
        x = layers.Add(name=f"{prefix}_residual")([x, shortcut])
    return layers.ReLU(name=f"{prefix}_out")(x), frames


def _spatial(x, block: TVNBlock, *, filters: int, stride: int, prefix: str):
    """Per-frame spatial layer: 1x1 conv then kxk conv (std or depthwise), or a kxk pool; kernel 1: nothing."""
    if block.spatial_kernel == 1:
        return x
    strides = (1, stride, stride)
    if block.spatial_type in ("maxpool", "avgpool"):
        kernel = min(block.spatial_kernel, x.shape[2])
        pool = layers.MaxPooling3D if block.spatial_type == "maxpool" else layers.AveragePooling3D
        return pool((1, kernel, kernel), strides=strides, padding="same", name=f"{prefix}_spatial")(x)
    kernel = min(block.spatial_kernel, 2 * x.shape[2] - 1)
    x = _conv_bn(x, filters, kernel=(1, 1, 1), name=f"{prefix}_reduce")
    if block.spatial_type == "std":
        return _conv_bn(x, filters, kernel=(1, kernel, kernel), strides=strides, name=f"{prefix}_spatial")
    x = video_layers.FrameDepthwiseConv(kernel_size=kernel, strides=stride, name=f"{prefix}_spatial_conv")(x)
    x = video_layers.batch_norm(name=f"{prefix}_spatial_bn")(x)
    return layers.ReLU(name=f"{prefix}_spatial_relu")(x)


def _temporal(x, temporal_type: str, *, filters: int, kernel: int, stride: int, prefix: str):
    """Temporal (k, 1, 1) conv or pool, ``kernel`` > 1."""
    strides, frames = (stride, 1, 1), x.shape[1]
    if temporal_type == "maxpool":
        return layers.MaxPooling3D((min(kernel, frames), 1, 1), strides=strides, padding="same",
                                   name=f"{prefix}_temporal")(x)
    if temporal_type == "avgpool":
        return layers.AveragePooling3D((min(kernel, frames), 1, 1), strides=strides, padding="same",
                                       name=f"{prefix}_temporal")(x)
    return _conv_bn(x, filters, kernel=(min(kernel, 2 * frames - 1), 1, 1), strides=strides, name=f"{prefix}_temporal")


def _conv_bn(x, filters: int, *, kernel: tuple[int, int, int], name: str, strides=(1, 1, 1), relu: bool = True):
    x = layers.Conv3D(
        filters, kernel, strides=strides, padding="same", use_bias=False, kernel_initializer="he_normal",
        name=f"{name}_conv",
    )(x)
    x = video_layers.batch_norm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def tvn_cost(genome: TVNGenome, *, num_classes: int, width_multiplier: float = 1.0) -> dict[str, int]:
    """``{"params", "flops"}`` of ``build_tvn(genome, ...)`` from the genome alone, without building anything.

    A search rejects a candidate that breaks P or a FLOP cap with this before it allocates a weight (a valid genome
    can hold 10^9 parameters). It walks the blocks exactly as the builder does (same clipping, same widths) and counts
    as ``videonas.measure`` does: trainable parameters, and FLOPs of the matrix work at batch 1; a test holds the
    two equal on random genomes.
    """
    check_type("genome", genome, TVNGenome)
    frames, size, channels = genome.num_frames, genome.image_size, 3
    params = flops = 0

    def conv(c_in: int, c_out: int, taps: int, positions: int) -> None:  # bias-free conv + BN (gamma, beta)
        nonlocal params, flops
        params += taps * c_in * c_out + 2 * c_out
        flops += 2 * taps * c_in * c_out * positions

    for block in genome.blocks:
        filters = max(8, round(block.filters * width_multiplier))
        for repeat in range(block.repeats):
            strided, use_temporal = repeat == 0, repeat % 2 == 0
            in_frames, in_channels = frames, channels
            stride = block.spatial_stride if strided and block.spatial_kernel > 1 else 1
            if block.spatial_kernel > 1:
                out_size = math.ceil(size / stride)
                if block.spatial_type not in ("maxpool", "avgpool"):
                    kernel = min(block.spatial_kernel, 2 * size - 1)
                    conv(channels, filters, 1, frames * size * size)
                    if block.spatial_type == "std":
                        conv(filters, filters, kernel * kernel, frames * out_size * out_size)
                    else:  # per-frame depthwise conv + BN
                        params += kernel * kernel * filters + 2 * filters
                        flops += 2 * kernel * kernel * filters * frames * out_size * out_size
                    channels = filters
                size = out_size
            if use_temporal and frames > 1 and block.temporal_kernel > 1:
                out_frames = math.ceil(frames / min(block.temporal_stride if strided else 1, frames))
                if block.temporal_type == "1d":
                    conv(channels, filters, min(block.temporal_kernel, 2 * frames - 1), out_frames * size * size)
                    channels = filters
                frames = out_frames
            positions = frames * size * size
            conv(channels, filters * block.expand, 1, positions)
            channels = filters * block.expand
            if block.squeeze > 0:
                units = max(int(channels * block.squeeze), 8)
                params += 2 * channels * units + units + channels
                flops += 4 * channels * units
            if block.context_gate:
                params += channels * channels + channels
                flops += 2 * channels * channels
            if block.non_local:
                inner = max(1, round(channels * 0.5))
                params += 3 * (channels * inner + inner) + inner * channels + channels
                flops += 6 * positions * channels * inner + 4 * positions * positions * inner
                flops += 2 * positions * inner * channels
            if block.skip and frames == in_frames:
                conv(in_channels, channels, 1, positions)
    params += channels * num_classes + num_classes
    flops += 2 * channels * num_classes
    return {"params": params, "flops": flops}
