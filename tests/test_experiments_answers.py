"""What search experiments report beside their verdicts: medians over seeds, unmutated bests, headline rows."""

from __future__ import annotations

import types

from videonas import config
from videonas.experiments import answers, claims, verdicts


def _trial(index, parent=None, fitness=0.5):
    return types.SimpleNamespace(index=index, parent=parent, fitness=fitness, status="done")


def test_median_ignores_failed_seeds():
    assert abs(answers.median_score({0: 0.2, 1: None, 2: 0.4, 3: float("nan")}) - 0.3) < 1e-12
    assert answers.median_score({0: None}) is None


def test_unmutated_bests_and_lineage_roots():
    runs = types.SimpleNamespace(best=lambda label: {0: _trial(0), 1: _trial(3, parent=1), 2: None})
    assert answers.unmutated_bests(runs, label="evolution") == [0]
    experiment = types.SimpleNamespace(trials=lambda: [_trial(0), _trial(1, parent=0), _trial(2, parent=1)])
    assert answers.lineage_root(experiment, _trial(2, parent=1)).index == 0
    assert answers.seeds_text([0], 6) == "1 of 6 seeds"


def test_verdict_rows_carry_a_paper_figure_only_where_the_paper_has_one():
    # No question of ours has a paper figure measuring the same quantity any more: a claim made up for the test.
    claim = verdicts.Claim("A beats B by about a point", margin=0.5, paper_figure=0.8, paper_unit="points")
    with_figure = verdicts.compare(question="Does A beat B?", claim=claim, a=[71.0, 72.0], b=[70.0, 70.5],
                                   unit="points", paper="EvaNet")
    without = claims.ask("evanet_evolution_vs_random", a=[71.0, 72.0], b=[70.0, 70.5])
    rows = answers.verdict_rows([with_figure, without])
    assert rows[0]["paper"] == "0.8 points" and rows[1]["paper"] == ""
    assert ": inconclusive (with 2 seeds the exact test cannot decide at any effect size" in rows[0]["value"]
    assert "95% t interval" in rows[0]["value"]


def test_score_rows_give_the_median_and_the_seed_range():
    rows = answers.score_rows({"ensemble": {0: 0.5, 1: 0.7, 2: 0.6}, "failed": {0: None}}, metric="top-1")
    assert rows[0] == {"label": "ensemble: test top-1, median of 3 seeds", "value": "0.600 (seeds: 0.500 to 0.700)",
                       "paper": ""}
    assert rows[1]["value"] is None


def test_chance_text_only_for_top1_near_chance():
    def experiment(**task):
        options = config.stored_trial_options({"task": {"dataset": "embedded:smoke", **task}})
        return types.SimpleNamespace(trial_options=lambda: options)

    assert "near chance (1/13" in answers.chance_text(experiment(), {0: 0.1, 1: 0.12})
    assert answers.chance_text(experiment(), {0: 0.6, 1: 0.7}) == ""
    assert answers.chance_text(experiment(multi_label=True), {0: 0.1}) == ""
