"""The 8 published presets against the released code: parameters within 2%, multiply-adds within 3%.

The reference figures (``videonas/resources/released_counts.json``) are counted here, layer by layer, from the released
code's own layer definitions (each counter names the file and functions it follows), so that the numbers and their
derivation sit side by side and the file cannot drift from them. Parameters are the trainable ones (batch-norm gamma and
beta included, moving statistics not), multiply-adds are those of the convolutions and dense layers at batch 1, as
``videonas.measure`` counts them.
"""

from __future__ import annotations

import math

import pytest

from videonas import families
from videonas.bench import table
from videonas.genome import published

PARAMS_TOLERANCE, MACS_TOLERANCE = 0.02, 0.03


def _ceil(size: int, stride: int) -> int:
    return -(-size // stride)  # 'SAME' padding


class Count:
    """Running totals: trainable parameters and multiply-adds."""

    def __init__(self) -> None:
        self.params = self.macs = 0

    def conv(self, taps: int, c_in: int, c_out: int, positions: int, *, bias: bool = False) -> None:
        self.params += taps * c_in * c_out + (c_out if bias else 0)
        self.macs += taps * c_in * c_out * positions

    def bn(self, channels: int) -> None:
        self.params += 2 * channels  # center and scale


# --- TVN: google-research tiny_video_nets/tiny_video_net.py (tiny_block, tvn, tiny_video_net) and layers.py ----------


def _tvn_block(count: Count, block: dict, c: int, t: int, h: int, *, strides: int, use_temporal: bool):
    f, kernel = block["filters"], block["spatial_kernel"]
    expanded = max(f * block["expand"], f)
    c_in, t_in, h_in = c, t, h
    stride = block["spatial_stride"] if strides == 0 else strides
    if kernel != 1:  # spatial_conv returns its input untouched for a 1x1 kernel (no stride either)
        if block["spatial_type"] in ("std", "depth"):
            count.conv(1, c, f, t * h * h)
            count.bn(f)
            c = f
        h = _ceil(h, stride)
        if block["spatial_type"] == "std":
            count.conv(kernel * kernel, c, f, t * h * h)
            count.bn(f)
        elif block["spatial_type"] == "depth":
            count.conv(kernel * kernel, 1, c, t * h * h)  # depthwise, multiplier 1
            count.bn(c)
    if use_temporal and t > 1 and block["temporal_kernel"] != 1:  # temporal_conv: kernel 1 is a no-op
        t = _ceil(t, block["temporal_stride"] if strides == 0 else strides)
        if block["temporal_type"] == "1d":
            count.conv(block["temporal_kernel"], c, f, t * h * h)
            count.bn(f)
            c = f
    count.conv(1, c, expanded, t * h * h)  # Expand (expand > 0 in every released genome), BN without ReLU
    count.bn(expanded)
    if block["squeeze"] > 0:  # squeeze_and_excite: two 1x1 convs with bias on the pooled vector
        reduced = max(int(expanded * block["squeeze"]), 8)
        count.conv(1, expanded, reduced, 1, bias=True)
        count.conv(1, reduced, expanded, 1, bias=True)
    if block["context_gate"]:  # context_gate: one 1x1 conv with bias on the pooled vector
        count.conv(1, expanded, expanded, 1, bias=True)
    if block["skip"] and t == t_in:  # the residual is always a projected 1x1 conv (strided where the size changed)
        count.conv(1, c_in, expanded, t * h * h)
        count.bn(expanded)
    return expanded, t, h


def released_tvn(spec: dict, num_classes: int) -> Count:
    count = Count()
    c, t, h = 3, spec["num_frames"], spec["image_size"]
    for block in spec["blocks"]:
        c, t, h = _tvn_block(count, block, c, t, h, strides=0, use_temporal=True)
        for repeat in range(block["repeats"] - 1):  # stride 1, temporal conv off, on, off, ...
            c, t, h = _tvn_block(count, block, c, t, h, strides=1, use_temporal=repeat % 2 == 1)
    count.conv(1, c, num_classes, 1, bias=True)  # global average pool, dense
    return count


# --- EvaNet: google-research evanet/model_dna.py (ModelDNA.model, residual_block, block, conv3d, conv21d) and
# evanet/tgm_layer.py (tgm_3d_conv, 4 Gaussians as tgm_conv3d passes) ------------------------------------------------


def _evanet_conv(count: Count, kind: str, time: int, c_in: int, c_out: int, positions: int, *, spatial: int = 3,
                 temporal_positions: int | None = None) -> None:
    taps = spatial * spatial
    if kind == "3d":
        count.conv(time * taps, c_in, c_out, positions)
    elif kind == "2plus1d":  # conv21d: (t,1,1) to c_out // 2, BN, ReLU, then (1,k,k); both convs even at t = 1
        count.conv(time, c_in, c_out // 2, positions if temporal_positions is None else temporal_positions)
        count.bn(c_out // 2)
        count.conv(taps, c_out // 2, c_out, positions)
    else:  # itgm: a (1,k,k) kernel, inflated over t by 4 Gaussians mixed per (c_in, c_out) pair
        count.params += taps * c_in * c_out + (4 * c_in * c_out + 2 * 4 if time > 1 else 0)
        count.macs += time * taps * c_in * c_out * positions


def _evanet_block(count: Count, c_in: int, total: int, layers: list, positions: int, *, projection: bool,
                  use_time: bool) -> int:
    f = total // len(layers)
    if projection:
        count.conv(1, c_in, f * len(layers), positions)
        count.bn(f * len(layers))
    for layer in layers:
        time = layer.get("time", 1) if use_time else 1
        if layer["layer"] in ("single", "maxpoolconv"):  # (max-pool,) 1x1 conv, BN
            count.conv(1, c_in, f, positions)
            count.bn(f)
        elif layer["layer"] == "conv":
            count.conv(1, c_in, f // 2, positions)
            count.bn(f // 2)
            _evanet_conv(count, layer["conv"], time, f // 2, f, positions)
            count.bn(f)
        else:  # conv2
            count.conv(1, c_in, f // 4, positions)
            count.bn(f // 4)
            _evanet_conv(count, layer["conv"], time, f // 4, f // 2, positions)
            count.bn(f // 2)
            _evanet_conv(count, layer["conv2"], layer["time2"] if use_time else 1, f // 2, f, positions)
            count.bn(f)
    return f * len(layers)


def released_evanet(spec: dict, num_classes: int, num_frames: int, image_size: int) -> Count:
    count = Count()
    t, h = _ceil(num_frames, 2), _ceil(image_size, 2)  # the stem conv, strides (2, 2, 2)
    _evanet_conv(count, spec["stem"]["conv"], spec["stem"]["time"], 3, 64, t * h * h, spatial=7,
                 temporal_positions=t * image_size * image_size)
    count.bn(64)
    t, h, c = _ceil(t, 2), _ceil(h, 2), 64  # maxpool1, strides (2, 2, 2)
    for index, (block, total) in enumerate(zip(spec["blocks"], (256, 512, 1024, 2048))):
        if index:
            h = _ceil(h, 2)  # maxpool2-4, strides (1, 2, 2)
        for repeat in range(block["repeats"]):  # the base block projects; then time off, on, off, ...
            c = _evanet_block(count, c, total, block["layers"], t * h * h, projection=repeat == 0,
                              use_time=repeat % 2 == 0)
    count.conv(1, c, num_classes, t - min(t, 2) + 1, bias=True)  # (min(T,2), s, s) VALID average pool, 1x1x1 conv
    return count


# --- AssembleNet: tensorflow/models official/projects/assemblenet/modeling/assemblenet.py (AssembleNet,
# rgb_conv_stem, flow_conv_stem, multi_connection_fusion, block_group, bottleneck_block_interleave,
# multi_stream_heads); flow is computed in the model by RepresentationFlow (bottleneck 1: no trainable weights) --------

RELEASED_INTERMEDIATE = (64, 128, 256, 512)
RELEASED_BLOCKS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def released_assemblenet(spec: dict, num_classes: int, num_frames: int, image_size: int) -> Count:
    count, t = Count(), num_frames  # every conv is per frame or along time: the clip keeps its frames
    structure = spec["structure"]
    stem_filters = 128 // sum(1 for node in structure if len(node) == 2)
    maps: list[tuple[int, int]] = []  # (size, channels) of each node
    for node in structure:
        if len(node) == 2:  # a stem: 7x7 conv stride 2, BN (rgb: (5,1) temporal conv, BN), max-pool stride 2
            h = _ceil(image_size, 2)
            count.conv(49, 3 if node[0] == -1 else 2, stem_filters, t * h * h)
            count.bn(stem_filters)
            if node[0] == -1:
                count.conv(5, stem_filters, stem_filters, t * h * h)
                count.bn(stem_filters)
            maps.append((_ceil(h, 2), stem_filters))
            continue
        level, inputs, filters, _, stride = node[:5]
        size, c = min(maps[i][0] for i in inputs), max(maps[i][1] for i in inputs)
        for width in dict.fromkeys(maps[i][1] for i in inputs):  # a 1x1 conv per narrower width (edge weights fixed)
            if width != c:
                count.conv(1, width, c, t * size * size)
        for step in range(RELEASED_BLOCKS[spec["depth"]][level]):
            out = _ceil(size, stride) if step == 0 else size
            if step == 0:  # the projected shortcut
                count.conv(1, c, 4 * filters, t * out * out)
                count.bn(4 * filters)
            count.conv(3 if step % 2 else 1, c, filters, t * size * size)  # odd: dilated (3,1) temporal; even: 1x1
            count.bn(filters)
            count.conv(9, filters, RELEASED_INTERMEDIATE[level], t * out * out)
            count.bn(RELEASED_INTERMEDIATE[level])
            count.conv(1, RELEASED_INTERMEDIATE[level], 4 * filters, t * out * out)
            count.bn(4 * filters)
            size, c = out, 4 * filters
        maps.append((size, c))
    count.conv(1, maps[-1][1], num_classes, 1, bias=True)  # pooled, averaged over the level-3 nodes, dense
    return count


def released_count(name: str) -> Count:
    family = families.of(name)
    frames, size = table.published_input(name)
    spec, classes = published.spec(name), family.released_classes
    if family.name == "tvn":
        return released_tvn(spec, classes)
    if family.name == "evanet":
        return released_evanet(spec, classes, frames, size)
    return released_assemblenet(spec, classes, frames, size)


@pytest.mark.parametrize("name", published.names())
def test_the_reference_file_holds_the_counts_derived_here(name):
    entry, count = published.released_counts(name), released_count(name)
    family = families.of(name)
    assert (entry["params"], entry["macs"]) == (count.params, count.macs)
    assert entry["input"] == list(table.published_input(name)) and entry["classes"] == family.released_classes


@pytest.mark.parametrize("name", published.names())
def test_every_preset_is_within_tolerance_of_the_released_code(name):
    family, entry = families.of(name), published.released_counts(name)
    frames, size = entry["input"]
    extra = {} if family.genome_input else {"num_frames": frames, "image_size": size}
    ours = family.estimate_cost(published.load(name), num_classes=entry["classes"], **extra)
    assert math.isclose(ours["params"], entry["params"], rel_tol=PARAMS_TOLERANCE), (ours["params"], entry["params"])
    assert math.isclose(ours["flops"], entry["macs"], rel_tol=MACS_TOLERANCE), (ours["flops"], entry["macs"])
