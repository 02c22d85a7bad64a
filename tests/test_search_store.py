"""Trial store: every finished trial is committed at once, configurations are checked on resume."""

from __future__ import annotations

import math

import pytest

from videonas.search.store import Trial, TrialResult, TrialStore


def _add(store, count, experiment="exp"):
    store.add_trials([Trial(experiment, i, i // 2, None if i < 2 else 0, f'{{"i":{i}}}', f"k{i}", "pending", seed=i)
                      for i in range(count)])


def test_finished_trial_is_visible_to_another_connection_at_once(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 3)
    store.mark_running("exp", 0, host="h")
    store.finish("exp", 0, TrialResult(fitness=0.75, params=123, flops=456, latency_ms=7.5,
                                       metrics={"loss_curve": [2.0, float("nan")]}, 
                                       learned={"edge_weights": [[0, 1, 0.25]]}))
    reader = TrialStore(tmp_path / "s.sqlite")
    trial = reader.trials("exp", status="done")[0]
    assert (trial.index, trial.fitness, trial.params, trial.flops, trial.latency_ms) == (0, 0.75, 123, 456, 7.5)
    assert trial.host == "h" and trial.started <= trial.finished
    assert trial.learned == {"edge_weights": [[0, 1, 0.25]]}
    assert trial.metrics["loss_curve"][0] == 2.0 and trial.metrics["loss_curve"][1] == "nan"
    assert [t.status for t in reader.trials("exp")] == ["done", "pending", "pending"]
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_nan_or_missing_fitness_is_stored_as_failed(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 2)
    store.finish("exp", 0, TrialResult(fitness=float("nan")))
    store.finish("exp", 1, TrialResult.coerce({"status": "done", "fitness": None}))
    trials = store.trials("exp")
    assert [t.status for t in trials] == ["failed", "failed"]
    assert "non-finite fitness nan" in trials[0].error and trials[0].fitness is None


def test_best_and_history(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 4)
    for index, fitness in [(0, 0.5), (1, 0.9), (2, 0.9)]:
        store.finish("exp", index, TrialResult(fitness=fitness, metrics={"accuracy": fitness}))
    store.finish("exp", 3, TrialResult(status="rejected", params=10**9, error="params 1e+09 > limit 1e+06"))
    assert [t.index for t in store.best("exp", 2)] == [1, 2]  # ties: the earlier trial first
    history = store.history("exp")
    assert list(history["status"]) == ["done", "done", "done", "rejected"]
    assert list(history["metric_accuracy"].iloc[:3]) == [0.5, 0.9, 0.9]
    assert history.loc[3, "params"] == 10**9 and math.isnan(history.loc[3, "fitness"])
    assert list(history["parent"].iloc[2:]) == [0, 0]


def test_requeue_resets_running_trials_only(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    _add(store, 3)
    store.mark_running("exp", 0)
    store.mark_running("exp", 1)
    store.finish("exp", 1, TrialResult(fitness=0.1))
    assert store.requeue_unfinished("exp") == 1
    assert [t.status for t in store.trials("exp")] == ["pending", "done", "pending"]
    assert store.trials("exp")[0].started is None


def test_changed_configuration_is_refused_unless_forced(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    store.open_experiment("exp", {"seed": 0, "strategy": {"name": "tvn"}})
    store.open_experiment("exp", {"strategy": {"name": "tvn"}, "seed": 0})  # same content, other key order
    with pytest.raises(ValueError, match=r"different configuration \(changed: \['seed'\]\)"):
        store.open_experiment("exp", {"seed": 1, "strategy": {"name": "tvn"}})
    store.open_experiment("exp", {"seed": 1, "strategy": {"name": "tvn"}}, force=True)
    assert store.experiment_config("exp")["seed"] == 1
    assert store.experiments() == ["exp"]


def test_bad_status_raises_value_error(tmp_path):
    store = TrialStore(tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match="status"):
        store.trials("exp", status="finished")
    with pytest.raises(ValueError, match="status"):
        TrialResult(status="running")
    with pytest.raises(ValueError, match="TrialResult or dict"):
        TrialResult.coerce(0.5)
