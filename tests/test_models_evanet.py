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
def test_200_random_genomes_and_200_mutants_build_and_run():
    """The genome tests' 400 EvaNets at 4x32x32 and 1/16 width; one residual add per module repeat."""
    genomes = [genome for pair in genome_sets.evanet_pairs() for genome in pair]
    assert len(genomes) == 400
    facts = genome_sets.assert_all_build(genomes)
    assert all(fact["residual_adds"] == fact["repeats"] for fact in facts)


def test_meta_architecture_shapes_and_channel_split():
    model = build_evanet(_genome(), num_classes=3, num_frames=8, image_size=64, width_multiplier=1 / 16)
    assert model.input.shape == (None, 8, 64, 64, 3) and model.layers[0].name == "rgb"
    assert model.output.shape == (None, 3) and model.layers[-1].name == "logits"
    assert tuple(model.get_layer("stem").output.shape) == (None, 8, 32, 32, 4)
    # Space halves at every pool (64 -> 32 stem -> 16, 8, 4, 2); time halves at pools 3 and 4 only (8 -> 4 -> 2).
    for index, (frames, size, width) in enumerate([(8, 16, 16), (8, 8, 32), (4, 4, 64), (2, 2, 128)], start=1):
        assert tuple(model.get_layer(f"block{index}_repeat1_relu").output.shape) == (None, frames, size, size, width)
        # Three branches share the module width evenly (16 -> 6 + 5 + 5) and concatenate back to it.
        last = ["branch0_conv_bn", "branch1_1x1_bn", "branch2_1x1_bn"]
        shares = [model.get_layer(f"block{index}_repeat0_{name}").output.shape[-1] for name in last]
        assert shares == [width // 3 + (b < width % 3) for b in range(3)]
        assert model.get_layer(f"block{index}_repeat0_concat").output.shape[-1] == width


def test_odd_repeats_switch_the_temporal_extent_off():
    model = build_evanet(_genome(repeats=3), num_classes=3, num_frames=8, image_size=32, width_multiplier=1 / 16)
    kernel_times = [model.get_layer(f"block1_repeat{r}_branch0_conv").kernel.shape[0] for r in range(3)]
    assert kernel_times == [5, 1, 5]
    pool_windows = [model.get_layer(f"block1_repeat{r}_branch2_pool").pool_size[0] for r in range(3)]
    assert pool_windows == [3, 1, 3]
    # The first repeat projects the shortcut; later repeats add the identity.
    names = {layer.name for layer in model.layers}
    assert "block1_repeat0_projection" in names and "block1_repeat1_projection" not in names


def test_time_never_drops_below_one_and_long_kernels_are_clipped():
    branch = {"layer": "conv2", "conv": "2plus1d", "time": 11, "conv2": "itgm", "time2": 9}
    genome = _genome(pool_time=11, layers=[branch])
    model = build_evanet(genome, num_classes=2, num_frames=2, image_size=32, width_multiplier=1 / 16)
    assert model.get_layer("global_pool").input.shape[1] == 1
    assert model.get_layer("pool1").pool_size[0] == 2
    assert model.get_layer("block1_repeat0_branch0_conv").temporal_kernel == 3  # 2 frames: taps within +-1 only
    assert model.get_layer("block4_repeat0_branch0_conv2").temporal_length == 1  # 1 frame left after pools 3, 4
    logits = keras.ops.convert_to_numpy(model(numpy.ones((1, 2, 32, 32, 3), "float32")))
    assert logits.shape == (1, 2) and numpy.all(numpy.isfinite(logits))


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
    assert tuple(model.get_layer("global_pool").input.shape) == (None, 8, 7, 7, 2048)
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
