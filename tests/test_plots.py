from __future__ import annotations

import dataclasses
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy  # noqa: E402
import pytest  # noqa: E402

from videonas.genome.published import load  # noqa: E402
from videonas.genome.tvn import TVNBlock, TVNGenome, TVNSpace  # noqa: E402
from videonas.plots.curves import (  # noqa: E402
    best_so_far,
    fitness_sequence,
    plot_best_so_far,
    plot_runtime_accuracy,
    seed_band,
)
from videonas.plots.tvn import block_lines, block_markers, draw_tvn, drawn_blocks  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def running_max_by_hand(values):
    out, best = [], None
    for value in values:
        if value is not None and not math.isnan(value):
            best = value if best is None else max(best, value)
        out.append(math.nan if best is None else best)
    return out


def test_best_so_far_is_the_running_max() -> None:
    rng = numpy.random.default_rng(3)
    values = [None, *rng.uniform(0, 1, 30).tolist(), float("nan"), None, *rng.uniform(0, 1, 10).tolist()]
    curve = best_so_far(values)
    expected = running_max_by_hand(values)
    assert math.isnan(curve[0])
    numpy.testing.assert_array_equal(curve[1:], expected[1:])
    assert numpy.all(numpy.diff(curve[1:]) >= 0)
    assert curve[-1] == max(v for v in values if v is not None and not math.isnan(v))


def test_fitness_sequence_orders_and_blanks_unfinished() -> None:
    @dataclasses.dataclass
    class FakeTrial:
        index: int
        status: str
        fitness: float | None

    trials = [FakeTrial(2, "rejected", None), FakeTrial(0, "done", 0.4), FakeTrial(1, "failed", None),
              FakeTrial(3, "done", 0.7)]
    assert fitness_sequence(trials) == [0.4, None, None, 0.7]


def test_seed_band_pads_short_runs_and_orders_statistics() -> None:
    stats = seed_band([[0.1, 0.5, 0.3], [0.2], [None, 0.4, 0.6, 0.2]])
    numpy.testing.assert_array_equal(stats["trials"], [1, 2, 3, 4])
    numpy.testing.assert_array_equal(stats["curves"][1], [0.2, 0.2, 0.2, 0.2])
    numpy.testing.assert_array_equal(stats["curves"][0], [0.1, 0.5, 0.5, 0.5])
    numpy.testing.assert_allclose(stats["median"], [0.1, 0.4, 0.5, 0.5])  # seed 3 starts at the floor, 0.1
    numpy.testing.assert_allclose(stats["low"], [0.1, 0.2, 0.2, 0.2])
    numpy.testing.assert_allclose(stats["high"], [0.2, 0.5, 0.6, 0.6])
    with pytest.raises(ValueError, match="runs"):
        seed_band([])


def test_plot_best_so_far_draws_seeds_and_medians() -> None:
    runs = {"evolution": [[0.1, 0.3, 0.2], [0.2, 0.2, 0.4]], "random": [[0.1, 0.1, 0.2], [0.3, 0.1, 0.1]]}
    ax = plot_best_so_far(runs)
    # per strategy: one step line per seed + the median
    assert len(ax.lines) == 2 * (2 + 1)
    medians = [line for line in ax.lines if line.get_label().startswith("evolution (median")]
    assert len(medians) == 1
    assert numpy.all(numpy.diff(medians[0].get_ydata()) >= 0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "evolution (median of 2 seeds)", "random (median of 2 seeds)"]


def test_plot_runtime_accuracy_labels_every_point() -> None:
    points = [
        {"label": "found TVN", "runtime_ms": 4.0, "accuracy": 0.6, "group": "TVN (search)"},
        {"label": "TVN-1", "runtime_ms": 20.0, "accuracy": None, "group": "TVN presets"},
        {"label": "R(2+1)D-18 x0.25", "runtime_ms": 80.0, "accuracy": 0.5, "group": "baselines"},
        {"label": "X3D-XS", "runtime_ms": 30.0, "accuracy": 0.55, "group": "baselines"},
        {"label": "", "runtime_ms": 5.0, "accuracy": 0.3, "group": "TVN (search)"},
    ]
    ax = plot_runtime_accuracy(points)
    assert sorted(text.get_text() for text in ax.texts) == sorted(p["label"] for p in points if p["label"])
    assert len(ax.collections) == 4  # four scatter points with an accuracy
    assert ax.get_xscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["TVN (search)", "TVN presets (runtime only)", "baselines"]
    with pytest.raises(ValueError, match="runtime_ms"):
        plot_runtime_accuracy([{"label": "x"}])


def test_draw_tvn_draws_one_box_per_block() -> None:
    space, rng = TVNSpace(), numpy.random.default_rng(0)
    for genome in [load("TVN-1"), load("TVN-2"), *(space.sample(rng) for _ in range(3))]:
        fig, ax = plt.subplots()
        draw_tvn(genome, ax=ax, source_fps=16)
        assert drawn_blocks(ax) == len(genome.blocks)
        gids = [patch.get_gid() for patch in ax.patches]
        assert gids.count("tvn-input") == 1 and gids.count("tvn-head") == 1
        markers = sum(len(block_markers(b)) for b in genome.blocks)
        assert sum(1 for g in gids if g and g.startswith("tvn-marker-")) == markers
        plt.close(fig)


def test_draw_tvn_shows_input_and_block_details() -> None:
    genome = TVNGenome(image_size=48, num_frames=8, frame_stride=2, blocks=(
        TVNBlock(spatial_type="depth", spatial_kernel=5, spatial_stride=2, temporal_kernel=3, temporal_stride=2,
                 filters=32, expand=2, squeeze=0.25, context_gate=True, repeats=2),
        TVNBlock(filters=64, non_local=True, skip=True),
    ))
    ax = draw_tvn(genome, source_fps=16)
    text = "\n".join(t.get_text() for t in ax.texts)
    assert "48x48 px" in text and "8 frames" in text and "8 fps" in text
    assert "depth 5x5 /2" in text and "time 1d k3 /2" in text and "32 -> 64 ch" in text
    assert text.count("out 4f x 24px") == 2
    assert block_markers(genome.blocks[0]) == ["SE", "CG"]
    assert block_markers(genome.blocks[1]) == ["NL", "res"]
    assert block_lines(genome.blocks[1], 1, 4, 24)[0] == "block 1  x1"
    with pytest.raises(ValueError, match="genome"):
        draw_tvn(load("EvaNet-A"))
