"""Replayed searches: the costs follow the promotions, and with a table whose lower rungs rank exactly as the top
does, rungs find at least as good a network as training everyone at the top rung, for fewer epochs per candidate."""

from __future__ import annotations

import numpy
import pytest

from videonas.bench import replay

RUNGS = (1, 3, 9)


def _table(num_genomes=30, *, noisy_low_rungs=False, seed=0):
    rng = numpy.random.default_rng(seed)
    table = {}
    for index in range(num_genomes):
        quality = float(rng.uniform(0.2, 0.8))
        low = [float(rng.uniform(0, 1)) if noisy_low_rungs else quality * f for f in (0.5, 0.8)]
        timings = {"fit_s": 20.0, "first_step_s": 2.0, "build_s": 0.5, "eval_s": 1.0, "score_epochs_s": 0.0}
        table[f"g{index}"] = {f"r{r}": {"val": [*low, quality], "test": quality, "timings": timings}
                              for r in range(2)}
    return table


def test_promotions_keep_a_third_and_at_least_one():
    assert replay.promotions(9, keep=1 / 3, rungs=3) == [9, 3, 1]
    assert replay.promotions(2, keep=1 / 3, rungs=3) == [2, 1, 1]


def test_costs_split_the_measured_timings_into_overhead_and_epochs():
    cost = replay.costs(_table(), rung_epochs=RUNGS, keep=1 / 3, round_size=9)
    assert cost["overhead_s"] == pytest.approx(3.5) and cost["epoch_s"] == pytest.approx(2.0)
    # (9 x (3.5 + 1 x 2) + 3 x (3.5 + 2 x 2) + 1 x (3.5 + 6 x 2)) / 9 against 3.5 + 9 x 2
    assert cost["cpu_s_per_candidate_with_rungs"] == pytest.approx((49.5 + 22.5 + 15.5) / 9)
    assert cost["cpu_s_per_candidate_top_rung"] == pytest.approx(21.5)
    assert cost["epochs_per_candidate_with_rungs"] == pytest.approx(21 / 9)
    assert cost["share_outside_steady_training"] == pytest.approx(3.5 / 21.5)


def test_rungs_that_rank_like_the_top_find_better_networks_at_equal_epochs():
    result = replay.replay(_table(), rung_epochs=RUNGS, keep=1 / 3, round_size=9, budget_epochs=81, simulations=300)
    assert result["candidates_with_rungs"] > 3 * result["candidates_without"]
    assert result["difference"] > 0 and result["mean_interval"][0] > 0
    assert result["best_test_with_rungs"] <= result["pool_best_test"]


def test_rungs_that_rank_at_random_lose_their_advantage():
    good = replay.replay(_table(), rung_epochs=RUNGS, keep=1 / 3, round_size=9, budget_epochs=81, simulations=300)
    blind = replay.replay(_table(noisy_low_rungs=True), rung_epochs=RUNGS, keep=1 / 3, round_size=9,
                          budget_epochs=81, simulations=300)
    assert blind["difference"] < good["difference"]


class _Trial:
    def __init__(self, key, val, test, status="done"):
        self.genome_key, self.status, self.started, self.finished = key, status, 0.0, 30.0
        self.metrics = {"val_by_epoch": dict(zip(("1", "3", "9"), val)), "test": {"accuracy": test},
                        "timings": {"fit_s": 20.0}}


class _Experiment:
    def __init__(self, trials):
        self._trials = trials

    def trials(self):
        return self._trials


def test_the_table_keeps_genomes_every_replicate_trained_and_ranks_them():
    from videonas.bench import rungs

    first = _Experiment([_Trial(f"g{i}", [0.1 * i, 0.2 * i, 0.3 * i], 0.3 * i) for i in range(6)]
                        + [_Trial("lost", [0.5, 0.5, 0.5], 0.5)])
    # The second seed reverses the two best genomes at the top rung and never finished "lost".
    second = _Experiment([_Trial(f"g{i}", [0.1 * i, 0.2 * i, 0.3 * [0, 1, 2, 3, 5, 4][i]], 0.3 * i)
                          for i in range(6)] + [_Trial("lost", [0.5, 0.5, 0.5], 0.5, status="failed")])
    table = rungs.fitness_table([first, second], rung_epochs=(1, 3, 9))
    assert sorted(table) == [f"g{i}" for i in range(6)]
    assert table["g2"]["r1"]["val"] == [pytest.approx(0.2), pytest.approx(0.4), pytest.approx(0.6)]
    fidelity = rungs.rank_fidelity(table, rung_epochs=(1, 3, 9))
    assert fidelity["rung 1 vs top"]["tau"] == pytest.approx(1.0)
    # 15 pairs, one discordant: tau = (14 - 1) / 15
    assert fidelity["top vs top, other seed"]["tau"] == pytest.approx(13 / 15)
    assert fidelity["rung 3 vs itself, other seed"]["tau"] == pytest.approx(1.0)
    text = rungs.conclusion(fidelity, {}, rung_epochs=(1, 3, 9))
    assert "tau 0.87 over 6 genomes (aim 0.6: met)" in text
