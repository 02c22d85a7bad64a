"""videonas.plots.pareto: every trial drawn, rejected ones distinctly, the front marked, references labelled."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from videonas.plots.pareto import plot_pareto  # noqa: E402

POINTS = [
    {"latency_ms": 1.0, "accuracy": 0.3, "status": "done"},
    {"latency_ms": 2.0, "accuracy": 0.5, "status": "done"},
    {"latency_ms": 3.0, "accuracy": 0.4, "status": "done"},
    {"latency_ms": 20.0, "accuracy": None, "status": "rejected", "rejected_by": "max_latency_ms"},
    {"latency_ms": None, "accuracy": None, "status": "rejected", "rejected_by": "max_params"},
]


def test_plot_marks_the_front_and_the_rejected_trials():
    references = [{"label": "TVN-1", "latency_ms": 8.0, "accuracy": None, "group": "presets"},
                  {"label": "R(2+1)D-18", "latency_ms": 60.0, "accuracy": 0.55, "group": "baselines"}]
    ax = plot_pareto(POINTS, references=references, limit_ms=10.0, title="front")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend[:4] == ["trained trials (3)", "Pareto front (2)", "rejected, not trained (1)",
                          "1 failed or rejected before timing (not shown)"]
    front_line = [line for line in ax.lines if line.get_color() == "#d55e00"][0]
    assert list(front_line.get_xdata()) == [1.0, 2.0] and list(front_line.get_ydata()) == [0.3, 0.5]
    assert {"TVN-1", "R(2+1)D-18", " R"} <= {text.get_text() for text in ax.texts}
    assert ax.get_xscale() == "log" and "onnxruntime" in ax.get_xlabel()
    renderer = ax.figure.canvas.get_renderer()  # the legend sits right of the axes, over no labelled point
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_plot_refuses_a_point_without_latency():
    with pytest.raises(ValueError, match="latency_ms"):
        plot_pareto([{"accuracy": 0.5}])
