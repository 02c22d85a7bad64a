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
- a conv or pool whose window is at most its stride - 2 (the space allows a 2x2 window or a 1x1 projection at stride
  4) starts its windows at the first cell, as TensorFlow's 2-D ops, ONNX Runtime and torch do ("valid" padding,
  ``videonas.layers.same_padding``): TensorFlow's 3-D ops shift them by a cell, so exports disagreed with Keras;
- the non-local layer (in the paper's space, absent from the released code) goes after context gating, before the
  residual; it is zero-initialised, so a fresh one is the identity.
"""

from __future__ import annotations

import keras
from keras import layers

from videonas.checks import check_float, check_int, check_type
from videonas.genome.tvn_genome import POOL_TYPES, TVNBlock, TVNGenome, TVNRepeatPlan
from videonas.models import cost

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
    ``filters`` (at least 8), for width-scaling experiments. Every layer's shape, kernel and stride is read from
    ``genome.shape_plan``, the arithmetic the cost estimate shares.
    """
    check_type("genome", genome, TVNGenome)
    check_int("num_classes", num_classes, 1, 1_000_000)
    check_type("multi_label", multi_label, bool)
    check_float("dropout", dropout, 0.0, 0.99)
    plan = genome.shape_plan(width_multiplier=width_multiplier)
    inputs = keras.Input((genome.num_frames, genome.image_size, genome.image_size, 3), name="rgb")
    x = layers.Rescaling(2.0, offset=-1.0, name="normalise")(inputs)
    for index, (block, block_plan) in enumerate(zip(genome.blocks, plan)):
        for repeat, step in enumerate(block_plan.repeats):
            x = _block(x, block, step, prefix=f"block{index}_{repeat}")
    x = layers.GlobalAveragePooling3D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(
        num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.01), name="logits"
    )(x)
    return keras.Model(inputs, logits, name=name or "tvn")


def _block(x, block: TVNBlock, step: TVNRepeatPlan, *, prefix: str):
    """One repeat of a block, laid out by its plan ``step``."""
    shortcut = x
    x = _spatial(x, block, step, prefix=prefix)
    if step.temporal_kernel is not None:
        x = _temporal(x, block.temporal_type, step, prefix=prefix)
    x = _conv_bn(x, step.out_channels, kernel=(1, 1, 1), relu=False, name=f"{prefix}_expand")
    if block.squeeze > 0:
        x = video_layers.SqueezeExcitation(block.squeeze, min_units=8, name=f"{prefix}_squeeze")(x)
    if block.context_gate:
        x = video_layers.ContextGating(name=f"{prefix}_context_gate")(x)
    if block.non_local:
        x = video_layers.NonLocal(name=f"{prefix}_non_local")(x)
    if step.residual:
        stride = step.projection_stride
        shortcut = _conv_bn(shortcut, step.out_channels, kernel=(1, 1, 1), strides=(1, stride, stride), relu=False,
                            name=f"{prefix}_projection")
        x = layers.Add(name=f"{prefix}_residual")([x, shortcut])
    return layers.ReLU(name=f"{prefix}_out")(x)


def _spatial(x, block: TVNBlock, step: TVNRepeatPlan, *, prefix: str):
    """Per-frame spatial layer: 1x1 conv then kxk conv (std or depthwise), or a kxk pool; kernel 1: nothing."""
    if step.spatial_kernel is None:
        return x
    kernel, stride, filters = step.spatial_kernel, step.spatial_stride, step.filters
    strides = (1, stride, stride)
    if block.spatial_type in POOL_TYPES:
        pool = layers.MaxPooling3D if block.spatial_type == "maxpool" else layers.AveragePooling3D
        window = (1, kernel, kernel)
        return pool(window, strides=strides, padding=_padding(x, window, strides), name=f"{prefix}_spatial")(x)
    x = _conv_bn(x, filters, kernel=(1, 1, 1), name=f"{prefix}_reduce")
    if block.spatial_type == "std":
        return _conv_bn(x, filters, kernel=(1, kernel, kernel), strides=strides, name=f"{prefix}_spatial")
    x = video_layers.FrameDepthwiseConv(kernel_size=kernel, strides=stride, name=f"{prefix}_spatial_conv")(x)
    x = video_layers.batch_norm(name=f"{prefix}_spatial_bn")(x)
    return layers.ReLU(name=f"{prefix}_spatial_relu")(x)


def _temporal(x, temporal_type: str, step: TVNRepeatPlan, *, prefix: str):
    """Temporal (k, 1, 1) conv or pool."""
    kernel, strides = (step.temporal_kernel, 1, 1), (step.temporal_stride, 1, 1)
    if temporal_type in POOL_TYPES:
        pool = layers.MaxPooling3D if temporal_type == "maxpool" else layers.AveragePooling3D
        return pool(kernel, strides=strides, padding=_padding(x, kernel, strides), name=f"{prefix}_temporal")(x)
    return _conv_bn(x, step.filters, kernel=kernel, strides=strides, name=f"{prefix}_temporal")


def _conv_bn(x, filters: int, *, kernel: tuple[int, int, int], name: str, strides=(1, 1, 1), relu: bool = True):
    x = video_layers.FoldedConv3D(
        filters, kernel, strides=strides, padding=_padding(x, kernel, strides), use_bias=False,
        kernel_initializer="he_normal", name=f"{name}_conv",
    )(x)
    x = video_layers.batch_norm(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _padding(x, kernel, strides) -> str:
    """"same", or "valid" for a window at most its stride - 2 (``videonas.layers.same_padding``: same size and
    placement on every runtime)."""
    return video_layers.same_padding(x.shape[1:4], kernel, strides)


def tvn_cost(genome: TVNGenome, *, num_classes: int, width_multiplier: float = 1.0,
             batch_size: int = 1) -> dict[str, int]:
    """``{"params", "flops", "train_memory_bytes"}`` of ``build_tvn(genome, ...)`` from the genome alone, without
    building anything.

    A search rejects a candidate that breaks P, a FLOP cap or the training-memory ceiling with this before it allocates
    a weight (a valid genome can hold 10^10 parameters). It reads the same ``genome.shape_plan`` as the builder and
    counts as ``videonas.measure`` does: trainable parameters, and FLOPs (multiply-adds) of the matrix work at batch 1
    (a test holds the two equal); training memory at ``batch_size`` clips is ``videonas.models.cost``'s definition.
    The clip input is the genome's own.
    """
    check_type("genome", genome, TVNGenome)
    check_int("num_classes", num_classes, 1, 1_000_000)
    plan = genome.shape_plan(width_multiplier=width_multiplier)
    tally = cost.Tally()
    tally.output(genome.num_frames, genome.image_size, genome.image_size, 3)  # the input
    tally.output(genome.num_frames, genome.image_size, genome.image_size, 3)  # normalised

    def conv_bn(c_in: int, c_out: int, taps: int, positions: int, *, relu: bool = True) -> None:
        tally.conv(c_in, c_out, taps, positions)  # bias-free conv + BN (gamma, beta)
        tally.output(positions, c_out)
        tally.batch_norm(c_out, positions)
        if relu:
            tally.output(positions, c_out)

    for block, block_plan in zip(genome.blocks, plan):
        for step in block_plan.repeats:
            filters, channels = step.filters, step.out_channels
            in_positions = step.in_frames * step.in_size * step.in_size
            strided_positions = step.in_frames * step.out_size * step.out_size
            positions = step.out_frames * step.out_size * step.out_size
            if step.spatial_kernel is not None and block.spatial_type in POOL_TYPES:
                tally.output(strided_positions, step.spatial_channels)
            elif step.spatial_kernel is not None:
                taps = step.spatial_kernel * step.spatial_kernel
                conv_bn(step.in_channels, filters, 1, in_positions)
                if block.spatial_type == "std":
                    conv_bn(filters, filters, taps, strided_positions)
                else:  # per-frame depthwise conv, BN, ReLU
                    tally.params += taps * filters
                    tally.flops += taps * filters * strided_positions
                    tally.output(strided_positions, filters)
                    tally.batch_norm(filters, strided_positions)
                    tally.output(strided_positions, filters)
            if step.temporal_kernel is not None and block.temporal_type in POOL_TYPES:
                tally.output(positions, step.temporal_channels)
            elif step.temporal_kernel is not None:
                conv_bn(step.spatial_channels, filters, step.temporal_kernel, positions)
            conv_bn(step.temporal_channels, channels, 1, positions, relu=False)
            if block.squeeze > 0:
                units = max(int(channels * block.squeeze), 8)
                tally.params += 2 * channels * units + units + channels
                tally.flops += 2 * channels * units
                tally.output(positions, channels)
            if block.context_gate:
                tally.params += channels * channels + channels
                tally.flops += channels * channels
                tally.output(positions, channels)
            if block.non_local:
                inner = max(1, round(channels * 0.5))
                tally.params += 3 * (channels * inner + inner) + inner * channels + channels
                tally.flops += 3 * positions * channels * inner + 2 * positions * positions * inner
                tally.flops += positions * inner * channels
                tally.activations += 4 * positions * inner + 2 * positions * positions + positions * channels
                tally.output(positions, channels)
            if step.residual:
                conv_bn(step.in_channels, channels, 1, positions, relu=False)
                tally.output(positions, channels)  # the sum
            tally.output(positions, channels)  # the block's ReLU
    channels = plan[-1].out_channels
    tally.output(channels)  # global pool
    tally.output(channels)  # dropout
    tally.dense(channels, num_classes)
    return tally.result(batch_size)
