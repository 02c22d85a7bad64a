"""Genome input is bounded before any family decodes it, and error messages quote only a short prefix of a value."""

from __future__ import annotations

import dataclasses
import json

import numpy
import pytest

from videonas import families
from videonas.genome import decode, published, tvn
from videonas.checks import check_choice, check_float, check_int, check_keys, check_type, quote
from videonas.genome.base import MAX_GENOME_VALUES
from videonas.genome.tvn import TVNGenome

SHORT = 400  # characters: any message about a huge value must stay this short


def test_a_genome_nested_100000_levels_deep_is_refused_without_recursion_error():
    text = "[" * 100_000 + "]" * 100_000
    for loader in (decode, TVNGenome.from_json):
        with pytest.raises(ValueError, match="nested deeper than 16 levels") as error:
            loader(text)
        assert len(str(error.value)) < SHORT
    nested = {"family": "tvn"}
    for _ in range(100_000):  # already decoded data (a notebook's dict) is walked without recursion too
        nested = {"blocks": [nested]}
    with pytest.raises(ValueError, match="nested deeper than 16 levels"):
        decode(nested)


def test_a_genome_with_a_million_blocks_is_refused_before_validation():
    data = published.load("TVN-1").to_dict()
    data["blocks"] = data["blocks"] * 1_000_000
    with pytest.raises(ValueError, match=f"holds more than {MAX_GENOME_VALUES} values") as error:
        decode(data)
    assert len(str(error.value)) < SHORT
    block = json.dumps(data["blocks"][0])
    text = '{"family": "tvn", "blocks": [' + ", ".join([block] * (1_000_000 // len(block) + 1)) + "]}"
    with pytest.raises(ValueError, match="characters long, more than the limit 1000000") as error:
        TVNGenome.from_json(text)
    assert len(str(error.value)) < SHORT
    with pytest.raises(ValueError, match=f"holds more than {MAX_GENOME_VALUES} values"):
        TVNGenome.from_json(json.dumps({**data, "blocks": [0] * 30_000}))


def test_huge_strings_and_bad_json_get_short_messages():
    with pytest.raises(ValueError, match="a string of 2000000 characters") as error:
        decode({"family": "x" * 2_000_000})
    assert len(str(error.value)) < SHORT
    with pytest.raises(ValueError, match="not valid JSON"):
        decode('{"family": "tvn",')
    with pytest.raises(ValueError, match="must be JSON text"):
        TVNGenome.from_json(12)


def test_every_published_genome_is_within_the_bounds():
    for name in published.names():
        genome = published.load(name)
        assert decode(genome.to_json()) == genome
        assert families.get(genome.FAMILY).genome_type.from_json(genome.to_json()) == genome


def test_check_helpers_quote_a_short_prefix_of_a_huge_value():
    huge = list(range(10**7))
    for check in (lambda: check_type("blocks", huge, dict), lambda: check_int("width", huge, 1, 8),
                  lambda: check_float("rate", huge, 0.0, 1.0), lambda: check_choice("kind", huge, ["a", "b"]),
                  lambda: check_keys("genome", huge, ["family"]),
                  lambda: check_keys("genome", {str(i): i for i in range(10**5)}, [])):
        with pytest.raises(ValueError) as error:
            check()
        assert len(str(error.value)) < SHORT, str(error.value)[:SHORT]
    with pytest.raises(ValueError, match=r"blocks must be dict, got \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, \.\.\.\] "
                                         r"\(list\)"):
        check_type("blocks", huge, dict)


def test_short_values_are_quoted_exactly_as_repr():
    for value in ("conv", 3, 0.30000000000000004, [1, 2], {"a": (1, 2)}, None, True):
        assert quote(value) == repr(value)
    with pytest.raises(ValueError, match=r"width must be in \[1, 8\], got 9$"):
        check_int("width", 9, 1, 8)
    assert len(quote("x" * 10**7)) < 200


def test_equal_json_decodes_to_one_frozen_genome_whose_key_is_kept():
    genome = tvn.TVNSpace().sample(numpy.random.default_rng(0))
    text = genome.to_json()
    again = TVNGenome.from_json(text)
    assert again == genome and TVNGenome.from_json(text) is again and again.key == genome.key
    assert "_canonical_json" not in {field.name for field in dataclasses.fields(again)}  # a cache, not a field
    assert dataclasses.replace(again, num_frames=again.num_frames + 1).key != again.key  # a new genome, a new key
