"""TVN genome and search space: validation, JSON and published round-trips, sampling and mutation properties."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy
import pytest

import genome_sets

from videonas import genome as genome_registry
from videonas.genome import published
from videonas.genome.tvn import TVNBlock, TVNGenome, TVNSpace

PUBLISHED = ["TVN-1", "TVN-2", "TVN-3", "TVN-4"]


def _base_dict() -> dict:
    block = TVNBlock(spatial_stride=2, filters=16, expand=2).to_dict()
    return {"family": "tvn", "image_size": 32, "num_frames": 4, "frame_stride": 2, "blocks": [block, dict(block)]}


def _differences(parent: TVNGenome, child: TVNGenome) -> list[str]:
    """Field paths that differ between two genomes with the same number of blocks."""
    diff = [f for f in ("image_size", "num_frames", "frame_stride") if getattr(parent, f) != getattr(child, f)]
    for index, (a, b) in enumerate(zip(parent.blocks, child.blocks)):
        names = [f.name for f in dataclasses.fields(TVNBlock)]
        diff += [f"blocks[{index}].{name}" for name in names if getattr(a, name) != getattr(b, name)]
    return diff


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_specs_round_trip_exactly(name):
    spec = published.spec(name)
    pristine = copy.deepcopy(spec)
    genome = TVNGenome.from_published(spec)
    assert genome.to_published() == spec
    assert json.dumps(genome.to_published(), sort_keys=True) == json.dumps(spec, sort_keys=True)
    flags = [block[flag] for block in genome.to_published()["blocks"] for flag in ("skip", "context_gate", "non_local")]
    assert all(type(flag) is int for flag in flags)  # 0/1 as released, not True/False
    assert all(isinstance(block.skip, bool) for block in genome.blocks)  # canonical form uses real booleans
    assert TVNGenome.from_json(genome.to_json()) == genome
    assert published.load(name) == genome
    assert len(genome.blocks) == len(spec["blocks"])
    assert spec == pristine  # loading never edits the shared reference data


def test_published_block_counts_fit_the_genome_ranges():
    counts = {name: len(published.spec(name)["blocks"]) for name in PUBLISHED}
    assert counts == {"TVN-1": 4, "TVN-2": 7, "TVN-3": 4, "TVN-4": 3}


def test_random_genomes_and_mutants_validate_and_round_trip():
    space = TVNSpace()
    parents, children = zip(*genome_sets.tvn_pairs())
    allowed_filters = set(space.to_dict()["filters"])
    for genome in parents + children:
        genome.validate()
        space.check_cost(genome)
        again = TVNGenome.from_json(genome.to_json())
        assert again == genome and again.key == genome.key
        assert genome_registry.decode(genome.to_json()) == genome
        assert genome.image_size in (32, 48, 64) and genome.num_frames in (1, 2, 4, 8, 16)
        assert 2 <= len(genome.blocks) <= 6
        assert all(b.filters in allowed_filters and 1 <= b.repeats <= 3 for b in genome.blocks)
    for parent, child in zip(parents, children):
        assert child != parent and child.key != parent.key
        if len(child.blocks) == len(parent.blocks):
            assert len(_differences(parent, child)) == 1, "a mutation changes one field at a time"
        else:
            assert abs(len(child.blocks) - len(parent.blocks)) == 1
    assert len({g.key for g in parents}) > 190  # sampling explores; duplicates are rare
    assert any(len(c.blocks) != len(p.blocks) for p, c in zip(parents, children))  # add/remove happens


def test_same_seed_gives_same_sequence_and_other_seed_differs():
    def run(seed):
        space, rng = TVNSpace(), numpy.random.default_rng(seed)
        genomes = [space.sample(rng) for _ in range(20)]
        return [g.key for g in genomes] + [space.mutate(g, rng, num_changes=2).key for g in genomes]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_multiple_changes_and_published_parents_give_valid_different_children():
    space = TVNSpace()
    rng = numpy.random.default_rng(1)
    for name in PUBLISHED:
        parent = published.load(name)
        for num_changes in (1, 3):
            child = space.mutate(parent, rng, num_changes=num_changes)
            assert child != parent
            assert TVNGenome.from_json(child.to_json()) == child


def test_forced_frame_count_stays_fixed():
    space = TVNSpace(frame_counts=(16,))
    rng = numpy.random.default_rng(2)
    genomes = [space.sample(rng) for _ in range(30)]
    genomes += [space.mutate(g, rng) for g in genomes]
    assert {g.num_frames for g in genomes} == {16}


def test_paper_space_reaches_the_paper_ranges():
    space = TVNSpace.paper()
    options = space.to_dict()
    assert (min(options["image_sizes"]), max(options["image_sizes"])) == (32, 320)
    assert (min(options["frame_counts"]), max(options["frame_counts"])) == (1, 128)
    assert (options["min_blocks"], options["max_blocks"], options["max_repeats"]) == (2, 10, 8)
    rng = numpy.random.default_rng(5)
    genomes = [space.sample(rng) for _ in range(50)]
    assert max(len(g.blocks) for g in genomes) > 6  # beyond the CPU default
    assert max(g.image_size for g in genomes) > 64


def test_space_to_dict_rebuilds_the_same_space():
    options = TVNSpace(image_sizes=(64,), max_blocks=4, allow_non_local=False).to_dict()
    json.dumps(options)
    rebuilt = TVNSpace(**{k: v for k, v in options.items() if k != "family"})
    assert rebuilt.to_dict() == options
    rng = numpy.random.default_rng(0)
    assert not any(b.non_local for _ in range(30) for b in rebuilt.sample(rng).blocks)


def test_non_local_cap_refuses_large_attention_maps():
    block = TVNBlock(non_local=True)
    genome = TVNGenome(image_size=64, num_frames=4, frame_stride=1, blocks=(block, block))
    with pytest.raises(ValueError, match=r"blocks\[0\]\.non_local .*4x64x64"):
        TVNSpace().check_cost(genome)
    TVNSpace(max_non_local_positions=None).check_cost(genome)


def test_frame_rate_helpers():
    genome = TVNGenome.from_dict(_base_dict())
    assert genome.frame_rate(25.0) == pytest.approx(12.5)
    assert genome.clip_seconds(25.0) == pytest.approx(4 * 2 / 25.0)
    assert TVNGenome.stride_for_fps(5, 25) == 5
    assert TVNGenome.stride_for_fps(25, 25) == 1
    assert TVNGenome.stride_for_fps(1, 25) == 25
    with pytest.raises(ValueError, match="fps"):
        TVNGenome.stride_for_fps(0, 25)


def _set(path: str, value):
    def edit(data):
        if path.startswith("blocks"):
            index, field = int(path[7]), path.split(".")[1]
            data["blocks"][index][field] = value
        else:
            data[path] = value
        return data

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (_set("image_size", 16), r"image_size must be in \[32, 320\], got 16"),
        (_set("image_size", "64"), "image_size must be int"),
        (_set("num_frames", 0), "num_frames"),
        (_set("num_frames", 1025), r"num_frames must be in \[1, 1024\], got 1025"),
        (_set("frame_stride", 0), "frame_stride"),
        (_set("blocks[1].spatial_stride", 9), r"blocks\[1\]\.spatial_stride must be in \[1, 4\], got 9"),
        (_set("blocks[0].spatial_type", "conv3d"), r"blocks\[0\]\.spatial_type must be one of"),
        (_set("blocks[1].temporal_type", "3d"), r"blocks\[1\]\.temporal_type"),
        (_set("blocks[0].temporal_kernel", 9), r"blocks\[0\]\.temporal_kernel"),
        (_set("blocks[0].squeeze", 1.0), r"blocks\[0\]\.squeeze must be in \[0, 1\)"),
        (_set("blocks[0].squeeze", -0.1), r"blocks\[0\]\.squeeze"),
        (_set("blocks[0].skip", 1), r"blocks\[0\]\.skip must be bool"),
        (_set("blocks[1].filters", 32.0), r"blocks\[1\]\.filters must be int"),
        (_set("blocks[1].filters", 4096), r"blocks\[1\]\.filters"),
        (_set("blocks[0].repeats", True), r"blocks\[0\]\.repeats"),
        (_set("blocks[0].expand", 0), r"blocks\[0\]\.expand"),
        (lambda d: {**d, "blocks": d["blocks"] * 6}, "blocks must have between 2 and 10 entries, got 12"),
        (lambda d: {**d, "blocks": d["blocks"][:1]}, "blocks must have between 2 and 10 entries, got 1"),
        (lambda d: {**d, "blocks": "none"}, "blocks must be a list"),
        (lambda d: {**d, "family": "evanet"}, "family must be 'tvn'"),
        (lambda d: {**d, "fps": 25}, "unknown keys"),
        (lambda d: {k: v for k, v in d.items() if k != "num_frames"}, "missing"),
        (lambda d: {**d, "blocks": [{**d["blocks"][0], "dilation": 2}, d["blocks"][1]]}, r"blocks\[0\] has unknown"),
        (_set("blocks[1].spatial_stride", 4), None),  # 32 -> 16 -> 4: still feasible
    ],
)
def test_invalid_genomes_name_the_field(edit, message):
    data = edit(_base_dict())
    if message is None:
        TVNGenome.from_dict(data)
        return
    with pytest.raises(ValueError, match=message):
        TVNGenome.from_dict(data)


def test_strides_too_large_for_the_image_name_the_block():
    block = TVNBlock(spatial_stride=4)
    blocks = (block, block, block)  # 32 -> 8 -> 2, then a stride of 4 on a 2x2 map
    with pytest.raises(ValueError, match=r"image_size too small for the strides: blocks\[2\] gets a 2x2 map"):
        TVNGenome(image_size=32, num_frames=2, frame_stride=1, blocks=blocks)
    assert TVNGenome(image_size=64, num_frames=2, frame_stride=1, blocks=blocks).feature_sizes()[-1] == (2, 1)


def test_published_spec_with_non_boolean_flags_is_refused():
    spec = copy.deepcopy(published.spec("TVN-1"))  # spec() shares its lists with the cached reference data
    spec["blocks"][0]["non_local"] = 32  # the released docs allow a width here; we do not
    with pytest.raises(ValueError, match=r"blocks\[0\]\.non_local must be one of \[0, 1\], got 32"):
        TVNGenome.from_published(spec)


def test_invalid_space_options_name_the_option():
    with pytest.raises(ValueError, match=r"image_sizes\[0\]"):
        TVNSpace(image_sizes=(16,))
    with pytest.raises(ValueError, match="frame_counts must be a non-empty sequence"):
        TVNSpace(frame_counts=())
    with pytest.raises(ValueError, match="max_blocks"):
        TVNSpace(min_blocks=5, max_blocks=3)
    with pytest.raises(ValueError, match=r"squeeze_ratios\[1\]"):
        TVNSpace(squeeze_ratios=(0.0, 1.0))
    with pytest.raises(ValueError, match="genome must be TVNGenome"):
        TVNSpace().mutate(published.load("EvaNet-A"), numpy.random.default_rng(0))
