from __future__ import annotations

import numpy
import pytest

from videonas.genome.assemblenet import AssembleNetSpace, edges
from videonas.plots.assemblenet import draw_assemblenet, edge_alphas


def _genome(seed: int = 0):
    return AssembleNetSpace().sample(numpy.random.default_rng(seed))


def test_one_line_per_edge() -> None:
    genome = _genome()
    figure = draw_assemblenet(genome)
    drawn = [line.get_gid() for line in figure.axes[0].lines if (line.get_gid() or "").startswith("edge:")]
    assert sorted(drawn) == sorted(f"edge:{s}->{d}" for s, d in edges(genome))


def test_alpha_monotone_in_weight() -> None:
    genome = _genome(1)
    connections = edges(genome)
    weights = {edge: float(i) / len(connections) for i, edge in enumerate(connections)}
    alphas = edge_alphas(genome, weights)
    ordered = [alphas[edge] for edge in connections]
    assert all(a < b for a, b in zip(ordered, ordered[1:]))
    assert set(edge_alphas(genome).values()) == {0.6}


def test_missing_weight_raises() -> None:
    genome = _genome(2)
    with pytest.raises(ValueError, match="edge_weights"):
        edge_alphas(genome, {edges(genome)[0]: 0.5})
