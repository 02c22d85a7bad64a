"""A search grown between runs makes the decisions it would have made in one run; a store edited by hand is never
evaluated under a stale key."""

from __future__ import annotations

import sqlite3

import pytest

from videonas.search import run_search

TOY = {"family": "toy", "options": {"length": 8, "choices": 3}}
SEARCH = dict(space=TOY, strategy={"name": "regularized", "options": {"population_size": 4}}, batch_size=4, seed=1,
              evaluate="videonas.search.synthetic:evaluate", executor="inprocess", progress=False)


def _rows(experiment):
    return [(t.index, t.round, t.parent, t.genome_key, t.status, t.fitness) for t in experiment.trials()]


@pytest.mark.parametrize("steps", [(6, 12), (1, 5, 12), (3, 7, 9, 12)])
def test_growing_num_trials_keeps_every_decision(tmp_path, steps):
    """Batch 4: stopping at 6 trials cuts round 1 short; growing to 12 completes it before asking round 2."""
    reference = run_search("grown", store=tmp_path / "once.sqlite", num_trials=12, **SEARCH)
    for count in steps:
        grown = run_search("grown", store=tmp_path / "steps.sqlite", num_trials=count, **SEARCH)
        assert len(grown.trials()) == count
    assert _rows(grown) == _rows(reference)
    assert [t.round for t in grown.trials()] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]


def test_a_pending_trial_whose_genome_was_edited_is_refused(tmp_path):
    store = tmp_path / "edited.sqlite"
    run_search("edited", store=store, num_trials=4, **SEARCH)
    with sqlite3.connect(store) as connection:  # a hand edit: trial 3 pending again, with another genome's JSON
        other = connection.execute("SELECT genome FROM trials WHERE idx = 0").fetchone()[0]
        connection.execute("UPDATE trials SET status = 'pending', genome = ? WHERE idx = 3", (other,))
    with pytest.raises(ValueError, match="trial 3 of 'edited': its genome JSON has key .* the store was edited"):
        run_search("edited", store=store, num_trials=4, **SEARCH)
