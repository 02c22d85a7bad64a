"""AssembleNet builder: random graphs build to logits, each edge has a readable learned weight, published nets build."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy
import pytest

import genome_sets

from videonas import measure
from videonas.models.assemblenet import assemblenet_cost, assemblenet_edge_weights, build_assemblenet
from videonas.genome import published
from videonas.genome.assemblenet import GUIDED_PRUNE_THRESHOLD, AssembleNetGenome, AssembleNetSpace, edges

TINY = dict(num_frames=4, image_size=32, width_multiplier=0.25)


def tiny_inputs(batch: int, seed: int = 0) -> dict[str, numpy.ndarray]:
    rng = numpy.random.default_rng(seed)
    return {
        "rgb": rng.random((batch, 4, 32, 32, 3), dtype=numpy.float32),
        "flow": rng.normal(size=(batch, 4, 32, 32, 2)).astype(numpy.float32) * 0.1,
    }


def small_genome(head_filters: tuple[int, ...] = (8,), blocks_per_level=(1, 1, 1, 1)) -> AssembleNetGenome:
    """2 stems, one block per level 0-2, then one or more level-3 heads reading node 4."""
    structure = [[-1, 1], [-2, 2], [0, [0, 1], 8, 4, 1, 0], [1, [2], 8, 2, 2, 0], [2, [1, 3], 8, 1, 2, 0]]
    structure += [[3, [4], filters, 8, 2, 0] for filters in head_filters]
    depth = 3 * sum(blocks_per_level) + 2
    spec = {"depth": depth, "blocks_per_level": list(blocks_per_level), "structure": structure}
    return AssembleNetGenome.from_published(spec)


@pytest.mark.slow
def test_random_genomes_and_their_mutants_build_to_logits():
    """The genome tests' 400 graphs (half the mutants connection-guided) pass the cheap checks; the 32 that cover
    every stem, width, dilation, stride, fan-in and the weight extremes build at 4x32x32 and 1/4 width."""
    genome_sets.assert_all_build(genome_sets.build_sample("assemblenet"))


def test_edge_weights_cover_every_edge_and_read_the_fusion_variables():
    parent = AssembleNetSpace().sample(numpy.random.default_rng(1))
    model = build_assemblenet(parent, num_classes=3, **TINY)
    weights = assemblenet_edge_weights(model)
    assert list(weights) == edges(parent)
    # A single-input node has no fusion weight (as released): its edge reads 1.0; every other edge a learned gate.
    single = {(source, target) for source, target in edges(parent) if len(parent.nodes[target].inputs) == 1}
    assert all(weights[edge] == 1.0 for edge in single)
    assert all(0.4 < w < 0.6 for edge, w in weights.items() if edge not in single)  # logits ~ N(0, 0.01) at start
    target = len(parent.nodes) - 1
    sources = parent.nodes[target].inputs
    fusion = next(layer for layer in model.layers if layer.name.startswith(f"node{target}_fusion_from_"))
    logits = numpy.linspace(-3.0, 2.0, len(sources))
    fusion.logits.assign(logits)
    weights = assemblenet_edge_weights(model)
    expected = 1.0 / (1.0 + numpy.exp(-logits))
    numpy.testing.assert_allclose([weights[(s, target)] for s in sources], expected, rtol=1e-6)
    # The weakest learned edge is the one guided mutation prunes.
    space = AssembleNetSpace(operations=("remove_edge",))
    child = space.mutate(parent, numpy.random.default_rng(0), edge_weights=weights)
    removed = set(edges(parent)) - set(edges(child))
    assert (sources[0], target) in removed
    assert all(weights[edge] < GUIDED_PRUNE_THRESHOLD for edge in removed)


@pytest.mark.slow
def test_training_moves_the_connection_weights_and_lowers_the_loss():
    """The weights that guide mutation are learned with the network: two SGD steps move them off sigmoid(0)."""
    parent = AssembleNetSpace().sample(numpy.random.default_rng(2))
    model = build_assemblenet(parent, num_classes=3, dropout=0.0, **TINY)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss, run_eagerly=True)
    labels = numpy.arange(4) % 3
    start = assemblenet_edge_weights(model)
    losses = [float(model.train_on_batch(tiny_inputs(4), labels)) for _ in range(2)]
    assert losses[1] < losses[0]
    moved = [abs(w - start[edge]) > 1e-4 for edge, w in assemblenet_edge_weights(model).items() if start[edge] != 1.0]
    assert sum(moved) > len(moved) / 2


def test_blocks_follow_the_genome_dilations_depth_and_interleaving():
    model = build_assemblenet(small_genome(blocks_per_level=(2, 1, 1, 1)), num_classes=4, **TINY)
    # As released: an odd block opens with the dilated (3,1,1) temporal conv where an even one has a 1x1; the middle
    # conv is a plain 3x3 carrying the stride. Interpretation: a one-block node's block is temporal.
    first, second = model.get_layer("node2_block0_reduce"), model.get_layer("node2_block1_reduce")
    assert (first.kernel_size, second.kernel_size) == ((1, 1, 1), (3, 1, 1))
    assert second.dilation_rate == (4, 1, 1) and model.get_layer("node2_block0_conv").strides == (1, 1, 1)
    assert model.get_layer("node2_block1_conv").kernel_size == (1, 3, 3)
    assert model.get_layer("node3_block0_reduce").kernel_size == (3, 1, 1)
    assert model.get_layer("node3_block0_conv").strides == (1, 2, 2)
    assert model.get_layer("node5_block0_reduce").dilation_rate == (8, 1, 1)
    # The RGB stem has its (5,1,1) temporal conv at the stem's dilation; the flow stem, as released, none.
    assert model.get_layer("node0_rgb_conv").temporal_kernel == 5
    assert model.get_layer("node0_rgb_conv").temporal_dilation == 1
    assert model.get_layer("node1_flow_conv").temporal_kernel == 1
    with pytest.raises(ValueError):
        model.get_layer("node2_block2_conv")
    assert set(assemblenet_edge_weights(model)) == set(edges(small_genome()))


def test_released_edge_weights_load_as_constants_and_a_mapping_fixes_others():
    loaded = published.load("AssembleNet-50")
    model = build_assemblenet(loaded, num_classes=3, edge_weights="released", **TINY)
    released = published.edge_weights("AssembleNet-50")
    assert len(released) == 28 and set(released) <= set(edges(loaded))
    weights = assemblenet_edge_weights(model)
    numpy.testing.assert_allclose([weights[edge] for edge in released], list(released.values()), rtol=1e-5)
    fusions = [layer for layer in model.layers if "_fusion_from_" in layer.name and layer.logits is not None]
    assert len(fusions) == 9 and not any(layer.logits.trainable for layer in fusions)
    assert all(projection.trainable for layer in fusions for projection in layer.projections.values())
    learned = assemblenet_cost(loaded, num_classes=3, **TINY)["params"]  # what the learned-gates build trains
    assert measure.count_params(model) == learned - 28
    genome = small_genome()
    fixed = {(0, 2): 0.25, (1, 2): 0.75, (1, 4): 0.1, (3, 4): 0.9}
    weights = assemblenet_edge_weights(build_assemblenet(genome, num_classes=3, edge_weights=fixed, **TINY))
    numpy.testing.assert_allclose([weights[edge] for edge in fixed], list(fixed.values()), rtol=1e-5)
    with pytest.raises(ValueError, match=r"edge_weights\[\(3, 4\)\] must be a weight in \(0, 1\), got None"):
        build_assemblenet(genome, num_classes=3, edge_weights={(0, 2): 0.5, (1, 2): 0.5, (1, 4): 0.5}, **TINY)
    with pytest.raises(ValueError, match="edge_weights='released' needs a released AssembleNet genome"):
        build_assemblenet(genome, num_classes=3, edge_weights="released", **TINY)
    with pytest.raises(ValueError, match="edge_weights must be one of"):
        build_assemblenet(genome, num_classes=3, edge_weights="frozen", **TINY)


def test_several_heads_are_averaged_or_concatenated():
    same = build_assemblenet(small_genome(head_filters=(8, 8)), num_classes=4, **TINY)
    assert same.get_layer("head_average").output.shape == (None, 4 * 2)  # 4x bottleneck 8, width 0.25
    mixed = build_assemblenet(small_genome(head_filters=(8, 16)), num_classes=4, **TINY)
    assert mixed.get_layer("head_concat").output.shape == (None, 4 * 2 + 4 * 4)
    logits = keras.ops.convert_to_numpy(mixed(tiny_inputs(1), training=False))
    assert logits.shape == (1, 4)


def test_bad_builder_arguments_name_the_field():
    with pytest.raises(ValueError, match=r"num_frames must be in \[1, 1024\], got 0"):
        build_assemblenet(small_genome(), num_classes=3, num_frames=0, image_size=32)
    with pytest.raises(ValueError, match=r"genome must be AssembleNetGenome"):
        build_assemblenet({"family": "assemblenet"}, num_classes=3, num_frames=4, image_size=32)
    with pytest.raises(ValueError, match=r"has no AssembleNet fusion layers"):
        assemblenet_edge_weights(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))


@pytest.mark.slow
@pytest.mark.parametrize("name, resnet_params", [("AssembleNet-50", 25.6e6), ("AssembleNet-101", 44.5e6)])
def test_published_nets_build_at_the_published_input(name, resnet_params):
    """The paper: about as many parameters as a two-stream ResNet of the same depth (2x the ResNet's count)."""
    loaded = published.load(name)
    model = build_assemblenet(loaded, num_classes=400, num_frames=32, image_size=224)
    assert model.output.shape == (None, 400)
    assert model.input["rgb"].shape == (None, 32, 224, 224, 3)
    assert len(assemblenet_edge_weights(model)) == len(edges(loaded))
    assert 0.5 * 2 * resnet_params < model.count_params() < 1.5 * 2 * resnet_params


@pytest.mark.slow
@pytest.mark.other_backend
def test_two_genomes_build_and_run_on_torch():
    code = """
import numpy, keras
from videonas.models.assemblenet import build_assemblenet, assemblenet_edge_weights
from videonas.genome.assemblenet import AssembleNetSpace, edges
space, rng = AssembleNetSpace(), numpy.random.default_rng(0)
parent = space.sample(rng)
for genome in (parent, space.mutate(parent, rng)):
    model = build_assemblenet(genome, num_classes=6, num_frames=4, image_size=32, width_multiplier=0.25)
    x = {"rgb": numpy.random.rand(2, 4, 32, 32, 3).astype("float32"), "flow": numpy.zeros((2, 4, 32, 32, 2), "float32")}
    y = keras.ops.convert_to_numpy(model(x, training=False))
    same_edges = list(assemblenet_edge_weights(model)) == edges(genome)
    print(keras.backend.backend(), y.shape, bool(numpy.isfinite(y).all()), same_edges)
"""
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("torch")]
    assert lines == ["torch (2, 6) True True"] * 2


def test_every_validating_genome_with_odd_strides_builds_at_odd_sizes():
    """Edge cases the random space never samples: strides 1-4 anywhere, single-input nodes, odd image sizes. What
    validates must build (the validator refuses stride mixes no pooling can join)."""
    import dataclasses

    rng = numpy.random.default_rng(7)
    space = AssembleNetSpace(nodes_per_level=(2, 2, 1, 1), initial_edge_probability=0.5)
    valid, refused = [], 0
    while len(valid) < 6:
        genome = space.sample(rng)
        nodes = [dataclasses.replace(node, spatial_stride=int(rng.integers(1, 5))) if hasattr(node, "spatial_stride")
                 else node for node in genome.nodes]
        try:
            valid.append(AssembleNetGenome(nodes=tuple(nodes), blocks_per_level=genome.blocks_per_level))
        except ValueError as error:
            assert "mixes spatial strides" in str(error)
            refused += 1
    assert refused > 0
    for index, genome in enumerate(valid):
        keras.backend.clear_session()
        size = (33, 50, 61)[index % 3]
        model = build_assemblenet(genome, num_classes=3, num_frames=2, image_size=size, width_multiplier=0.25)
        inputs = {"rgb": numpy.zeros((1, 2, size, size, 3), "float32"), "flow": numpy.zeros((1, 2, size, size, 2), "float32")}
        assert numpy.isfinite(keras.ops.convert_to_numpy(model(inputs, training=False))).all()
