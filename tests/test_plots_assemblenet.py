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


def test_alphas_stay_in_the_unit_interval_for_learned_weights() -> None:
    """Min-max rescaling can round the strongest edge to just above 1, which matplotlib refuses."""
    genome = _genome(3)
    rng = numpy.random.default_rng(0)
    for _ in range(50):
        weights = {edge: float(rng.uniform(0.3, 0.7)) for edge in edges(genome)}
        alphas = edge_alphas(genome, weights)
        assert all(0.0 <= alpha <= 1.0 for alpha in alphas.values())
        assert max(alphas.values()) == pytest.approx(1.0)
    draw_assemblenet(genome, edge_weights=weights)


def test_panels_side_by_side_with_a_legend_for_the_edge_shade() -> None:
    import matplotlib.pyplot as plt

    from videonas.plots.assemblenet import EDGE_SHADE_NOTE, draw_assemblenets

    panels = [{"genome": _genome(seed), "title": f"graph {seed}",
               "edge_weights": {edge: i / 10 for i, edge in enumerate(edges(_genome(seed)))}} for seed in (0, 1)]
    figure = draw_assemblenets(panels)
    assert [ax.get_title() for ax in figure.axes] == ["graph 0", "graph 1"]
    legend = figure.legends[0]
    assert legend.get_title().get_text() == EDGE_SHADE_NOTE
    assert [text.get_text() for text in legend.get_texts()][:2] == ["weakest connection of the graph",
                                                                   "strongest connection of the graph"]
    plt.close(figure)
    with pytest.raises(ValueError, match="at least one"):
        draw_assemblenets([])


def test_search_figure_labels_the_curves_with_the_metric() -> None:
    import matplotlib.pyplot as plt

    from videonas.experiments import claims
    from videonas.plots.assemblenet import search_figure

    verdict = claims.ask("assemblenet_guided_vs_unguided", a={s: 0.5 + s / 100 for s in range(6)},
                         b={s: 0.5 for s in range(6)})
    figure = search_figure({"guided": [[0.3, 0.4]], "unguided": [[0.3, 0.35]]}, [verdict], metric="mAP")
    curves_ax, verdicts_ax = figure.axes
    assert curves_ax.get_ylabel() == "best validation mAP so far"
    assert curves_ax.get_title() == "AssembleNet four-stream search"
    assert len(verdicts_ax.get_yticklabels()) == 1
    plt.close(figure)
