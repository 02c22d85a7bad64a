"""TVNGenome.shape_plan: the one frame/size/width arithmetic, checked against itself and against built models."""

from __future__ import annotations

import dataclasses

import numpy
import pytest

from videonas.genome import published
from videonas.genome.tvn import POOL_TYPES, SPATIAL_TYPES, TEMPORAL_TYPES, TVNBlock, TVNGenome, TVNSpace


def _random_genomes(count: int, space: TVNSpace, seed: int) -> list[TVNGenome]:
    rng = numpy.random.default_rng(seed)
    return [space.sample(rng) for _ in range(count)]


def test_the_plan_chains_blocks_and_repeats():
    """Each repeat reads what the previous one wrote, from the genome's input to the last block's output."""
    genomes = _random_genomes(100, TVNSpace(), 0) + _random_genomes(100, TVNSpace.paper(), 1)
    for genome in genomes:
        plan = genome.shape_plan()
        assert len(plan) == len(genome.blocks)
        shape = (genome.num_frames, genome.image_size, 3)
        for block, block_plan in zip(genome.blocks, plan):
            assert len(block_plan.repeats) == block.repeats
            assert (block_plan.in_frames, block_plan.in_size, block_plan.in_channels) == shape
            for step in block_plan.repeats:
                assert (step.in_frames, step.in_size, step.in_channels) == shape
                assert step.out_channels == block.filters * block.expand
                assert step.out_frames <= step.in_frames and step.out_size <= step.in_size
                assert not step.residual or step.out_frames == step.in_frames
                shape = (step.out_frames, step.out_size, step.out_channels)
            assert (block_plan.out_frames, block_plan.out_size, block_plan.out_channels) == shape
        assert genome.feature_sizes() == [(b.out_frames, b.out_size) for b in plan]


def test_later_repeats_keep_the_shape_and_alternate_the_temporal_layer():
    block = TVNBlock(spatial_stride=2, temporal_kernel=3, temporal_stride=2, filters=16, repeats=4, skip=True)
    genome = TVNGenome(image_size=32, num_frames=8, frame_stride=1, blocks=(block, TVNBlock(filters=8)))
    steps = genome.shape_plan()[0].repeats
    assert [(s.out_frames, s.out_size) for s in steps] == [(4, 16)] * 4
    assert [s.temporal_kernel for s in steps] == [3, None, 3, None]
    assert [s.spatial_stride for s in steps] == [2, 1, 1, 1]
    assert [s.residual for s in steps] == [False, True, True, True]  # the first halves the frames: no residual
    assert [s.spatial_channels for s in steps] == [16] * 4


def test_kernels_are_clipped_to_the_map_and_strides_to_the_frames():
    conv = TVNBlock(spatial_kernel=7, spatial_stride=4, temporal_kernel=8, temporal_stride=4, filters=8)
    pool = TVNBlock(spatial_type="maxpool", spatial_kernel=7, temporal_type="avgpool", temporal_kernel=8, filters=8)
    blocks = (conv, dataclasses.replace(conv, spatial_stride=2), dataclasses.replace(conv, spatial_stride=2),
              dataclasses.replace(conv, spatial_stride=1), pool)
    genome = TVNGenome(image_size=32, num_frames=2, frame_stride=1, blocks=blocks)
    steps = [block.repeats[0] for block in genome.shape_plan()]
    assert [s.in_size for s in steps] == [32, 8, 4, 2, 2]
    assert [s.spatial_kernel for s in steps] == [7, 7, 7, 3, 2]  # convs: at most 2n - 1 taps; pools: at most n
    assert [s.temporal_stride for s in steps] == [2, 1, 1, 1, 1]  # 2 frames: a stride of 4 clips to 2
    assert [s.temporal_kernel for s in steps] == [3, None, None, None, None]  # then one frame: no temporal layer
    assert steps[-1].spatial_channels == steps[-1].in_channels  # a pool keeps its input's width


def test_kernel_one_is_no_layer_and_ignores_its_stride():
    block = TVNBlock(spatial_kernel=1, spatial_stride=4, temporal_kernel=1, temporal_stride=4, filters=8)
    step = TVNGenome(image_size=32, num_frames=4, frame_stride=1, blocks=(block, block)).shape_plan()[0].repeats[0]
    assert (step.spatial_kernel, step.spatial_stride, step.temporal_kernel, step.temporal_stride) == (None, 1, None, 1)
    assert (step.out_frames, step.out_size, step.spatial_channels, step.temporal_channels) == (4, 32, 3, 3)


def test_width_multiplier_scales_filters_to_at_least_8():
    genome = published.load("TVN-1")
    half = genome.shape_plan(width_multiplier=0.5)
    for block, block_plan in zip(genome.blocks, half):
        assert block_plan.repeats[0].filters == max(8, round(block.filters * 0.5))
        assert block_plan.out_channels == block_plan.repeats[0].filters * block.expand
    assert {b.repeats[0].filters for b in genome.shape_plan(width_multiplier=0.01)} == {8}
    with pytest.raises(ValueError, match=r"width_multiplier must be in \[0.01, 100.0\], got 0"):
        genome.shape_plan(width_multiplier=0)


def test_an_infeasible_stride_is_refused_by_the_plan_and_the_genome():
    block = TVNBlock(spatial_kernel=3, spatial_stride=4, filters=8)
    genome = TVNGenome(image_size=32, num_frames=1, frame_stride=1, blocks=(block, block))
    with pytest.raises(ValueError, match=r"blocks\[2\] gets a 2x2 map, smaller than its spatial_stride 4"):
        dataclasses.replace(genome, blocks=(block,) * 4)
    assert genome.feature_sizes() == [(1, 8), (1, 2)]


def test_published_presets_plan_their_released_widths():
    for name in ("TVN-1", "TVN-2", "TVN-3", "TVN-4"):
        genome = published.load(name)
        plan = genome.shape_plan()
        assert [b.out_channels for b in plan] == [block.filters * block.expand for block in genome.blocks]
        assert plan[0].in_frames == genome.num_frames and plan[0].in_size == genome.image_size


def _plan_mismatches(model, genome: TVNGenome, width_multiplier: float) -> list[str]:
    """Every place where the built model's layers differ from ``genome.shape_plan``: shapes after each stage,
    kernels, strides and the residual, named by layer."""
    names = {layer.name for layer in model.layers}
    found: list[str] = []

    def expect(layer_name: str, what: str, actual, expected) -> None:
        if tuple(actual) != tuple(expected):
            found.append(f"{layer_name}.{what}: built {tuple(actual)}, planned {tuple(expected)}")

    def shape(layer_name: str, expected) -> None:
        expect(layer_name, "shape", model.get_layer(layer_name).output.shape[1:], expected)

    for index, (block, block_plan) in enumerate(zip(genome.blocks, genome.shape_plan(width_multiplier=width_multiplier))):
        for repeat, step in enumerate(block_plan.repeats):
            prefix = f"block{index}_{repeat}"
            size, frames = step.out_size, step.out_frames
            if step.spatial_kernel is None:
                expect(prefix, "spatial layers", sorted(n for n in names if n.startswith(f"{prefix}_spatial")), [])
            elif block.spatial_type in POOL_TYPES:
                layer = model.get_layer(f"{prefix}_spatial")
                expect(layer.name, "pool_size", layer.pool_size, (1, step.spatial_kernel, step.spatial_kernel))
                expect(layer.name, "strides", layer.strides, (1, step.spatial_stride, step.spatial_stride))
                shape(layer.name, (step.in_frames, size, size, step.spatial_channels))
            else:
                layer = model.get_layer(f"{prefix}_spatial_conv")
                kernel, stride = step.spatial_kernel, step.spatial_stride
                if block.spatial_type == "std":
                    expect(layer.name, "kernel_size", layer.kernel_size, (1, kernel, kernel))
                    expect(layer.name, "strides", layer.strides, (1, stride, stride))
                else:
                    expect(layer.name, "kernel_size, strides", (layer.kernel_size, layer.strides), (kernel, stride))
                shape(f"{prefix}_spatial_relu", (step.in_frames, size, size, step.spatial_channels))
            temporal = sorted(n for n in names if n.startswith(f"{prefix}_temporal"))
            if step.temporal_kernel is None:
                expect(prefix, "temporal layers", temporal, [])
            else:
                pool = block.temporal_type in POOL_TYPES
                layer = model.get_layer(f"{prefix}_temporal" if pool else f"{prefix}_temporal_conv")
                expect(layer.name, "kernel", layer.pool_size if pool else layer.kernel_size,
                       (step.temporal_kernel, 1, 1))
                expect(layer.name, "strides", layer.strides, (step.temporal_stride, 1, 1))
                shape(f"{prefix}_temporal" if pool else f"{prefix}_temporal_relu",
                      (frames, size, size, step.temporal_channels))
            expect(prefix, "residual", [f"{prefix}_residual" in names], [step.residual])
            if step.residual:
                layer = model.get_layer(f"{prefix}_projection_conv")
                expect(layer.name, "strides", layer.strides, (1, step.projection_stride, step.projection_stride))
            shape(f"{prefix}_out", (frames, size, size, step.out_channels))
    return found


def _covers_every_layer_kind(genomes: list[TVNGenome]) -> bool:
    plans = [(block, step) for genome in genomes for block, block_plan in zip(genome.blocks, genome.shape_plan())
             for step in block_plan.repeats]
    spatial = {block.spatial_type for block, step in plans if step.spatial_kernel is not None}
    temporal = {block.temporal_type for block, step in plans if step.temporal_kernel is not None}
    strided = any(step.projection_stride > 1 for _, step in plans if step.residual)
    return spatial == set(SPATIAL_TYPES) and temporal == set(TEMPORAL_TYPES) and strided


@pytest.mark.slow
def test_built_random_genomes_follow_their_plan():
    """Six random genomes at 32 px (a spatial and temporal layer of every kind among them, and a strided residual),
    built at two widths: every stage's output shape, kernel, stride and residual is the planned one."""
    import keras  # deferred: the plan tests above need no Keras

    from videonas.models.tvn import build_tvn

    space = TVNSpace(image_sizes=(32,), frame_counts=(2, 3, 4, 5), max_blocks=4, max_repeats=2,
                     filters=(8, 16), expands=(1, 2), allow_non_local=False)
    genomes = _random_genomes(6, space, 4)
    assert _covers_every_layer_kind(genomes)
    for genome, width_multiplier in zip(genomes, (1.0, 0.5) * 3):
        keras.backend.clear_session()
        model = build_tvn(genome, num_classes=3, width_multiplier=width_multiplier)
        assert _plan_mismatches(model, genome, width_multiplier) == [], genome.to_json()


@pytest.mark.slow
def test_built_published_presets_follow_their_plan():
    import keras  # deferred: the plan tests above need no Keras

    from videonas.models.tvn import build_tvn

    for name in ("TVN-1", "TVN-2", "TVN-3", "TVN-4"):
        keras.backend.clear_session()
        genome = published.load(name)
        model = build_tvn(genome, num_classes=3)
        assert _plan_mismatches(model, genome, 1.0) == [], name
