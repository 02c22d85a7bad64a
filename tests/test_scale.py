from __future__ import annotations

import math

import numpy
import pytest

from videonas.genome.published import load
from videonas.genome.tvn import TVNBlock, TVNGenome, TVNSpace
from videonas.scale import (compound, factor_limit, flops_factor, match_factor, round_filters, scale_tvn,
                            scaling_variants)


def small_genome() -> TVNGenome:
    return TVNGenome(
        image_size=64,
        num_frames=4,
        frame_stride=2,
        blocks=(
            TVNBlock(filters=16, repeats=1, spatial_stride=2, squeeze=0.25),
            TVNBlock(filters=32, repeats=2, expand=2, context_gate=True),
            TVNBlock(filters=48, repeats=3, spatial_stride=2, skip=True),
        ),
    )


def test_compound_zero_is_identity() -> None:
    assert compound(0) == {"depth": 1.0, "width": 1.0, "resolution": 1.0}
    genome = small_genome()
    assert scale_tvn(genome, **compound(0)) == genome


def test_compound_uses_efficientnet_coefficients() -> None:
    factors = compound(2)
    assert factors["depth"] == pytest.approx(1.2**2)
    assert factors["width"] == pytest.approx(1.1**2)
    assert factors["resolution"] == pytest.approx(1.15**2)
    assert flops_factor(**compound(1)) == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    assert compound(1, alpha=2.0)["depth"] == 2.0


def test_width_two_doubles_every_block() -> None:
    genome = small_genome()
    wide = scale_tvn(genome, width=2.0)
    assert [b.filters for b in wide.blocks] == [2 * b.filters for b in genome.blocks]
    assert [b.repeats for b in wide.blocks] == [b.repeats for b in genome.blocks]
    assert wide.image_size == genome.image_size


def test_width_rounds_to_multiples_of_eight() -> None:
    wide = scale_tvn(small_genome(), width=1.3)
    # 16, 32, 48 x 1.3 = 20.8, 41.6, 62.4 -> nearest multiples of 8
    assert [b.filters for b in wide.blocks] == [24, 40, 64]
    assert round_filters(16, 0.1) == 8  # never below 8
    assert round_filters(348, 1.0) == 348  # identity keeps released odd widths


def test_depth_scales_repeats_up_and_clips() -> None:
    genome = small_genome()
    deep = scale_tvn(genome, depth=1.5)
    assert [b.repeats for b in deep.blocks] == [math.ceil(b.repeats * 1.5) for b in genome.blocks] == [2, 3, 5]
    assert [b.repeats for b in scale_tvn(genome, depth=10.0).blocks] == [8, 8, 8]
    assert [b.repeats for b in scale_tvn(genome, depth=0.2).blocks] == [1, 1, 1]


def test_resolution_scales_and_clips_image_size() -> None:
    genome = small_genome()
    assert scale_tvn(genome, resolution=1.5).image_size == 96
    assert scale_tvn(genome, resolution=100.0).image_size == 320
    assert scale_tvn(genome, resolution=0.1).image_size == 32
    assert scale_tvn(genome, resolution=1.5).num_frames == genome.num_frames


def test_scaled_published_genomes_validate() -> None:
    for name in ("TVN-1", "TVN-2", "TVN-3", "TVN-4"):
        genome = load(name)
        scaled = scale_tvn(genome, **compound(3))
        scaled.validate()
        assert TVNGenome.from_json(scaled.to_json()) == scaled
        assert scaled.image_size >= genome.image_size


def test_random_genomes_scale_to_valid_genomes() -> None:
    space, rng = TVNSpace(), numpy.random.default_rng(0)
    for _ in range(20):
        genome = space.sample(rng)
        factors = dict(zip(("resolution", "width", "depth"), rng.uniform(1.0, 3.0, 3).tolist()))
        scaled = scale_tvn(genome, **factors)
        scaled.validate()
        assert all(a.filters >= b.filters for a, b in zip(scaled.blocks, genome.blocks))


def test_scaling_variants_match_flops_and_differ_in_one_dimension() -> None:
    genome = small_genome()
    variants = scaling_variants(genome, phi=1.0)
    assert list(variants) == ["base", "resolution", "width", "depth", "compound"]
    assert variants["base"][1] == genome
    growth = flops_factor(**compound(1.0))
    for label in ("resolution", "width", "depth", "compound"):
        assert flops_factor(**variants[label][0]) == pytest.approx(growth)
    assert variants["width"][1].image_size == genome.image_size
    assert variants["resolution"][1].blocks == genome.blocks
    assert variants["compound"][1] == scale_tvn(genome, **compound(1.0))


@pytest.mark.parametrize("field, value", [("width", 0.0), ("depth", -1.0), ("resolution", float("nan"))])
def test_bad_factors_raise(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        scale_tvn(small_genome(), **{field: value})


def test_non_tvn_genome_raises() -> None:
    with pytest.raises(ValueError, match="genome"):
        scale_tvn(load("EvaNet-A"), width=2.0)


def analytic_flops(genome: TVNGenome) -> float:
    return genome.image_size ** 2 * sum(b.filters ** 2 * b.repeats for b in genome.blocks)


@pytest.mark.parametrize("dimension", ["resolution", "width", "depth"])
def test_match_factor_finds_the_closest_genome_by_counted_flops(dimension: str) -> None:
    genome = small_genome()
    target = 2.5 * analytic_flops(genome)
    factor, scaled, flops = match_factor(genome, dimension, target_flops=target, flops=analytic_flops)
    assert scaled == scale_tvn(genome, **{dimension: factor}) and flops == analytic_flops(scaled)
    others = [scale_tvn(genome, **{dimension: f}) for f in numpy.linspace(1.0, 4.0, 301)]
    best = min(abs(math.log(analytic_flops(g) / target)) for g in others)
    assert abs(math.log(flops / target)) <= best + 1e-12  # no factor on a fine grid comes closer


def test_match_factor_counts_each_genome_once_and_stops_at_the_range() -> None:
    genome, counted = small_genome(), []

    def counting(scaled: TVNGenome) -> float:
        counted.append(scaled.key)
        return analytic_flops(scaled)

    factor, scaled, _ = match_factor(genome, "depth", target_flops=1e12, flops=counting)
    assert len(counted) == len(set(counted)) and factor == pytest.approx(factor_limit(genome, "depth"))
    assert [b.repeats for b in scaled.blocks] == [8, 8, 8]
    assert match_factor(genome, "width", target_flops=1.0, flops=analytic_flops)[0] == 1.0
    with pytest.raises(ValueError, match="dimension"):
        match_factor(genome, "frames", target_flops=10.0, flops=analytic_flops)
