"""Verdict interval plots: one row per question, its interval, the claim's boundary and the noise floor."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from videonas.experiments import claims  # noqa: E402
from videonas.plots.curves import plot_verdicts  # noqa: E402


def _verdicts():
    return [claims.ask("evanet_ensemble_vs_single", a=[71.0, 72.0, 70.5], b=[70.0, 70.5, 70.0], noise_floor=0.7),
            claims.ask("evanet_diverse_similar", a=[60.0, 61.0], b=[58.0, 60.0])]


def test_one_row_per_verdict_with_its_interval_and_boundaries():
    verdicts = _verdicts()
    ax = plot_verdicts(verdicts)
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert len(labels) == 2 and "inconclusive" in labels[0] and "diverse" in labels[0].replace("\n", " ")
    intervals = [tuple(line.get_xdata()) for line in ax.lines if len(line.get_xdata()) == 2
                 and line.get_linestyle() == "-"]
    assert (verdicts[0].low, verdicts[0].high) in intervals
    dashed = {line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == "--"}
    assert dashed == {0.0, -3.0, 3.0}  # "beats" at 0, "within 3 points" at +/-3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["noise floor (same net, +/- 1 sd over seeds)"]
    ends = [x for v in verdicts for x in (v.low, v.high, v.noise_floor or 0.0, -(v.noise_floor or 0.0))]
    assert ax.get_xlim()[0] < min(ends) and ax.get_xlim()[1] > max(ends)  # no interval touches the frame
    plt.close(ax.figure)


def test_verdicts_of_different_units_do_not_share_an_axis():
    cost = claims.ask("evanet_ensemble_cost", a=[2.0, 2.0], b=[1.0, 1.5])
    with pytest.raises(ValueError, match="unit"):
        plot_verdicts([*_verdicts(), cost])
    with pytest.raises(ValueError, match="at least one"):
        plot_verdicts([])
