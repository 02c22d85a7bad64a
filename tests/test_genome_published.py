"""The published architectures load from the package's own copy of the reference data and round-trip exactly."""

from __future__ import annotations

import json

import pytest

from videonas import families, genome
from videonas.genome import published


def test_names_cover_every_published_architecture():
    assert published.names() == [
        "TVN-1", "TVN-2", "TVN-3", "TVN-4", "AssembleNet-50", "AssembleNet-101", "EvaNet-A", "EvaNet-B",
    ]


@pytest.mark.parametrize("name", published.names())
def test_published_genome_round_trips_to_the_released_spec(name):
    loaded = published.load(name)
    assert loaded.FAMILY == families.of(name).name == families.of(name.lower()).name
    assert loaded.to_published() == published.spec(name)
    assert genome.decode(loaded.to_json()) == loaded


def test_lookup_is_case_insensitive_and_unknown_names_are_refused():
    assert published.load("tvn-1") == published.load("TVN-1")
    with pytest.raises(ValueError, match="got 'TVN-9'"):
        published.load("TVN-9")
    with pytest.raises(ValueError, match="got 'ResNet-50'"):
        published.load("ResNet-50")
    assert published.spec("evanet-a") == published.spec("EvaNet-A")


def test_the_published_facts_are_the_families():
    assert families.of("TVN-2").released_classes == 157 and families.of("assemblenet-50").released_classes == 400
    assert published.names() == [spec for family in families.registered().values()
                                 for spec, _ in family.presets.values()]


def test_the_package_copy_is_what_the_code_reads():
    """Nothing reads ../shared at run time: the data comes from videonas/resources."""
    assert "tvn" in published.reference() and "_about" in published.reference()
    assert json.loads(json.dumps(published.reference())) == published.reference()


def test_decode_names_the_family_field():
    with pytest.raises(ValueError, match="family must be one of .* got 'resnet'"):
        genome.decode({"family": "resnet"})
    with pytest.raises(ValueError, match="genome must be a JSON object"):
        genome.decode("[1, 2]")


def test_released_connection_weights_cover_the_multi_input_edges():
    weights = published.edge_weights("assemblenet-50")
    loaded = published.load("AssembleNet-50")
    multi = [(s, t) for t, node in enumerate(loaded.nodes) if len(getattr(node, "inputs", ())) > 1 for s in node.inputs]
    assert list(weights) == multi and all(0.0 < w < 1.0 for w in weights.values())
    assert weights[(0, 6)] == 0.13810564577579498 and weights[(13, 14)] == 0.8454614877700806  # the release's values
    assert published.edge_weights("AssembleNet-101") == weights  # one released list for the shared graph
    with pytest.raises(ValueError, match="released with connection weights, got 'EvaNet-A'"):
        published.edge_weights("EvaNet-A")


def test_released_counts_name_their_source_and_input():
    counts = published.released_counts("tvn-1")
    assert counts["input"] == [2, 224] and counts["source"]["repository"] == "google-research/google-research"
    assert published.released_counts("AssembleNet-101")["source"]["repository"] == "tensorflow/models"
