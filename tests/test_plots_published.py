"""videonas.plots.published: one labelled point per model, and labels of nearby models kept apart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas  # noqa: E402

from tiny_family import TINY  # noqa: E402
from videonas import families  # noqa: E402
from videonas.plots.published import family_colours, plot_runtime_vs_flops  # noqa: E402


def test_labels_of_models_at_nearly_the_same_cost_do_not_overlap():
    # The shape of the committed figure: three models within a few percent of 80 GFLOPs and 300 ms.
    timed = pandas.DataFrame({"model": ["TVN-2", "R3D-18", "Two-stream", "TVN-1", "AssembleNet-50"],
                              "family": ["tvn", "baseline", "baseline", "tvn", "assemblenet"],
                              "frames": [2, 16, 16, 2, 32], "image_size": [256, 112, 112, 224, 224],
                              "gflops": [70.0, 80.0, 82.0, 8.7, 500.0],
                              "latency_ms": [350.0, 270.0, 340.0, 105.0, 5400.0]})
    ax = plot_runtime_vs_flops(timed, backend="tensorflow", same_input=None)
    renderer = ax.figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in ax.texts]
    assert len(boxes) == 5 and any("R3D-18 (16x112x112)" == text.get_text() for text in ax.texts)
    overlapping = [(a, b) for i, a in enumerate(ax.texts) for b in ax.texts[i + 1:]
                   if a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer))]
    assert not overlapping, [(a.get_text(), b.get_text()) for a, b in overlapping]
    assert "published inputs" in ax.get_title()
    plt.close(ax.figure)


def test_a_family_without_a_colour_gets_a_free_one(monkeypatch):
    monkeypatch.setitem(families.FAMILIES, "tiny", TINY)
    colours = family_colours(["baseline", "tiny", "tvn", "tvn"])
    assert list(colours) == ["tvn", "tiny", "baseline"]
    assert colours["tvn"] == families.get("tvn").colour and colours["baseline"] == "tab:blue"
    assert colours["tiny"] not in (colours["tvn"], colours["baseline"], families.get("evanet").colour)
