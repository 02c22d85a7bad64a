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
    assert dashed == {0.5, -3.0, 3.0}  # "beats" at its minimum effect (0.5 points), "within 3 points" at +/-3
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


def test_loss_curves_are_each_seeds_best_trial_one_colour_per_arm(tmp_path):
    from videonas.experiments.arms import ArmRuns
    from videonas.plots.curves import best_loss_curves, plot_loss_curves
    from videonas.search.store import Trial

    def trial(index, fitness, curve):
        return Trial(experiment="e", index=index, round=0, parent=None, genome="{}", genome_key=str(index),
                     status="done", fitness=fitness, metrics={"loss_curve": curve} if curve else {})

    class Search:  # the part of videonas.search.Experiment that ArmRuns reads
        def __init__(self, trials):
            self._trials = trials

        def trials(self):
            return self._trials

    runs = ArmRuns({("evolution", 0): Search([trial(0, 0.4, [2.0, 1.5]), trial(1, 0.6, [2.2, 1.2, 0.9])]),
                    ("evolution", 1): Search([trial(0, 0.5, [2.1, 1.0])]),
                    ("random", 0): Search([trial(0, 0.3, None)]),  # its best kept no curve: left out
                    ("random", 1): Search([trial(0, 0.2, [2.0, 1.9, 1.8, 1.7])])})
    assert best_loss_curves(runs) == {"evolution": {0: [2.2, 1.2, 0.9], 1: [2.1, 1.0]},
                                      "random": {1: [2.0, 1.9, 1.8, 1.7]}}
    ax = plot_loss_curves(runs)
    assert [list(line.get_ydata()) for line in ax.lines] == [[2.2, 1.2, 0.9], [2.1, 1.0], [2.0, 1.9, 1.8, 1.7]]
    assert len({line.get_color() for line in ax.lines}) == 2 and list(ax.lines[2].get_xdata()) == [1, 2, 3, 4]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["evolution (best trial of each of 2 seeds)",
                                                                   "random (best trial of each of 1 seeds)"]
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="loss_curve"):
        plot_loss_curves(ArmRuns({("random", 0): Search([trial(0, 0.3, None)])}))


def test_loss_curves_of_a_committed_two_arm_search_store():
    from pathlib import Path

    from videonas.experiments.arms import ArmRuns
    from videonas.plots.curves import best_loss_curves
    from videonas.search.loop import Experiment
    from videonas.search.store import TrialStore

    path = Path(__file__).resolve().parent / "data" / "unversioned_store.sqlite"  # 6 seeds each of two arms
    names = TrialStore(path, read_only=True).experiments()
    runs = ArmRuns({(name.rsplit("-seed", 1)[0], int(name.rsplit("-seed", 1)[1])): Experiment(name, path)
                    for name in names})
    curves = best_loss_curves(runs)
    assert set(curves) == {"evolution", "random"} and all(len(seeds) == len(runs.seeds) for seeds in curves.values())
    assert all(len(curve) > 1 for seeds in curves.values() for curve in seeds.values())
