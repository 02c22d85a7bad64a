from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402
import pytest  # noqa: E402

from videonas.genome.evanet import Branch, EvaNetSpace  # noqa: E402
from videonas.genome.published import load  # noqa: E402
from videonas.plots.evanet import (  # noqa: E402
    LAYER_COLOURS,
    branch_layers,
    draw_evanet,
    draw_evanets,
    drawn_layers,
    layer_counts,
    plot_diversity,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_colour_code_follows_the_paper() -> None:
    # 3D blue, (2+1)D orange, iTGM green, max-pool grey, average pool purple, 1x1 pink.
    hues = {layer: mcolors.rgb_to_hsv(mcolors.to_rgb(colour)) for layer, colour in LAYER_COLOURS.items()}
    assert 0.55 < hues["3d"][0] < 0.7  # blue
    assert 0.05 < hues["2plus1d"][0] < 0.12  # orange
    assert 0.25 < hues["itgm"][0] < 0.45  # green
    assert hues["maxpool"][1] < 0.05  # grey: no saturation
    assert 0.7 < hues["avgpool"][0] < 0.8  # purple
    assert hues["1x1"][0] > 0.85 and hues["1x1"][1] < 0.5  # pink: light red-magenta


def test_branch_layers_stack_in_build_order() -> None:
    assert branch_layers(Branch("single")) == [("1x1", None)]
    assert branch_layers(Branch("maxpoolconv", time=7)) == [("maxpool", 7), ("1x1", None)]
    assert branch_layers(Branch("conv", conv="itgm", time=11)) == [("1x1", None), ("itgm", 11)]
    assert branch_layers(Branch("conv2", conv="3d", time=3, conv2="2plus1d", time2=9)) == [
        ("1x1", None), ("3d", 3), ("2plus1d", 9)]


def test_evanet_a_boxes_by_type() -> None:
    # Counted by hand from the released EvaNet-A genome: module 1 = conv(3d,1) + maxpoolconv(7); module 2 =
    # maxpoolconv(3), single, conv(3d,1), single, conv(3d,5); module 3 = maxpoolconv(7), single, conv(itgm,11),
    # maxpoolconv(11); module 4 = maxpoolconv(11), conv(3d,1), conv(itgm,3).
    modules = {"1x1": 2 + 5 + 4 + 3, "3d": 1 + 2 + 0 + 1, "maxpool": 1 + 1 + 2 + 1, "itgm": 0 + 0 + 1 + 1}
    genome = load("EvaNet-A")
    assert dict(layer_counts(genome, modules_only=True)) == modules
    ax = draw_evanet(genome)
    # The network adds a (2+1)D stem, four max-pools, the global average pool and the 1x1 classifier.
    expected = {**modules, "2plus1d": 1, "avgpool": 1}
    expected["maxpool"] += 4
    expected["1x1"] += 1
    assert dict(drawn_layers(ax)) == expected
    assert sum(patch.get_gid() == "evanet-module" for patch in ax.patches) == 4
    # Purple appears only in the head: the search space has no average-pool branch, and the legend says so.
    assert "avg-pool (head)" in [text.get_text() for text in ax.get_legend().get_texts()]
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if gid.startswith("evanet-") and gid != "evanet-module":
            numpy.testing.assert_allclose(patch.get_facecolor()[:3], mcolors.to_rgb(LAYER_COLOURS[gid[7:]]))


def test_temporal_sizes_and_repeats_are_written() -> None:
    genome = load("EvaNet-B")
    ax = draw_evanet(genome, width_multiplier=0.0625)
    texts = [text.get_text() for text in ax.texts]
    assert "(2+1)D t9" in texts and "iTGM t1" in texts and "max-pool t7" in texts
    assert any(text.startswith("module 2  x3") and text.endswith("32 ch") for text in texts)
    assert any(text.startswith("module 4  x4") and text.endswith("128 ch") for text in texts)


def test_random_genomes_draw_every_layer() -> None:
    space = EvaNetSpace()
    genomes = [space.sample(numpy.random.default_rng(seed)) for seed in range(3)]
    figure = draw_evanets(genomes, titles=["a", "b", "c"])
    assert len(figure.axes) == 3
    for genome, ax in zip(genomes, figure.axes):
        assert drawn_layers(ax) == layer_counts(genome)
    with pytest.raises(ValueError, match="titles"):
        draw_evanets(genomes, titles=["a"])


def test_diversity_figure_has_three_labelled_panels() -> None:
    data = {"matrix": numpy.array([[0, 3], [3, 0]]), "labels": ["4", "7"], "seed": 0,
            "pairwise": {"evolution": [3, 5, 2], "random": [6, 7]}, "steps": [(3, 2), (4, 1), (5, 1)]}
    figure = plot_diversity(data)
    axes = figure.axes
    assert [tick.get_text() for tick in axes[0].get_xticklabels()] == ["4", "7"]
    assert "evolution (3 pairs)" in [text.get_text() for text in axes[1].get_legend().get_texts()]
    assert all(ax.get_xlabel() for ax in axes[:3])
    plt.close(figure)


def _verdicts():
    from videonas.experiments import claims

    a, b = {seed: 60.0 + seed for seed in range(6)}, {seed: 58.0 for seed in range(6)}
    return [claims.ask("evanet_ensemble_vs_single", a=a, b=b, noise_floor=1.0),
            claims.ask("evanet_ensemble_cost", a={seed: 100 for seed in range(6)}, b={seed: 300 for seed in range(6)})]


def test_search_figure_puts_the_curves_beside_the_verdicts() -> None:
    from videonas.plots.evanet import search_figure

    verdicts = _verdicts()[:1]
    figure = search_figure({"evolution": [[0.1, 0.3], [0.2, None]], "random": [[0.1, 0.2], [0.1, 0.1]]}, verdicts)
    curves_ax, verdicts_ax = figure.axes
    assert curves_ax.get_title().startswith("EvaNet module search")
    assert [text.get_text() for text in curves_ax.get_legend().get_texts()] == [
        "evolution (median of 2 seeds)", "random (median of 2 seeds)"]
    assert verdicts[0].question in verdicts_ax.get_yticklabels()[0].get_text().replace("\n", " ")


def test_ensembles_figure_shows_only_the_questions_in_points() -> None:
    from videonas.plots.evanet import ensembles_figure

    points = [{"label": "", "runtime_ms": 1.5, "accuracy": 0.6, "group": "ensemble of 2 (per seed)"}]
    figure = ensembles_figure(points, _verdicts())
    scatter_ax, verdicts_ax = figure.axes
    assert scatter_ax.get_xlabel() == "MFLOPs per clip (batch 1)" and scatter_ax.get_ylabel() == "test top-1"
    assert len(verdicts_ax.get_yticklabels()) == 1  # the FLOP ratio has another unit: it is in the conclusion
