"""build_evanet: genomes become Keras models with the meta-architecture's shapes, on both backends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy
import pytest

import genome_sets

from videonas.models.evanet import build_evanet
from videonas.genome import published
from videonas.genome.evanet import EvaNetGenome

TINY = dict(num_frames=4, image_size=32, width_multiplier=1 / 16)


def _genome(*, repeats: int = 2, layers: list[dict] | None = None, pool_time: int = 3) -> EvaNetGenome:
    layers = layers or [
        {"layer": "conv", "conv": "3d", "time": 5}, {"layer": "single"}, {"layer": "maxpoolconv", "time": 3},
    ]
    block = {"repeats": repeats, "layers": layers}
    return EvaNetGenome.from_published({
        "stem": {"conv": "3d", "time": 3},
        "max_pool1_time": pool_time, "max_pool3_time": pool_time, "max_pool4_time": pool_time,
        "blocks": [block] * 4,
    })


@pytest.mark.slow
def test_random_genomes_and_their_mutants_build_and_run():
    """The genome tests' 400 EvaNets pass the cheap checks; the 32 that cover every stem, branch kind, conv type,
    temporal size and repeat count build at 4x32x32 and 1/16 width, with one residual add per module repeat."""
    genomes = genome_sets.build_sample("evanet")
    facts = genome_sets.assert_all_build(genomes)
    assert all(fact["residual_adds"] == fact["repeats"] for fact in facts)


def test_meta_architecture_shapes_and_channel_split_as_released():
    model = build_evanet(_genome(), num_classes=3, num_frames=16, image_size=64, width_multiplier=1 / 16)
    assert model.input.shape == (None, 16, 64, 64, 3) and model.layers[0].name == "rgb"
    assert model.output.shape == (None, 3) and model.layers[-1].name == "logits"
    # The stem and the first pool halve time as well as space (evanet/model_dna.py): modules see T/4 frames.
    assert tuple(model.get_layer("stem").output.shape) == (None, 8, 32, 32, 4)
    assert tuple(model.get_layer("pool1").output.shape) == (None, 4, 16, 16, 4)
    for index in (2, 3, 4):
        pool = model.get_layer(f"pool{index}")
        assert pool.pool_size[1:] == (2, 2) and pool.strides == (1, 2, 2)
    for index, (size, width) in enumerate([(16, 16), (8, 32), (4, 64), (2, 128)], start=1):
        # Three branches get width // 3 each (floor, as released) and concatenate to 3 * (width // 3).
        share = width // 3
        assert tuple(model.get_layer(f"block{index}_repeat1_relu").output.shape) == (None, 4, size, size, 3 * share)
        last = ["branch0_conv_bn", "branch1_1x1_bn", "branch2_1x1_bn"]
        shares = [model.get_layer(f"block{index}_repeat0_{name}").output.shape[-1] for name in last]
        assert shares == [share] * 3
    # Head as released: (min(T, 2), S, S) average pool, 1x1 conv to classes, mean over the remaining positions.
    assert model.get_layer("head_pool").pool_size == (2, 2, 2)
    assert tuple(model.get_layer("logits_conv").output.shape) == (None, 3, 1, 1, 3)


def test_odd_repeats_switch_the_conv_temporal_extent_off_but_not_the_max_pool():
    model = build_evanet(_genome(repeats=3), num_classes=3, num_frames=32, image_size=32, width_multiplier=1 / 16)
    kernel_times = [model.get_layer(f"block1_repeat{r}_branch0_conv").kernel.shape[0] for r in range(3)]
    assert kernel_times == [5, 1, 5]
    pool_windows = [model.get_layer(f"block1_repeat{r}_branch2_pool").pool_size[0] for r in range(3)]
    assert pool_windows == [3, 3, 3]
    # The first repeat projects the shortcut; later repeats add the identity.
    names = {layer.name for layer in model.layers}
    assert "block1_repeat0_projection" in names and "block1_repeat1_projection" not in names


def test_2plus1d_is_temporal_first_to_half_width_and_itgm_mixes_per_channel_pair():
    layers = [{"layer": "conv", "conv": "2plus1d", "time": 3}, {"layer": "conv", "conv": "itgm", "time": 3}]
    model = build_evanet(_genome(layers=layers), num_classes=3, num_frames=16, image_size=32, width_multiplier=1 / 8)
    conv = model.get_layer("block1_repeat0_branch0_conv")  # share 16: 1x1 to 8, (3,1,1) to 16 // 2, (1,3,3) to 16
    assert conv.temporal_first and tuple(conv.temporal.kernel.shape) == (3, 1, 1, 8, 8)
    assert tuple(conv.spatial.kernel.shape) == (1, 3, 3, 8, 16)
    itgm = model.get_layer("block1_repeat0_branch1_conv")
    assert tuple(itgm.mixture_logits.shape) == (8 * 16, 4)


def test_time_never_drops_below_one_and_long_kernels_are_clipped():
    branch = {"layer": "conv2", "conv": "2plus1d", "time": 11, "conv2": "itgm", "time2": 9}
    genome = _genome(pool_time=11, layers=[branch])
    model = build_evanet(genome, num_classes=2, num_frames=8, image_size=32, width_multiplier=1 / 16)
    assert model.get_layer("pool1").pool_size[0] == 4  # 8 frames -> 4 after the stem
    assert model.get_layer("block1_repeat0_branch0_conv").temporal_kernel == 3  # 2 frames: taps within +-1 only
    assert model.get_layer("block4_repeat0_branch0_conv2").temporal_length == 3
    logits = keras.ops.convert_to_numpy(model(numpy.ones((1, 8, 32, 32, 3), "float32")))
    assert logits.shape == (1, 2) and numpy.all(numpy.isfinite(logits))
    one = build_evanet(genome, num_classes=2, num_frames=1, image_size=32, width_multiplier=1 / 16)
    assert one.get_layer("head_pool").input.shape[1] == 1


def test_flow_modality_width_and_argument_errors():
    genome = _genome(repeats=1)
    flow = build_evanet(genome, num_classes=4, modality="flow", name="evanet_flow", **TINY)
    assert flow.input.shape == (None, 4, 32, 32, 2) and flow.layers[0].name == "flow" and flow.name == "evanet_flow"
    wider = build_evanet(genome, num_classes=4, num_frames=4, image_size=32, width_multiplier=1 / 8)
    assert wider.count_params() > 3 * flow.count_params()
    for kwargs, field in [
        (dict(modality="depth"), "modality"),
        (dict(num_frames=0), "num_frames"),
        (dict(width_multiplier=0.0), "width_multiplier"),
        (dict(dropout=1.0), "dropout"),
        (dict(num_classes=0), "num_classes"),
    ]:
        with pytest.raises(ValueError, match=field):
            build_evanet(genome, **{"num_classes": 4, **TINY, **kwargs})
    with pytest.raises(ValueError, match="genome"):
        build_evanet(genome.to_dict(), num_classes=4, **TINY)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["EvaNet-A", "EvaNet-B"])
def test_published_nets_build_at_kinetics_size(name):
    genome = published.load(name)
    model = build_evanet(genome, num_classes=400, num_frames=32, image_size=224)
    assert model.output.shape == (None, 400)
    assert tuple(model.get_layer("head_pool").input.shape[:4]) == (None, 8, 7, 7)
    # Each module's widest branch sets its cost; an EvaNet has tens of millions of weights, like a ResNet-50-sized net.
    assert 10_000_000 < model.count_params() < 100_000_000
    itgm = [layer for layer in model.layers if type(layer).__name__ == "ITGM"]
    assert len(itgm) == sum(
        sum(branch.conv == "itgm" for branch in block.layers) + sum(branch.conv2 == "itgm" for branch in block.layers)
        for block in genome.blocks for _ in range(block.repeats)
    )


@pytest.mark.slow
@pytest.mark.other_backend
def test_builds_and_runs_on_torch():
    code = textwrap.dedent(
        """
        import keras, numpy
        from videonas.models.evanet import build_evanet
        from videonas.genome import published
        from videonas.genome.evanet import EvaNetSpace
        rng = numpy.random.default_rng(3)
        space = EvaNetSpace()
        genomes = [published.load("EvaNet-B"), space.mutate(space.sample(rng), rng)]
        clips = numpy.random.default_rng(0).random((2, 4, 32, 32, 3), dtype="float32")
        for genome in genomes:
            model = build_evanet(genome, num_classes=5, num_frames=4, image_size=32, width_multiplier=1 / 16)
            logits = keras.ops.convert_to_numpy(model(clips, training=False))
            print(keras.backend.backend(), logits.shape, bool(numpy.isfinite(logits).all()))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines == ["torch (2, 5) True"] * 2
