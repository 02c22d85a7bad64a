"""TVN builder: shapes agree with the genome's own size arithmetic, published nets build, block semantics hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy
import pytest

import genome_sets

from videonas.models.tvn import build_tvn
from videonas.genome import published
from videonas.genome.tvn import TVNBlock, TVNGenome


def _clip(genome: TVNGenome, batch: int = 2, seed: int = 0) -> numpy.ndarray:
    shape = (batch, genome.num_frames, genome.image_size, genome.image_size, 3)
    return numpy.random.default_rng(seed).random(shape, dtype=numpy.float32)


@pytest.mark.slow
def test_random_genomes_and_their_mutants_build_and_run():
    """The genome tests' 400 TVNs (random and mutated) pass the cheap checks; the 32 that cover every block type,
    kernel, stride and flag and the cost extremes build at a tiny input, and the cost computed from each genome equals
    what its built model counts. Each model's last feature map must have the (frames, size) that
    ``TVNGenome.feature_sizes`` predicts, which ties the builder to the genome's feasibility."""
    genomes = genome_sets.build_sample("tvn")
    facts = genome_sets.assert_all_build(genomes, keys=[genome_sets.tiny_tvn(genome).key for genome in genomes])
    assert all(fact["pool_input"] == fact["predicted_pool_input"] for fact in facts)
    assert [fact["key"] for fact in facts if fact["cost"] != fact["counted"]] == []


@pytest.mark.slow
def test_published_tvns_build_at_their_input_sizes():
    """Parameter counts (400 classes) are large for "tiny" nets: the released genomes put wide squeeze-excitation
    bottlenecks (ratio ~0.9 on 1-2k channels) in repeated blocks; we check a plausible range, not a copied figure."""
    counts = {}
    for name in ("TVN-1", "TVN-2", "TVN-3", "TVN-4"):
        genome = published.load(name)
        model = build_tvn(genome, num_classes=400)
        assert model.input_shape == (None, genome.num_frames, genome.image_size, genome.image_size, 3)
        assert model.output_shape == (None, 400)
        assert model.get_layer("logits").output.shape[-1] == 400
        counts[name] = model.count_params()
        last = genome.blocks[-1]
        assert model.get_layer("global_pool").input.shape[-1] == last.filters * last.expand
    assert all(1_000_000 < count < 200_000_000 for count in counts.values()), counts
    half = build_tvn(published.load("TVN-1"), num_classes=400, width_multiplier=0.5).count_params()
    assert half < counts["TVN-1"] / 2  # 1x1 convs dominate and scale quadratically with width


@pytest.mark.slow
def test_tvn1_runs_at_its_published_size():
    genome = published.load("TVN-1")
    model = build_tvn(genome, num_classes=400)
    logits = keras.ops.convert_to_numpy(model(_clip(genome, batch=1), training=False))
    assert logits.shape == (1, 400) and numpy.isfinite(logits).all()


def _two_block_genome(*, num_frames: int, temporal_type: str, skip: bool = False, stride: int = 1) -> TVNGenome:
    first = TVNBlock(spatial_type="std", spatial_stride=2, temporal_type=temporal_type, temporal_kernel=3, filters=8,
                     expand=2)
    second = TVNBlock(spatial_type="depth", spatial_stride=stride, temporal_type=temporal_type, temporal_kernel=3,
                      filters=8, expand=2, skip=skip)
    return TVNGenome(image_size=32, num_frames=num_frames, frame_stride=1, blocks=(first, second))


def test_single_frame_skips_the_temporal_layers():
    conv = build_tvn(_two_block_genome(num_frames=1, temporal_type="1d"), num_classes=3)
    pool = build_tvn(_two_block_genome(num_frames=1, temporal_type="maxpool"), num_classes=3)
    assert conv.count_params() == pool.count_params()
    pool.set_weights(conv.get_weights())
    clip = _clip(_two_block_genome(num_frames=1, temporal_type="1d"))
    numpy.testing.assert_allclose(
        keras.ops.convert_to_numpy(conv(clip, training=False)),
        keras.ops.convert_to_numpy(pool(clip, training=False)),
        rtol=1e-5, atol=1e-6,
    )
    two_frames = build_tvn(_two_block_genome(num_frames=2, temporal_type="1d"), num_classes=3)
    assert two_frames.count_params() > conv.count_params()  # with 2 frames the (k, 1, 1) convs exist


def test_residual_is_always_a_projection_as_released():
    """tiny_video_nets/tiny_video_net.py: the skip is a 1x1 conv + BN even when shapes match, so zeroing the branch's
    last BN leaves relu(BN(conv(input)))."""
    genome = _two_block_genome(num_frames=2, temporal_type="avgpool", skip=True)
    model = build_tvn(genome, num_classes=3)
    assert model.get_layer("block1_0_projection_conv").strides == (1, 1, 1)
    probe = keras.Model(model.input, [model.get_layer("block0_0_out").output, model.get_layer("block1_0_out").output])
    norm = model.get_layer("block1_0_expand_bn")
    gamma, beta, mean, variance = norm.get_weights()
    norm.set_weights([numpy.zeros_like(gamma), numpy.zeros_like(beta), mean, variance])
    before, after = (keras.ops.convert_to_numpy(t) for t in probe(_clip(genome), training=False))
    projection = keras.Sequential([model.get_layer("block1_0_projection_conv"), model.get_layer("block1_0_projection_bn")])
    expected = numpy.maximum(keras.ops.convert_to_numpy(projection(before, training=False)), 0)
    numpy.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-5)
    strided = build_tvn(_two_block_genome(num_frames=2, temporal_type="avgpool", skip=True, stride=2), num_classes=3)
    assert strided.get_layer("block1_0_projection_conv").strides == (1, 2, 2)


def test_no_residual_when_the_frame_count_changes():
    block = TVNBlock(spatial_type="std", temporal_kernel=3, temporal_stride=2, filters=8, skip=True, repeats=2)
    model = build_tvn(TVNGenome(image_size=32, num_frames=4, frame_stride=1, blocks=(block, TVNBlock(filters=8))), num_classes=3)
    names = {layer.name for layer in model.layers}
    assert "block0_0_residual" not in names and "block0_0_projection_conv" not in names  # 4 -> 2 frames
    assert "block0_1_residual" in names  # the unstrided repeat keeps its frames and its residual


def test_kernel_one_ignores_its_stride_as_released():
    block = TVNBlock(spatial_kernel=1, spatial_stride=2, temporal_kernel=1, temporal_stride=2, filters=8, expand=2)
    genome = TVNGenome(image_size=32, num_frames=4, frame_stride=1, blocks=(block, TVNBlock(filters=8)))
    model = build_tvn(genome, num_classes=3)
    assert tuple(model.get_layer("block0_0_out").output.shape[1:4]) == (4, 32, 32)
    assert genome.feature_sizes()[0] == (4, 32)


def test_parameters_never_grow_when_the_input_shrinks():
    """Clipping a kernel to a small map keeps the 1x1 reduce and the (depthwise) conv (TVN-2 once had more weights at
    80 px than at 256 px)."""
    blocks = tuple(TVNBlock(spatial_type=kind, spatial_kernel=7, spatial_stride=2, temporal_kernel=5, filters=16)
                   for kind in ("std", "depth", "std", "depth", "depth"))
    counts = [build_tvn(TVNGenome(image_size=size, num_frames=frames, frame_stride=1, blocks=blocks),
                        num_classes=3).count_params() for size, frames in ((256, 8), (64, 4), (32, 2), (32, 1))]
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0]
    small = build_tvn(TVNGenome(image_size=32, num_frames=1, frame_stride=1, blocks=blocks), num_classes=3)
    assert "block4_0_reduce_conv" in {layer.name for layer in small.layers}  # a 2x2 map: kernel 7 clipped to 3


def test_squeeze_excitation_bottleneck_as_released():
    block = TVNBlock(filters=8, expand=2, squeeze=0.25)
    model = build_tvn(TVNGenome(image_size=32, num_frames=1, frame_stride=1, blocks=(block, TVNBlock(filters=8))), num_classes=3)
    assert model.get_layer("block0_0_squeeze").squeeze.units == max(int(16 * 0.25), 8) == 8


def test_input_output_names_and_bad_arguments():
    genome = _two_block_genome(num_frames=2, temporal_type="1d")
    model = build_tvn(genome, num_classes=5, name="tiny")
    assert model.name == "tiny" and build_tvn(genome, num_classes=5).name == "tvn"
    assert model.inputs[0].name == "rgb" and model.output_names == ["logits"]
    assert model.get_layer("logits").units == 5
    with pytest.raises(ValueError, match="num_classes"):
        build_tvn(genome, num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        build_tvn(genome, num_classes=5, dropout=1.5)
    with pytest.raises(ValueError, match="genome must be TVNGenome"):
        build_tvn(genome.to_dict(), num_classes=5)


_TORCH_SCRIPT = """
import dataclasses, json, numpy, keras
from videonas.models.tvn import build_tvn
from videonas.genome.tvn import TVNSpace
space, rng = TVNSpace(image_sizes=(32,), frame_counts=(1, 2, 4)), numpy.random.default_rng(11)
out = []
for _ in range(3):
    genome = space.sample(rng)
    model = build_tvn(genome, num_classes=4)
    clip = rng.random((2, genome.num_frames, 32, 32, 3), dtype=numpy.float32)
    logits = keras.ops.convert_to_numpy(model(clip, training=False))
    out.append({"shape": list(logits.shape), "finite": bool(numpy.isfinite(logits).all()),
                "expected": list(genome.feature_sizes()[-1]),
                "pooled": list(model.get_layer("global_pool").input.shape[1:3])})
print(json.dumps({"backend": keras.backend.backend(), "models": out}))
"""


@pytest.mark.slow
@pytest.mark.other_backend
def test_builds_and_runs_on_torch():
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, "-c", _TORCH_SCRIPT], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "torch"
    assert len(report["models"]) == 3
    for entry in report["models"]:
        assert entry["shape"] == [2, 4] and entry["finite"]
        assert entry["pooled"] == entry["expected"]
