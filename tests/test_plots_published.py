"""videonas.plots.published: one labelled point per model, labels of nearby models kept apart, and tick labels
that do not run into each other."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pandas  # noqa: E402
import pytest  # noqa: E402

from tiny_family import TINY  # noqa: E402
from videonas import families  # noqa: E402
from videonas.plots.published import family_colours, label_box, plot_runtime_vs_flops  # noqa: E402


# The shape of the test case before this one: three models within a few percent of 80 GFLOPs and 300 ms.
CROWDED = pandas.DataFrame({"model": ["TVN-2", "R3D-18", "Two-stream", "TVN-1", "AssembleNet-50"],
                            "family": ["tvn", "baseline", "baseline", "tvn", "assemblenet"],
                            "frames": [2, 16, 16, 2, 32], "image_size": [256, 112, 112, 224, 224],
                            "gflops": [70.0, 80.0, 82.0, 8.7, 500.0],
                            "latency_ms": [350.0, 270.0, 340.0, 105.0, 5400.0]})
COMMITTED = Path(__file__).resolve().parents[1] / "reports" / "published_architectures" / "results.json"


def _overlaps(boxes):
    return [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:] if box_a.overlaps(box_b)]


@pytest.mark.parametrize("source", ["crowded", "committed"])
def test_labels_and_ticks_do_not_overlap(source):
    # "committed": the twelve models of the committed report, ten of them between 50 and 150 GFLOPs.
    timed = CROWDED if source == "crowded" else pandas.DataFrame(json.loads(COMMITTED.read_text())["extra"]["timed"])
    ax = plot_runtime_vs_flops(timed, backend="tensorflow", same_input=None)
    renderer = ax.figure.canvas.get_renderer()
    labels = [(text.get_text(), label_box(text, renderer)) for text in ax.texts]
    assert len(labels) == len(timed) and "R3D-18 (16x112x112)" in [text for text, _ in labels]
    assert not _overlaps(labels), _overlaps(labels)
    inside = ax.get_window_extent(renderer)
    assert all(inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
               for _, box in labels)  # no label leaves the axes (where the tick labels are)
    legend = ax.get_legend().get_window_extent(renderer)
    assert not [text for text, box in labels if box.overlaps(legend)]
    for ticks, coordinate, (low, high) in ((ax.get_xticklabels(), 0, ax.get_xlim()),
                                           (ax.get_yticklabels(), 1, ax.get_ylim())):
        shown = [(tick.get_text(), tick.get_window_extent(renderer)) for tick in ticks
                 if tick.get_text() and low <= tick.get_position()[coordinate] <= high]
        assert len(shown) >= 2 and not _overlaps(shown), [text for text, _ in shown]
    assert "published inputs" in ax.get_title()
    plt.close(ax.figure)


def test_a_family_without_a_colour_gets_a_free_one(monkeypatch):
    monkeypatch.setitem(families.FAMILIES, "tiny", TINY)
    colours = family_colours(["baseline", "tiny", "tvn", "tvn"])
    assert list(colours) == ["tvn", "tiny", "baseline"]
    assert colours["tvn"] == families.get("tvn").colour and colours["baseline"] == "tab:blue"
    assert colours["tiny"] not in (colours["tvn"], colours["baseline"], families.get("evanet").colour)
