"""EvaNet genome, search space, distance and diverse selection (pure Python, no Keras)."""

from __future__ import annotations

import copy
import dataclasses
import itertools

import numpy
import pytest

import genome_sets

from videonas import genome as genome_registry
from videonas.genome import published
from videonas.genome.evanet import (
    Block,
    Branch,
    EvaNetGenome,
    EvaNetSpace,
    Stem,
    branch_signature,
    distance,
    select_diverse,
)


@pytest.fixture(scope="module")
def mutants() -> list[tuple[EvaNetGenome, EvaNetGenome]]:
    return genome_sets.evanet_pairs()


@pytest.fixture(scope="module")
def samples(mutants) -> list[EvaNetGenome]:
    return [parent for parent, _ in mutants]


@pytest.mark.parametrize("name", ["EvaNet-A", "EvaNet-B"])
def test_published_round_trips_exactly(name):
    spec = published.spec(name)
    genome = EvaNetGenome.from_published(published.reference()["evanet"][name])
    assert genome.to_published() == spec
    assert published.load(name) == genome
    assert genome_registry.decode(genome.to_json()) == genome
    assert genome.to_dict()["family"] == "evanet"
    assert [block.repeats for block in genome.blocks] == [block["repeats"] for block in spec["blocks"]]


def test_published_nets_differ_and_have_distinct_keys():
    a, b = published.load("EvaNet-A"), published.load("EvaNet-B")
    assert a.key != b.key
    assert distance(a, b) == distance(b, a) > 0


def test_random_genomes_validate_and_round_trip_json(samples):
    for genome in samples:
        genome.validate()
        again = EvaNetGenome.from_json(genome.to_json())
        assert again == genome
        assert again.key == genome.key
        assert genome_registry.decode(genome.to_dict()) == genome
    assert len({genome.key for genome in samples}) > 190


def test_samples_stay_inside_a_restricted_space():
    space = EvaNetSpace(temporal_sizes=(1, 3), conv_types=("3d",), branch_kinds=("conv", "single"),
                        max_branches=2, max_repeats=2)
    rng = numpy.random.default_rng(3)
    genome = space.sample(rng)
    for _ in range(100):
        genome = space.mutate(genome, rng, num_changes=2)
        assert genome.stem.conv == "3d" and genome.stem.time in (1, 3)
        for block in genome.blocks:
            assert 1 <= block.repeats <= 2 and 1 <= len(block.layers) <= 2
            for branch in block.layers:
                assert branch.layer in ("conv", "single")
                assert branch.conv in (None, "3d") and branch.time in (None, 1, 3)


def test_same_seed_gives_same_sequence():
    def run(seed: int) -> list[str]:
        space = EvaNetSpace.paper()
        rng = numpy.random.default_rng(seed)
        genome = space.sample(rng)
        keys = [genome.key]
        for step in range(20):
            genome = space.mutate(genome, rng, num_changes=1 + step % 3)
            keys.append(genome.key)
        return keys

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_mutants_are_valid_different_and_one_step_away(mutants):
    for parent, child in mutants:
        child.validate()
        assert child != parent and child.key != parent.key
        assert EvaNetGenome.from_json(child.to_json()) == child
        assert distance(parent, child) == 1


def test_more_changes_move_farther(samples):
    space = EvaNetSpace()
    rng = numpy.random.default_rng(2)
    near = [distance(g, space.mutate(g, rng, num_changes=1)) for g in samples]
    far = [distance(g, space.mutate(g, rng, num_changes=5)) for g in samples]
    assert max(far) <= 5
    assert numpy.mean(far) > numpy.mean(near) + 2


def test_published_parents_mutate_with_ignored_edge_weights():
    space = EvaNetSpace()
    rng = numpy.random.default_rng(4)
    parent = published.load("EvaNet-B")
    child = space.mutate(parent, rng, num_changes=3, edge_weights={(0, 1): 0.5})
    assert child != parent and 1 <= distance(parent, child) <= 3


def test_space_options_and_paper_ranges():
    paper = EvaNetSpace.paper()
    assert paper.max_branches == 6 and paper.max_repeats == 6
    assert EvaNetSpace().to_dict()["max_branches"] == 5
    assert genome_registry.search_space("evanet", max_repeats=2).max_repeats == 2
    with pytest.raises(ValueError, match="conv_types"):
        EvaNetSpace(conv_types=("4d",))
    with pytest.raises(ValueError, match="max_repeats"):
        EvaNetSpace(min_repeats=3, max_repeats=2)
    with pytest.raises(ValueError, match="temporal_sizes"):
        EvaNetSpace(temporal_sizes=())
    with pytest.raises(ValueError, match="num_changes"):
        EvaNetSpace().mutate(published.load("EvaNet-A"), numpy.random.default_rng(0), num_changes=0)


def _edited(edit) -> dict:
    spec = copy.deepcopy(published.spec("EvaNet-A"))
    edit(spec)
    return spec


INVALID = [
    ("stem.conv", lambda s: s["stem"].update(conv="4d")),
    (r"blocks\[1\].layers\[4\].conv", lambda s: s["blocks"][1]["layers"][4].update(conv="conv5d")),
    (r"blocks\[1\].layers\[3\].time must be one of \[1, 3, 5, 7, 9, 11\], got 4",
     lambda s: s["blocks"][1]["layers"].__setitem__(3, {"layer": "maxpoolconv", "time": 4})),
    ("max_pool4_time", lambda s: s.update(max_pool4_time=4)),
    (r"blocks\[2\].layers must hold 1 to 6", lambda s: s["blocks"][2].update(layers=[])),
    (r"blocks\[0\].layers must hold 1 to 6", lambda s: s["blocks"][0].update(layers=[{"layer": "single"}] * 7)),
    ("blocks must hold exactly 4", lambda s: s["blocks"].pop()),
    ("blocks must hold exactly 4", lambda s: s["blocks"].append(s["blocks"][0])),
    (r"blocks\[0\].repeats", lambda s: s["blocks"][0].update(repeats="2")),
    (r"blocks\[0\].repeats", lambda s: s["blocks"][0].update(repeats=True)),
    (r"blocks\[0\].repeats", lambda s: s["blocks"][0].update(repeats=0)),
    (r"blocks\[3\].layers\[1\].time", lambda s: s["blocks"][3]["layers"][1].update(time=3.0)),
    (r"blocks\[1\].layers\[1\]", lambda s: s["blocks"][1]["layers"][1].update(conv="3d")),
    (r"blocks\[0\].layers\[0\].layer", lambda s: s["blocks"][0]["layers"][0].update(layer="avgpool")),
    (r"blocks\[0\].layers\[0\] is missing", lambda s: s["blocks"][0]["layers"][0].pop("time")),
    ("genome has unknown keys", lambda s: s.update(max_pool2_time=1)),
    ("genome is missing", lambda s: s.pop("stem")),
    ("blocks must be", lambda s: s.update(blocks="four")),
]


@pytest.mark.parametrize("match, edit", INVALID)
def test_invalid_published_specs_name_the_field(match, edit):
    with pytest.raises(ValueError, match=match):
        EvaNetGenome.from_published(_edited(edit))


def test_invalid_dataclasses_and_dicts_name_the_field():
    genome = published.load("EvaNet-A")
    with pytest.raises(ValueError, match="stem.time"):
        dataclasses.replace(genome, stem=Stem(conv="3d", time=2))
    with pytest.raises(ValueError, match=r"blocks\[0\]"):
        dataclasses.replace(genome, blocks=("block",) + genome.blocks[1:])
    with pytest.raises(ValueError, match=r"layers\[0\].time2"):
        bad = Block(repeats=1, layers=(Branch(layer="conv", conv="3d", time=3, time2=3),))
        dataclasses.replace(genome, blocks=(bad,) + genome.blocks[1:])
    with pytest.raises(ValueError, match="family"):
        EvaNetGenome.from_dict({**genome.to_dict(), "family": "tvn"})


def test_distance_is_a_metric_ignoring_branch_order(samples):
    for a, b, c in itertools.islice(itertools.combinations(samples[:12], 3), 200):
        assert distance(a, a) == 0
        assert distance(a, b) == distance(b, a)
        assert distance(a, c) <= distance(a, b) + distance(b, c)
    genome = samples[0]
    shuffled = dataclasses.replace(
        genome, blocks=tuple(Block(b.repeats, tuple(reversed(b.layers))) for b in genome.blocks)
    )
    assert distance(genome, shuffled) == 0
    assert branch_signature(Branch("conv2", "itgm", 1, "2plus1d", 9)) == "conv2:itgm:1:2plus1d:9"
    assert branch_signature(Branch("single")) == "single"


def test_select_diverse_keeps_distance_when_possible(samples):
    space = EvaNetSpace()
    rng = numpy.random.default_rng(7)
    best = samples[0]
    close = space.mutate(best, rng)
    ranked = [best, close, space.mutate(close, rng), *samples[1:20]]
    chosen = select_diverse(ranked, 4, min_distance=3)
    assert len(chosen) == 4 and chosen[0] == best and close not in chosen
    for a, b in itertools.combinations(chosen, 2):
        assert distance(a, b) >= 3
    assert chosen == [g for g in ranked if g in chosen]


def test_select_diverse_fills_up_when_too_few_are_far_apart():
    space = EvaNetSpace()
    rng = numpy.random.default_rng(8)
    base = space.sample(rng)
    ranked = [base, base, space.mutate(base, rng), space.mutate(base, rng)]
    chosen = select_diverse(ranked, 3, min_distance=50)
    assert len(chosen) == 3 and chosen[0] == base
    assert len({g.key for g in chosen}) == 3
    assert select_diverse(ranked, 10, min_distance=0) == ranked
    with pytest.raises(ValueError, match="k"):
        select_diverse(ranked, 0, min_distance=1)
