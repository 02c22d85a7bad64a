"""The closed TVN sub-space of the tabulated benchmark: size, stable index, one-choice mutation, and its selection
from a run configuration; the 'enumerate' strategy that proposes it in index order."""

from __future__ import annotations

import numpy
import pytest

from videonas.config import SearchConfig, SpaceConfig
from videonas.genome import tvn
from videonas.genome.tvn_genome import network_key
from videonas.genome.tvn import TVNTableSpace
from videonas.genome.tvn_table_space import NO_BLOCK
from videonas.search.loop import space_config, space_from_config
from videonas.search.strategies import make_strategy

TINY = {"frame_counts": [1, 2], "image_sizes": [32], "widths": [16], "block_types": ["spatial", "spatiotemporal"],
        "max_blocks": 2}


def test_the_default_menu_holds_hundreds_of_scene_only_and_motion_capable_networks():
    space = tvn.TVNSpace(table=True)
    genomes = space.genomes()
    assert isinstance(space, TVNTableSpace) and len(space) == len(genomes) == 448
    assert len({genome.key for genome in genomes}) == 448
    assert len({network_key(genome) for genome in genomes}) == 300  # distinct networks: what the build trains
    temporal = [any(step.temporal_kernel is not None for block in genome.shape_plan() for step in block.repeats)
                for genome in genomes]
    assert 0 < sum(temporal) < len(genomes)  # motion-capable (temporal layers over frames) and scene-only both
    assert {genome.num_frames for genome in genomes} == {1, 2, 4, 8}
    assert {len(genome.blocks) for genome in genomes} == {2, 3, 4}


def test_the_index_is_stable_and_round_trips():
    space = tvn.TVNSpace(table=True)
    for index in (0, 1, 37, 288, 447):
        genome = space.genome_at(index)
        assert space.index_of(genome) == index
        assert tvn.TVNSpace(table=True).genome_at(index) == genome  # a fresh space: same order
    # Pinned: the first choice (frames) varies fastest; a change of order would silently re-label a built table.
    assert space.choices_of(space.genome_at(0)) == {"num_frames": 1, "image_size": 32, "width": 8,
                                                    "block_1": "spatial", "block_2": "spatial", "block_3": NO_BLOCK,
                                                    "block_4": NO_BLOCK}
    assert space.choices_of(space.genome_at(1))["num_frames"] == 2
    assert space.choices_of(space.genome_at(4))["image_size"] == 40
    assert len(space.genome_at(447).blocks) == 4
    outside = tvn.TVNSpace().sample(numpy.random.default_rng(0))
    with pytest.raises(ValueError, match="not in the table space"):
        space.index_of(outside)
    with pytest.raises(ValueError, match="index"):
        space.genome_at(448)


@pytest.mark.parametrize("seed", range(5))
def test_mutation_changes_exactly_one_choice(seed):
    space = tvn.TVNSpace(table=True)
    rng = numpy.random.default_rng(seed)
    for _ in range(40):
        parent = space.sample(rng)
        child = space.mutate(parent, rng)
        before, after = space.choices_of(parent), space.choices_of(child)  # the child is in the space
        assert sum(before[name] != after[name] for name in before) == 1
    # frames, size, width, blocks 1 and 2, block 3 (block 4 only after a third block)
    assert len(space.neighbours(space.genome_at(0))) == 3 + 1 + 1 + 1 + 1 + 2
    twice = space.mutate(space.genome_at(0), numpy.random.default_rng(seed), num_changes=2)
    assert twice != space.genome_at(0) and space.index_of(twice) >= 0


def test_an_empty_block_is_never_followed_by_a_block():
    space = tvn.TVNSpace(table={"max_blocks": 4, "frame_counts": [1], "image_sizes": [48], "widths": [16],
                                "block_types": ["spatial"]})
    kinds = [[space.choices_of(g)[f"block_{i}"] for i in (1, 2, 3, 4)] for g in space.genomes()]
    assert kinds == [["spatial", "spatial", NO_BLOCK, NO_BLOCK], ["spatial", "spatial", "spatial", NO_BLOCK],
                     ["spatial"] * 4]


def test_a_run_configuration_selects_the_table_space_and_its_store_reopens_it():
    spec = {"family": "tvn", "options": {"table": TINY}}
    stored = SpaceConfig.from_value(spec)
    assert set(stored.options) == {"table"} and stored.options["table"]["frame_stride"] == 2  # defaults written out
    space = stored.build()
    assert isinstance(space, TVNTableSpace) and len(space) == 8
    again = space_from_config(space_config(space))  # what a store keeps, read back
    assert isinstance(again, TVNTableSpace) and again.genomes() == space.genomes()
    assert "table" not in tvn.TVNSpace().to_dict()  # stores of the ordinary space are unchanged
    with pytest.raises(ValueError, match="only 'table'"):
        tvn.TVNSpace(table=True, frame_counts=[1])
    with pytest.raises(ValueError, match="table has unknown keys"):
        SpaceConfig.from_value({"family": "tvn", "options": {"table": {"frame_count": [1]}}})
    with pytest.raises(ValueError, match="block_types"):
        tvn.TVNSpace(table={"block_types": ["conv"]})


def test_enumerate_proposes_every_genome_once_in_index_order():
    space = tvn.TVNSpace(table=TINY)
    strategy = make_strategy("enumerate", space, seed=3, batch_size=3)
    proposed = []
    while len(proposed) < len(space):
        batch = strategy.ask()
        assert batch == strategy.ask()  # same batch until told
        proposed += batch
        strategy.num_told += len(batch)
        strategy.round += 1
    assert proposed == space.genomes()
    with pytest.raises(ValueError, match="all 8 genomes"):
        strategy.propose()
    with pytest.raises(ValueError, match="enumerable space"):
        make_strategy("enumerate", tvn.TVNSpace(), seed=0)
    config = SearchConfig.from_dict({"name": "e", "store": "x.sqlite", "space": {"family": "tvn",
                                     "options": {"table": TINY}}, "strategy": "enumerate", "num_trials": 8})
    assert config.build_strategy().ask()[0] == space.genome_at(0)


def test_enumerate_with_indices_proposes_those_genomes_in_that_order():
    space = tvn.TVNSpace(table=TINY)
    strategy = make_strategy("enumerate", space, seed=7, batch_size=2, indices=[5, 0, 3])
    first = strategy.ask()
    strategy.num_told, strategy.round = 2, 1
    assert first + strategy.ask() == [space.genome_at(5), space.genome_at(0), space.genome_at(3)]
    strategy.num_told = 3
    with pytest.raises(ValueError, match="all 3 genomes"):
        strategy.propose()
    assert strategy.to_dict()["indices"] == [5, 0, 3] and "indices" not in make_strategy(
        "enumerate", space, seed=0).to_dict()  # the build's stored configuration is unchanged
    for bad, match in (([8], r"indices\[0\]"), ([1, 1], "repeat"), ([], "non-empty")):
        with pytest.raises(ValueError, match=match):
            make_strategy("enumerate", space, seed=0, indices=bad)


def test_spaces_of_one_menu_share_one_enumeration_and_neighbours_are_its_genomes():
    menu = {"frame_counts": [1, 4], "image_sizes": [32], "widths": [8]}
    first, second = tvn.TVNSpace(table=menu), tvn.TVNSpace(table=menu)
    assert len(first) == len(second) and first.genome_at(3) is second.genome_at(3)  # enumerated once per menu
    assert tvn.TVNSpace(table={**menu, "widths": [16]}).genome_at(3) != first.genome_at(3)
    for neighbour in first.neighbours(first.genome_at(3)):
        assert neighbour is first.genome_at(first.index_of(neighbour))  # looked up, not rebuilt
