"""Test scores computed when a trial is selected equal those a search would have computed for every candidate, are
stored once, and come from the saved weights (or, where none were kept, from a retraining with the trial's seed)."""

from __future__ import annotations

import pytest

from videonas import selected
from videonas.search import Experiment, run_search
from videonas.search.store import TrialStore

SEARCH = {"space": {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [1, 2], "frame_strides": [1],
                                                 "max_blocks": 2, "filters": [8, 16], "max_repeats": 1}},
          "strategy": "random", "seed": 3, "num_trials": 2, "batch_size": 2, "budget": {"epochs": 1},
          "executor": "inprocess", "progress": False}
TASK = {"dataset": "embedded:smoke", "batch_size": 8, "max_train_clips": 16, "threads": 1}


@pytest.mark.slow
def test_a_selected_trial_scores_on_test_as_a_search_that_scored_every_candidate(tmp_path):
    store = str(tmp_path / "s.sqlite")
    everyone = run_search(**SEARCH, name="every", store=store, task={**TASK, "score_test": True})
    chosen = run_search(**SEARCH, name="chosen", store=store, task={**TASK, "score_test": False},
                        save_weights=str(tmp_path / "weights"))
    assert all("test" not in trial.metrics for trial in chosen.trials())
    expected, best = everyone.best(1)[0], chosen.best(1)[0]
    assert best.genome_key == expected.genome_key and best.fitness == pytest.approx(expected.fitness)

    scored = selected.score_test(Experiment("chosen", store), best)
    assert scored.metrics["test"]["accuracy"] == pytest.approx(expected.metrics["test"]["accuracy"])
    assert scored.metrics["test"]["scored"] == "when selected" and "retrained" not in scored.metrics["test"]
    with TrialStore(store, read_only=True) as reader:
        stored = {t.index: t for t in reader.trials("chosen")}
    assert stored[best.index].metrics["test"] == scored.metrics["test"]
    assert sum("test" in t.metrics for t in stored.values()) == 1
    # Stored once: scoring again returns the stored metrics (the weights could even be gone).
    for path in (tmp_path / "weights").iterdir():
        path.unlink()
    assert selected.score_test(Experiment("chosen", store), stored[best.index]).metrics["test"] == scored.metrics["test"]


@pytest.mark.slow
def test_without_saved_weights_the_selected_trial_is_retrained_with_its_seed(tmp_path):
    store = str(tmp_path / "s.sqlite")
    everyone = run_search(**SEARCH, name="every", store=store, task={**TASK, "score_test": True})
    bare = run_search(**SEARCH, name="bare", store=store, task={**TASK, "score_test": False})
    scored = selected.score_test(bare, bare.best(1)[0])
    assert scored.metrics["test"]["retrained"] is True
    assert scored.metrics["test"]["accuracy"] == pytest.approx(everyone.best(1)[0].metrics["test"]["accuracy"])


def test_failed_and_missing_trials_pass_through():
    assert selected.score_test(None, None) is None
