"""AssembleNet genome -> keras.Model laid out as released (tensorflow/models
``official/projects/assemblenet/modeling/assemblenet.py``): the RGB and flow stems, blocks of interleaved 2D and
temporal bottlenecks, weighted fusion on every edge.

Nodes are built in genome order; each block first fuses its inputs with a ``WeightedFusion`` (sigmoid-weighted sum after
max-pooling to the smallest spatial size, narrower inputs projected to the widest, as released), then runs its residual
blocks. Every fusion layer is named ``node{target}_fusion_from_{source}_{source}...`` so that
``assemblenet_edge_weights`` can hand the learned connection weights back to the search in genome indexing
(connection-learning-guided mutation). The released presets can instead fix them to the weights the release ships
(``edge_weights="released"``).
"""

from __future__ import annotations

import math
import re
from typing import Mapping

import keras
from keras import layers

from videonas import families
from videonas.genome import published
from videonas.genome.assemblenet import AssembleNetGenome, Block, Stem, edges
from videonas.checks import (MAX_FRAMES, MAX_IMAGE_SIZE, MIN_IMAGE_SIZE, check_choice, check_float, check_int,
                             check_type, quote)
from videonas.layers import Conv2Plus1D, FoldedConv3D, WeightedFusion, batch_norm
from videonas.models import cost

# Width of the 3x3 conv inside the bottlenecks of each level in the released code (it does not follow the node's
# filters there). We use min(this, 2 * filters): identical for AssembleNet-50/-101, and proportionate for small nodes.
RELEASED_INTERMEDIATE_WIDTHS = (64, 128, 256, 512)
# The released code splits 128 stem channels evenly among the stems (32 each for 4 stems).
TOTAL_STEM_FILTERS = 128
# ``edge_weights``: trainable gates (what a search learns and reads back), or the constants the release ships.
EDGE_WEIGHT_MODES = ("learned", "released")
_FUSION_NAME = re.compile(r"^node(\d+)_fusion_from_(\d+(?:_\d+)*)$")


def _scaled(channels: int, width_multiplier: float) -> int:
    return max(1, int(round(channels * width_multiplier)))


def _batch_norm_relu(x, name: str, relu: bool = True, zero_init: bool = False):
    x = batch_norm(gamma_initializer="zeros" if zero_init else "ones", name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _stem(x, stem: Stem, *, filters: int, name: str):
    """As released: RGB (``rgb_conv_stem``) is a 7x7 conv stride 2, BN, ReLU, a (5,1,1) temporal conv at the stem's
    dilation, then a 3x3 max-pool stride 2; flow (``flow_conv_stem``) is the 7x7 conv alone and a 2x2 max-pool, so a
    flow stem's dilation builds nothing (the released genomes still carry one)."""
    temporal = 5 if stem.modality == "rgb" else 1
    x = Conv2Plus1D(
        filters, temporal_kernel=temporal, spatial_kernel=7, strides=(1, 2, 2),
        temporal_dilation=stem.temporal_dilation if temporal > 1 else 1, name=f"{name}_conv",
    )(x)
    x = _batch_norm_relu(x, name)
    pool = 3 if stem.modality == "rgb" else 2
    return layers.MaxPooling3D(pool_size=(1, pool, pool), strides=(1, 2, 2), padding="same", name=f"{name}_pool")(x)


def _bottleneck(x, *, filters: int, inner: int, stride: int, dilation: int, temporal: bool, first: bool, name: str):
    """As released (``bottleneck_block_interleave``): a (3,1,1) temporal conv at ``dilation`` (``temporal``) or a 1x1
    to ``filters`` -> 3x3 to ``inner`` (carrying the stride) -> 1x1 to 4x filters, plus the shortcut (projected in a
    node's first block). Its last BN starts at zero so a fresh block is the identity on the shortcut."""
    shortcut = x
    if first:
        shortcut = FoldedConv3D(
            4 * filters, 1, strides=(1, stride, stride), padding="same", use_bias=False, name=f"{name}_project"
        )(x)
        shortcut = _batch_norm_relu(shortcut, f"{name}_project", relu=False)
    y = FoldedConv3D(
        filters, (3, 1, 1) if temporal else 1, padding="same", dilation_rate=(dilation if temporal else 1, 1, 1),
        use_bias=False, name=f"{name}_reduce",
    )(x)
    y = _batch_norm_relu(y, f"{name}_reduce")
    y = FoldedConv3D(inner, (1, 3, 3), strides=(1, stride, stride), padding="same", use_bias=False,
                      name=f"{name}_conv")(y)
    y = _batch_norm_relu(y, f"{name}_conv")
    y = FoldedConv3D(4 * filters, 1, use_bias=False, name=f"{name}_expand")(y)
    y = _batch_norm_relu(y, f"{name}_expand", relu=False, zero_init=True)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([shortcut, y]))


def _block_node(x, node: Block, *, blocks: int, width_multiplier: float, name: str):
    """``blocks`` bottlenecks; as released, the first carries the stride and the projection, and the temporal conv
    alternates off/on (odd blocks). Interpretation, for depths the release lacks (its shallowest has two blocks per
    node): a one-block node's block is temporal, else the CPU search space (one block per node) would build no
    temporal conv past the RGB stems and its dilation genes would build nothing.
    """
    filters = _scaled(node.filters, width_multiplier)
    inner = _scaled(min(RELEASED_INTERMEDIATE_WIDTHS[node.level], 2 * node.filters), width_multiplier)
    for step in range(blocks):
        x = _bottleneck(
            x, filters=filters, inner=inner, stride=node.spatial_stride if step == 0 else 1,
            dilation=node.temporal_dilation, temporal=blocks == 1 or step % 2 == 1, first=step == 0,
            name=f"{name}_block{step}",
        )
    return x


def build_assemblenet(
    genome: AssembleNetGenome,
    *,
    num_classes: int,
    multi_label: bool = False,
    num_frames: int,
    image_size: int,
    width_multiplier: float = 1.0,
    dropout: float = 0.5,
    edge_weights: str | Mapping[tuple[int, int], float] = "learned",
    name: str | None = None,
) -> keras.Model:
    """Inputs "rgb" (T, H, W, 3) in [0, 1] and "flow" (T, H, W, 2); output "logits" (no activation either way).

    Every block fuses its inputs with a ``WeightedFusion`` as released: gated, pooled, and projected only where narrower
    than the widest input; a single-input block's fusion is the identity (its edge's weight reads 1.0). The head
    averages the globally pooled level-3 nodes (concatenates them when their widths differ), then dropout and a dense
    layer.

    ``edge_weights``: ``"learned"`` (default) trains every gate from sigmoid(~0); ``"released"`` fixes them, as
    non-trainable constants, to the weights the release ships with this genome (AssembleNet-50/-101 only), as the
    released configs load them; a mapping ``(source, target) -> weight`` in (0, 1) fixes them to those values.
    Learned is the default because a searched genome has no released weights, the guided mutation reads the trained
    ones back, and the released ones were learnt on Moments-in-Time, not on the task a preset is trained on here.
    """
    _check_arguments(genome, num_classes, num_frames, image_size, width_multiplier)
    check_type("multi_label", multi_label, bool)
    check_float("dropout", dropout, 0.0, 0.999)
    fixed = _fixed_edge_weights(genome, edge_weights)
    rgb = keras.Input((num_frames, image_size, image_size, 3), name="rgb")
    flow = keras.Input((num_frames, image_size, image_size, 2), name="flow")
    streams = {"rgb": layers.Rescaling(2.0, offset=-1.0, name="rgb_normalise")(rgb), "flow": flow}
    stems = [node for node in genome.nodes if isinstance(node, Stem)]
    stem_filters = _scaled(TOTAL_STEM_FILTERS // len(stems), width_multiplier)
    outputs = []
    for index, node in enumerate(genome.nodes):
        prefix = f"node{index}"
        if isinstance(node, Stem):
            outputs.append(_stem(streams[node.modality], node, filters=stem_filters, name=f"{prefix}_{node.modality}"))
            continue
        sources = [outputs[source] for source in node.inputs]
        fusion_name = f"{prefix}_fusion_from_" + "_".join(str(source) for source in node.inputs)
        fusion = WeightedFusion(name=fusion_name) if fixed is None or len(sources) == 1 else WeightedFusion(
            initial_weights=[math.log(w / (1.0 - w)) for w in (fixed[(s, index)] for s in node.inputs)],
            learn_weights=False, name=fusion_name)
        fused = fusion(sources)
        blocks = genome.blocks_per_level[node.level]
        outputs.append(_block_node(fused, node, blocks=blocks, width_multiplier=width_multiplier, name=prefix))
    pooled = [layers.GlobalAveragePooling3D(name=f"node{index}_pool")(outputs[index]) for index in genome.head]
    if len(pooled) == 1:
        features = pooled[0]
    elif len({int(x.shape[-1]) for x in pooled}) == 1:
        features = layers.Average(name="head_average")(pooled)
    else:
        features = layers.Concatenate(name="head_concat")(pooled)
    features = layers.Dropout(dropout, name="dropout")(features)
    logits = layers.Dense(num_classes, name="logits")(features)
    return keras.Model({"rgb": rgb, "flow": flow}, logits, name=name or f"assemblenet_{genome.depth}")


def _fixed_edge_weights(genome: AssembleNetGenome, edge_weights) -> dict[tuple[int, int], float] | None:
    """The constant weight of every edge into a multi-input node, or ``None`` for learned gates."""
    if isinstance(edge_weights, str):
        check_choice("edge_weights", edge_weights, EDGE_WEIGHT_MODES)
        if edge_weights == "learned":
            return None
        presets = [spec_name for spec_name, _ in families.get("assemblenet").presets.values()]
        match = next((spec_name for spec_name in presets if published.load(spec_name) == genome), None)
        if match is None:
            raise ValueError(f"edge_weights='released' needs a released AssembleNet genome ({', '.join(presets)}), "
                             f"got genome {genome.key}")
        return published.edge_weights(match)
    check_type("edge_weights", edge_weights, Mapping)
    fixed = {}
    for source, target in edges(genome):
        if len(genome.nodes[target].inputs) == 1:
            continue
        weight = edge_weights.get((source, target))
        if not isinstance(weight, (int, float)) or not 0.0 < weight < 1.0:
            raise ValueError(f"edge_weights[{(source, target)}] must be a weight in (0, 1), got {quote(weight)}")
        fixed[(source, target)] = float(weight)
    return fixed


def _check_arguments(genome, num_classes, num_frames, image_size, width_multiplier) -> None:
    """The checks the builder and the cost estimate share."""
    check_type("genome", genome, AssembleNetGenome)
    check_int("num_classes", num_classes, 1, 1_000_000)
    check_int("num_frames", num_frames, 1, MAX_FRAMES)
    check_int("image_size", image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    check_float("width_multiplier", width_multiplier, 1e-3, 100.0)


def assemblenet_edge_weights(model: keras.Model) -> dict[tuple[int, int], float]:
    """The learned sigmoid weight of every edge, ``(source, target) -> weight`` in genome node indexing.

    Read from the fusion layers' names and ``connection_weights()``; ordered like ``videonas.genome.assemblenet.edges``.
    """
    found: list[tuple[int, int, int, float]] = []
    for layer in model.layers:
        match = _FUSION_NAME.match(layer.name)
        if match is None:
            continue
        target = int(match.group(1))
        sources = [int(source) for source in match.group(2).split("_")]
        weights = layer.connection_weights()
        if len(weights) != len(sources):
            raise ValueError(f"{layer.name} has {len(weights)} connection weights for {len(sources)} inputs")
        found += [(target, position, source, float(w)) for position, (source, w) in enumerate(zip(sources, weights))]
    if not found:
        raise ValueError(f"model {model.name!r} has no AssembleNet fusion layers (node<i>_fusion_from_...)")
    return {(source, target): weight for target, _, source, weight in sorted(found)}


def learned_context(model: keras.Model) -> dict[str, list[list[float]]]:
    """The family's learned-context hook: the edge weights as plain JSON, ``[[source, target, weight], ...]``, for
    the trial store and the children's guided mutation."""
    weights = sorted(assemblenet_edge_weights(model).items())
    return {"edge_weights": [[int(source), int(target), float(weight)] for (source, target), weight in weights]}


# --- the cost estimate: the builder's layers walked from the genome alone --------------------------------------------


def assemblenet_cost(genome: AssembleNetGenome, *, num_classes: int, num_frames: int, image_size: int,
                     width_multiplier: float = 1.0, batch_size: int = 1) -> dict[str, int]:
    """``{"params", "flops", "train_memory_bytes"}`` of ``build_assemblenet(genome, ...)`` without building it.

    Walks the nodes as the builder does: stems, each block's fusion (its connection weights and the projections of
    narrower inputs) and bottlenecks, the head. Parameters and FLOPs equal ``videonas.measure``'s counts on the built
    model (a test holds them equal); training memory at ``batch_size`` clips is ``videonas.models.cost``'s definition.
    Every map keeps the clip's ``num_frames`` (no layer strides time).
    """
    _check_arguments(genome, num_classes, num_frames, image_size, width_multiplier)
    tally = cost.Tally()
    frames = num_frames
    for channels in (3, 2, 3):  # the rgb and flow inputs, the normalised rgb
        tally.output(frames, image_size, image_size, channels)
    stems = [node for node in genome.nodes if isinstance(node, Stem)]
    stem_filters = _scaled(TOTAL_STEM_FILTERS // len(stems), width_multiplier)
    maps: list[tuple[int, int]] = []  # (size, channels) of each node's output
    for node in genome.nodes:
        if isinstance(node, Stem):
            channels = 3 if node.modality == "rgb" else 2
            size = _conv2plus1d_cost(tally, frames, image_size, channels, stem_filters,
                                     temporal_kernel=5 if node.modality == "rgb" else 1, spatial_kernel=7, stride=2)
            tally.output(frames, size, size, stem_filters)  # conv output
            tally.batch_norm(stem_filters, frames * size * size)
            tally.output(frames, size, size, stem_filters)  # ReLU
            size = -(-size // 2)
            tally.output(frames, size, size, stem_filters)  # max-pool
            maps.append((size, stem_filters))
            continue
        size, channels = _fusion_cost(tally, frames, [maps[source] for source in node.inputs])
        filters = _scaled(node.filters, width_multiplier)
        inner = _scaled(min(RELEASED_INTERMEDIATE_WIDTHS[node.level], 2 * node.filters), width_multiplier)
        blocks = genome.blocks_per_level[node.level]
        for step in range(blocks):
            size = _bottleneck_cost(tally, frames, size, channels, filters=filters, inner=inner,
                                    stride=node.spatial_stride if step == 0 else 1,
                                    temporal=blocks == 1 or step % 2 == 1, first=step == 0)
            channels = 4 * filters
        maps.append((size, channels))
    widths = [maps[index][1] for index in genome.head]
    for width in widths:
        tally.output(width)  # global pool
    features = widths[0] if len(set(widths)) == 1 else sum(widths)
    if len(widths) > 1:
        tally.output(features)  # average or concatenation
    tally.output(features)  # dropout
    tally.dense(features, num_classes)
    return tally.result(batch_size)


def _conv2plus1d_cost(tally: cost.Tally, frames: int, size: int, c_in: int, filters: int, *, temporal_kernel: int,
                      spatial_kernel: int, stride: int) -> int:
    """A spatial-first ``Conv2Plus1D`` (middle width = ``filters``, the stride in its spatial conv); returns the
    output size. Its output is added by the caller."""
    size = -(-size // stride)
    positions = frames * size * size
    tally.conv(c_in, filters, spatial_kernel * spatial_kernel, positions)
    if temporal_kernel > 1:
        tally.params += 2 * filters  # the middle BN
        tally.activations += 3 * filters * positions  # conv, BN and ReLU outputs inside the layer
        tally.conv(filters, filters, temporal_kernel, positions)
    return size


def _fusion_cost(tally: cost.Tally, frames: int, inputs: list[tuple[int, int]]) -> tuple[int, int]:
    """``WeightedFusion``: one logit per input (none for a single one) and a 1x1 projection per narrower width."""
    size, filters = min(item[0] for item in inputs), max(item[1] for item in inputs)
    if len(inputs) > 1:
        tally.params += len(inputs)
    for width in dict.fromkeys(item[1] for item in inputs):
        if width != filters:
            tally.conv(width, filters, 1, frames * size * size)
    tally.output(frames, size, size, filters)
    return size, filters


def _bottleneck_cost(tally: cost.Tally, frames: int, size: int, channels: int, *, filters: int, inner: int,
                     stride: int, temporal: bool, first: bool) -> int:
    out = -(-size // stride)
    positions = frames * out * out
    if first:  # the projected shortcut: conv and BN
        tally.conv(channels, 4 * filters, 1, positions)
        tally.output(positions, 4 * filters)
        tally.batch_norm(4 * filters, positions)
    tally.conv(channels, filters, 3 if temporal else 1, frames * size * size)  # reduce, BN, ReLU
    tally.output(frames * size * size, filters)
    tally.batch_norm(filters, frames * size * size)
    tally.output(frames * size * size, filters)
    tally.conv(filters, inner, 9, positions)  # the 3x3 conv, BN, ReLU
    tally.output(positions, inner)
    tally.batch_norm(inner, positions)
    tally.output(positions, inner)  # ReLU
    tally.conv(inner, 4 * filters, 1, positions)  # expand, BN
    tally.output(positions, 4 * filters)
    tally.batch_norm(4 * filters, positions)
    tally.output(positions, 4 * filters)  # add
    tally.output(positions, 4 * filters)  # ReLU
    return out


__all__ = ["assemblenet_cost", "build_assemblenet", "assemblenet_edge_weights", "learned_context"]
