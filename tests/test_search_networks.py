"""Genomes that build the same network on the same clips are trained once: TVN's network key, checked against the
built models, and the search loop that trains one of each."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import numpy
import pytest

from videonas import families, models
from videonas.genome.tvn import TVNSpace
from videonas.genome.tvn_genome import network_key
from videonas.search import run_search
from videonas.search.store import TrialResult

# One frame: a temporal layer is no layer, so genomes that differ only there build one network.
SPACE = {"image_sizes": [32], "frame_counts": [1], "frame_strides": [1], "min_blocks": 2, "max_blocks": 2,
         "filters": [16], "max_repeats": 1, "allow_non_local": False, "spatial_types": ["std"],
         "spatial_kernels": [3], "spatial_strides": [2], "temporal_kernels": [1, 3], "expands": [1],
         "squeeze_ratios": [0.0]}


def _layers(genome) -> list[tuple]:
    model = models.build_model(genome, num_classes=5)
    return [(layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())
            for layer in model.layers]


def test_genomes_with_one_network_key_build_the_same_model_and_others_do_not():
    space = TVNSpace(**{**SPACE, "temporal_types": ["1d", "maxpool", "avgpool"]})
    rng = numpy.random.default_rng(0)
    by_key = collections.defaultdict(set)
    for _ in range(60):
        genome = space.sample(rng)
        by_key[network_key(genome)].add(genome)
    shared = [sorted(group, key=lambda g: g.key) for group in by_key.values() if len(group) > 1]
    assert shared, "the space was chosen so that distinct genomes share networks"
    for group in shared[:3]:
        assert len({g.key for g in group}) == len(group)  # distinct genomes ...
        assert _layers(group[0]) == _layers(group[1])  # ... one network
    differing = [group.pop() for group in list(by_key.values())[:2]]
    assert _layers(differing[0]) != _layers(differing[1])
    assert families.get("tvn").network(differing[0]) == network_key(differing[0])


def count_calls(genome, *, seed, log: str):
    """A trial function that logs every genome it trains."""
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(genome.key) + "\n")
    return TrialResult(fitness=(int(genome.key, 16) % 100) / 100, params=1, metrics={"seed": seed})


def test_a_search_trains_each_network_once(tmp_path):
    log = tmp_path / "calls.log"
    experiment = run_search("networks", space={"family": "tvn", "options": {**SPACE, "temporal_types": ["1d"]}},
                            store=tmp_path / "s.sqlite", num_trials=10, batch_size=5, strategy="random",
                            evaluate={"function": "test_search_networks:count_calls", "options": {"log": str(log)}},
                            executor="inprocess", progress=False)
    trials = experiment.trials()
    keys = [network_key(experiment.genome(t)) for t in trials]
    trained = Path(log).read_text().splitlines()
    assert len(trained) == len(set(keys)) < len(trials)
    for trial, key in zip(trials, keys):
        source = trial.metrics.get("reused_from")
        if source is not None:
            assert keys[source] == key and trial.fitness == trials[source].fitness


@pytest.mark.parametrize("kernels", [[1], [3]])
def test_one_frame_ignores_the_temporal_kernel_but_two_frames_do_not(kernels):
    rng = numpy.random.default_rng(1)
    genome = TVNSpace(**{**SPACE, "temporal_kernels": kernels, "temporal_types": ["1d"]}).sample(rng)
    other = genome.__class__.from_dict({**genome.to_dict(), "blocks": [
        {**block, "temporal_kernel": 3 if block["temporal_kernel"] == 1 else 1} for block in genome.to_dict()["blocks"]]})
    assert network_key(genome) == network_key(other)
    two = genome.__class__.from_dict({**genome.to_dict(), "num_frames": 2})
    two_other = other.__class__.from_dict({**other.to_dict(), "num_frames": 2})
    assert network_key(two) != network_key(two_other)
