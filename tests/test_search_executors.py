"""Executors: the same seed gives the same genomes and results whatever runs the candidates and in what order."""

from __future__ import annotations

import pytest

from videonas.search import InProcessExecutor, Job, make_executor, run_search
from videonas.search.executors import call_trial, resolve
from videonas.search.synthetic import ToyGenome, ToySpace

SYNTHETIC = "videonas.search.synthetic:evaluate"


def _search(tmp_path, name, executor, executor_options=None, jitter_s=0.0, num_trials=8, batch_size=4):
    experiment = run_search(name, space=ToySpace(length=8, choices=3), store=tmp_path / f"{name}.sqlite",
                            num_trials=num_trials, strategy="regularized",
                            strategy_options={"population_size": batch_size}, batch_size=batch_size, seed=3,
                            evaluate=SYNTHETIC, evaluate_options={"jitter_s": jitter_s},
                            executor=executor, executor_options=executor_options, progress=False)
    return [(t.index, t.genome_key, t.parent, t.status, t.fitness) for t in experiment.trials()]


@pytest.mark.slow
def test_subprocess_pool_gives_the_in_process_sequence(tmp_path):
    expected = _search(tmp_path, "inprocess", "inprocess")
    # Genome-dependent delays make the two workers finish out of ask order.
    got = _search(tmp_path, "subprocess", "subprocess", {"max_workers": 2}, jitter_s=0.3)
    assert got == expected
    assert all(status == "done" for *_, status, _ in got)
    assert any(parent is not None for _, _, parent, _, _ in got)  # the second round mutated parents


@pytest.mark.slow
def test_ray_gives_the_in_process_sequence_and_trains_real_candidates(tmp_path):
    """The one Ray test (a local Ray takes ~20 s to start here): synthetic determinism, then a real TVN smoke search."""
    import ray

    from test_train import check_smoke_trials, smoke_tvn_search

    # Two rounds of two: Ray starts a fresh worker per task, which takes seconds on a loaded 2-core machine.
    expected = _search(tmp_path, "inprocess", "inprocess", num_trials=4, batch_size=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        got = _search(tmp_path, "ray", "ray", {"max_workers": 2, "timeout_s": 120}, jitter_s=0.2, num_trials=4,
                      batch_size=2)
        real = smoke_tvn_search(tmp_path / "tvn.sqlite", executor="ray",
                                executor_options={"max_workers": 2, "timeout_s": 300}, num_trials=2)
    finally:
        ray.shutdown()
    assert got == expected
    assert got[2][2] is not None  # the second round mutated a parent
    check_smoke_trials(real.trials(), 2)


def test_in_process_executor_yields_results_in_job_order():
    genomes = [ToyGenome((v, 0, 1), 3) for v in range(3)]
    started = []
    results = list(InProcessExecutor().run(SYNTHETIC, [Job(g, seed=0) for g in genomes], on_start=started.append))
    assert started == [0, 1, 2]
    assert [position for position, _ in results] == [0, 1, 2]
    space = ToySpace(length=3, choices=3)
    assert [r.fitness for _, r in results] == [space.fitness(g) for g in genomes]


def test_call_trial_turns_exceptions_into_failed_results():
    result = call_trial(SYNTHETIC, ToyGenome((1, 0), 3), 0, {"failures": {"1": "raise"}})
    assert result.status == "failed" and result.error.startswith("RuntimeError: synthetic failure")
    result = call_trial(SYNTHETIC, ToyGenome((1, 0), 3), 0, {"failures": {"1": "teleport"}})
    assert result.status == "failed" and "failures values" in result.error


def test_bad_executor_arguments_raise_value_error():
    with pytest.raises(ValueError, match="executor"):
        make_executor("threads")
    with pytest.raises(ValueError, match="max_workers"):
        make_executor("subprocess", max_workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        make_executor("subprocess", timeout_s=0)
    with pytest.raises(ValueError, match="module:function"):
        resolve("videonas.search.synthetic.evaluate")
