"""Multi-fidelity search in the one loop: successive halving per round, continuation from checkpoints, budgets in
training epochs, and resume exactness after a SIGKILL in the middle of a rung."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import pytest
import yaml

from videonas.search import TrialStore, run_search
from videonas.search.strategies import rank

SYNTHETIC = "videonas.search.synthetic:evaluate"
SEARCH = dict(space={"family": "toy", "options": {"length": 8, "choices": 3}}, num_trials=12, batch_size=6, seed=1,
              strategy={"name": "regularized", "options": {"population_size": 6}},
              rungs={"epochs": [1, 3, 9], "keep": 0.34}, executor="inprocess")


def _rows(experiment):
    return [(t.index, t.genome_key, t.parent, t.status, t.rung, t.epochs, t.fitness) for t in experiment.trials()]


def test_each_round_halves_its_candidates_through_the_rungs(tmp_path):
    experiment = run_search("halving", store=tmp_path / "s.sqlite", evaluate=SYNTHETIC, progress=False, **SEARCH)
    trials = experiment.trials()
    for round_index in (0, 1):
        trained = [t for t in trials if t.round == round_index and "reused_from" not in t.metrics]
        at_least = [sum((t.rung or 0) >= rung for t in trained) for rung in range(3)]
        assert at_least[1] == max(1, math.ceil(len(trained) * 0.34))
        assert at_least[2] == max(1, math.ceil(at_least[1] * 0.34))
        for trial in trained:
            rungs = trial.metrics["rungs"]
            assert [entry["rung"] for entry in rungs] == list(range(trial.rung + 1))
            assert trial.fitness == rungs[-1]["fitness"] and trial.epochs == (1, 3, 9)[trial.rung]
            promoted = [t for t in trained if (t.rung or 0) >= 1]
            if trial.rung == 0 and promoted:  # promoted on the first rung's fitness
                assert min(t.metrics["rungs"][0]["fitness"] for t in promoted) >= trial.metrics["rungs"][0]["fitness"]
    # A candidate that climbed higher ranks above one stopped lower, whatever their fitnesses.
    best = experiment.best(1)[0]
    assert best.rung == 2 and rank(best) == max(rank(t) for t in trials if t.status == "done")
    assert not list((tmp_path / "s.sqlite.checkpoints" / "halving").iterdir())  # nothing left to promote


def test_a_promoted_candidate_continues_its_own_checkpoint(tmp_path):
    """The synthetic trial function fails unless it finds the checkpoint of the same genome at the rung below."""
    experiment = run_search("continues", store=tmp_path / "s.sqlite", evaluate=SYNTHETIC, progress=False, **SEARCH)
    assert all(t.status == "done" for t in experiment.trials())
    climbed = [t for t in experiment.trials() if (t.rung or 0) >= 1]
    assert climbed and all(t.metrics["epochs_trained"] == t.epochs for t in climbed)


def test_rejected_proposals_cost_no_training_and_the_budget_is_epochs(tmp_path):
    store = tmp_path / "budget.sqlite"
    config = {**SEARCH, "num_trials": 200, "rungs": {"epochs": [1, 3], "keep": 0.5}}
    experiment = run_search("budget", store=store, progress=False, max_epochs=20,
                            evaluate={"function": SYNTHETIC, "options": {"max_params": 9000}}, **config)
    trials = experiment.trials()
    rejected = [t for t in trials if t.status == "rejected"]
    spent = sum(t.epochs or 0 for t in trials if "reused_from" not in t.metrics)
    assert rejected and all(t.epochs is None for t in rejected)
    assert 20 <= spent < 20 + 6 * 1 + 3 * 3  # stops after the round that reached the budget
    assert len(trials) < 200


DRIVER_CONFIG = {**SEARCH, "name": "killed", "evaluate": {"function": SYNTHETIC, "options": {"delay_s": 0.3}}}


@pytest.mark.slow
def test_a_sigkill_in_the_middle_of_a_rung_resumes_to_the_uninterrupted_history(tmp_path):
    store = tmp_path / "killed.sqlite"
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({**DRIVER_CONFIG, "store": str(store)}))
    driver = subprocess.Popen([sys.executable, "-m", "videonas", "search", "--config", str(path), "--no-progress"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill once the first promotion is stored, before the rung is over
            time.sleep(0.05)
            if store.exists():
                with TrialStore(store, read_only=True) as reader:
                    if "killed" in reader.experiments() and any(t.rung == 1 for t in reader.trials("killed")):
                        break
        driver.kill()
    finally:
        driver.wait()
    with TrialStore(store, read_only=True) as reader:
        stopped = reader.trials("killed")
    assert any(t.rung == 1 for t in stopped) and not any(t.rung == 2 for t in stopped)
    resumed = run_search(**{**DRIVER_CONFIG, "store": store}, progress=False)
    reference = run_search(**{**DRIVER_CONFIG, "store": tmp_path / "reference.sqlite"}, progress=False)
    assert _rows(resumed) == _rows(reference)


SMOKE = {"space": {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [1, 2], "min_blocks": 2,
                                                 "max_blocks": 2, "filters": [16], "max_repeats": 1,
                                                 "allow_non_local": False}},
         "task": {"dataset": "embedded:smoke", "batch_size": 8, "max_train_clips": 16, "max_val_clips": 16,
                  "threads": 1, "run_eagerly": True, "score_test": False},
         "num_trials": 4, "batch_size": 4, "rungs": {"epochs": [1, 2], "keep": 0.5},
         "executor": {"kind": "subprocess", "options": {"max_workers": 2}}}


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", {"name": "regularized", "options": {"population_size": 2}}])
def test_real_candidates_climb_the_rungs_on_worker_processes(tmp_path, strategy):
    from videonas import data

    data.embedded_dataset("smoke", seed=0)  # generated once here, not by two workers at once
    experiment = run_search("smoke-rungs", store=tmp_path / "s.sqlite", strategy=strategy, seed=0, progress=False,
                            **SMOKE)
    trials = experiment.trials()
    assert [t.status for t in trials] == ["done"] * 4, [t.error for t in trials]
    climbed = [t for t in trials if t.rung == 1]
    assert len(climbed) == 2 and all(t.epochs == 2 for t in climbed)
    for trial in climbed:  # the second rung trained one more epoch from the first rung's checkpoint
        assert trial.metrics["epochs_trained"] == 2 and trial.metrics["steps"] == 2  # 16 clips / batch 8
        assert [entry["epochs"] for entry in trial.metrics["rungs"]] == [1, 2]
    assert all(t.epochs == 1 and t.metrics["epochs_trained"] == 1 for t in trials if t.rung == 0)


@pytest.mark.slow
def test_children_inherit_their_parents_weights_when_asked(tmp_path):
    from videonas import data

    data.embedded_dataset("smoke", seed=0)
    config = {**SMOKE, "num_trials": 6, "batch_size": 2, "rungs": {"epochs": [1, 2], "keep": 0.5, "inherit": True}}
    experiment = run_search("inherit", store=tmp_path / "s.sqlite", seed=0, progress=False,
                            strategy={"name": "regularized", "options": {"population_size": 2}}, **config)
    trials = experiment.trials()
    children = [t for t in trials if t.parent is not None and t.status == "done"]
    assert children and all(t.metrics.get("inherited_layers", 0) > 0 for t in children)
    assert all("inherited_layers" not in t.metrics for t in trials if t.parent is None)
    # Only the population's latest checkpoints are kept, for the children still to come.
    kept = sorted(path.name for path in (tmp_path / "s.sqlite.checkpoints" / "inherit").iterdir())
    assert 0 < len(kept) <= 2


def fail_when_promoted(genome, *, seed, fidelity=None, **options):
    """The synthetic trial function, except that candidates starting with 0 fail whenever they are promoted."""
    from videonas.search import synthetic

    if fidelity is not None and fidelity.start_epochs > 0 and genome.values[0] == 0:
        raise RuntimeError("failed on a higher rung")
    return synthetic.evaluate(genome, seed=seed, fidelity=fidelity, **options)


def test_a_candidate_failing_on_a_higher_rung_keeps_the_promotions_a_rerun_would_make(tmp_path):
    config = {**SEARCH, "num_trials": 18, "evaluate": "test_search_rungs:fail_when_promoted"}
    first = run_search("fails-later", store=tmp_path / "s.sqlite", progress=False, **config)
    failed = [t for t in first.trials() if t.status == "failed"]
    assert failed and all(t.rung >= 1 and t.metrics["rungs"][0]["fitness"] is not None for t in failed)
    # Every round reads as complete: a resume recomputes the same promotions, with the failed candidates among them.
    from videonas.search import rungs

    for round_index in {t.round for t in first.trials()}:
        round_trials = [t for t in first.trials() if t.round == round_index]
        assert rungs.climbed(round_trials, (1, 3, 9), 0.34)
    again = run_search("fails-later", store=tmp_path / "s.sqlite", progress=False, **config)  # nothing left to do
    assert _rows(again) == _rows(first)
