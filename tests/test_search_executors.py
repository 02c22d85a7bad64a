"""Executors: the same seed gives the same genomes and results whatever runs the candidates and in what order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from videonas.search import InProcessExecutor, Job, SubprocessExecutor, TrialStore, make_executor, run_search
from videonas.search.executors import call_trial, resolve
from videonas.search.store import TrialResult
from videonas.search.synthetic import ToyGenome, ToySpace

SYNTHETIC = "videonas.search.synthetic:evaluate"


def _search(tmp_path, name, executor, executor_options=None, jitter_s=0.0, num_trials=8, batch_size=4):
    experiment = run_search(name, space=ToySpace(length=8, choices=3), store=tmp_path / f"{name}.sqlite",
                            num_trials=num_trials,
                            strategy={"name": "regularized", "options": {"population_size": batch_size}},
                            batch_size=batch_size, seed=3,
                            evaluate={"function": SYNTHETIC, "options": {"jitter_s": jitter_s}},
                            executor={"kind": executor, "options": executor_options or {}}, progress=False)
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


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _wait_until(condition, seconds=60):
    """Poll ``condition`` until it holds or a grace period passes; returns its last value."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return condition()


@pytest.mark.slow
def test_sigkilled_driver_leaves_no_worker_and_no_folder_and_resumes_exactly(tmp_path):
    from test_search_store import TOY_SEARCH, rows, start_driver, wait_for_running_trial

    store_path, gate, pid_dir = tmp_path / "k.sqlite", tmp_path / "gate", tmp_path / "pids"
    pid_dir.mkdir()
    options = dict(evaluate={"function": "test_search_store:gated_evaluate",
                             "options": {"gate": str(gate), "pid_dir": str(pid_dir)}},
                   executor={"kind": "subprocess", "options": {"max_workers": 2}})
    driver = start_driver(tmp_path, store_path, **options)
    wait_for_running_trial(store_path, driver)
    assert _wait_until(lambda: len(list(pid_dir.iterdir())) == 2), "both workers must be running their trial"
    workers = [int(p.name) for p in pid_dir.iterdir()]
    assert len(list(tmp_path.glob("videonas-trials-*"))) == 1
    os.kill(driver.pid, signal.SIGKILL)
    driver.communicate()

    assert _wait_until(lambda: not any(_alive(pid) for pid in workers)), "workers outlived their driver"
    assert _wait_until(lambda: not list(tmp_path.glob("videonas-trials-*"))), "the run folder was left behind"

    gate.touch()
    resumed = start_driver(tmp_path, store_path, **options)
    _, error = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, error
    reference = run_search("exp", space=ToySpace(length=6, choices=3), store=tmp_path / "one.sqlite",
                           progress=False, evaluate=SYNTHETIC, executor="inprocess", **TOY_SEARCH)
    with TrialStore(store_path) as store:
        assert rows(store.trials("exp")) == rows(reference.trials())
    assert not list(tmp_path.glob("videonas-trials-*"))


def test_stale_run_folders_of_ended_drivers_are_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    stale = tmp_path / f"videonas-trials-{ended.pid}-abc"
    live = tmp_path / f"videonas-trials-{os.getppid()}-abc"
    unrelated = tmp_path / "videonas-trials-abc"
    for folder in (stale, live, unrelated):
        folder.mkdir()
    executor = SubprocessExecutor()
    results = list(executor.run(SYNTHETIC, [Job(ToyGenome((1, 0), 3), seed=0)]))
    executor.close()
    assert results[0][1].status == "done"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, unrelated.name])


def test_workers_import_the_drivers_package_whatever_the_working_directory(tmp_path, monkeypatch):
    import videonas

    monkeypatch.chdir(tmp_path)
    executor = SubprocessExecutor()
    results = list(executor.run("videonas.search.synthetic:evaluate",
                                [Job(ToyGenome((0, 1), 3), seed=0, options={"failures": {"0": "raise"}})]))
    executor.close()
    # The traceback names the synthetic module's file: it must be this checkout's.
    assert str(Path(videonas.__file__).resolve().parent) in results[0][1].error


def _pool_run(executor, values, **options):
    jobs = [Job(ToyGenome((v, 1, 2), 3), seed=0, options=options) for v in values]
    try:
        return dict(executor.run(SYNTHETIC, jobs)), executor.started_workers
    finally:
        executor.close()


def test_pool_workers_serve_many_candidates_and_are_recycled_when_due():
    results, started = _pool_run(SubprocessExecutor(max_workers=2), [0, 1, 2, 0, 1, 2])
    assert started == 2 and all(r.status == "done" for r in results.values())
    assert max(r.metrics["worker"]["served"] for r in results.values()) >= 2
    # After its first candidate a worker freezes the imported heap, so later full collections skip it.
    assert all(r.metrics["worker"]["frozen_objects"] > 1000 for r in results.values())
    results, started = _pool_run(SubprocessExecutor(max_workers=1, trials_per_worker=2), [0, 1, 2, 0, 1])
    assert started == 3 and [r.metrics["worker"]["served"] for _, r in sorted(results.items())] == [1, 2, 1, 2, 1]
    # A worker whose memory passes the limit after a candidate is replaced before the next one.
    results, started = _pool_run(SubprocessExecutor(max_workers=1, worker_memory_mib=1.0), [0, 1, 2])
    assert started == 3 and all(r.metrics["worker"]["served"] == 1 for r in results.values())


def test_without_a_memory_limit_a_pool_keeps_its_workers_under_half_the_machine():
    from videonas.search import pool

    total_mib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    assert SubprocessExecutor(max_workers=2).worker_memory_mib == pytest.approx(total_mib / 4)
    assert SubprocessExecutor(max_workers=1, worker_memory_mib=512.0).worker_memory_mib == 512.0
    assert pool.default_worker_memory_mib(4) == pytest.approx(total_mib / 8)


def test_a_dead_worker_is_replaced_and_the_next_candidates_run():
    results, started = _pool_run(SubprocessExecutor(max_workers=1), [1, 0, 2], failures={"1": "exit"})
    assert results[0].status == "failed" and results[0].error == "worker died (exit code 3)"
    assert results[1].status == results[2].status == "done" and started == 2


class _Recording(InProcessExecutor):
    """Trains nothing: answers each job with a fitness taken from its genome's key, and records the dispatch order."""

    def __init__(self):
        super().__init__()
        self.dispatched = []

    def run(self, function, jobs, on_start=None):
        for position, job in enumerate(jobs):
            self.dispatched.append(job.genome)
            yield position, TrialResult(fitness=int(job.genome.key[:6], 16) / 16**6)


def test_a_round_is_dispatched_largest_first_and_each_result_stays_with_its_trial(tmp_path):
    from videonas import families

    space = {"family": "tvn", "options": {"image_sizes": [32, 48], "frame_counts": [1, 2, 4, 8], "max_blocks": 3,
                                          "filters": [16, 32, 64], "max_repeats": 2, "allow_non_local": False}}
    runner = _Recording()
    experiment = run_search("order", space=space, store=tmp_path / "s.sqlite", num_trials=6, strategy="random",
                            batch_size=6, seed=4, task={"dataset": "embedded:smoke"}, executor=runner, progress=False)
    tvn = families.get("tvn")
    flops = [tvn.estimate_cost(genome, num_classes=2)["flops"] for genome in runner.dispatched]
    assert flops == sorted(flops, reverse=True) and len(set(flops)) > 1
    trials = experiment.trials()
    assert [t.index for t in trials] == list(range(6))
    asked = [t.genome_key for t in trials]
    assert asked != [g.key for g in runner.dispatched]  # the order did change, and nothing else did:
    assert sorted(asked) == sorted(g.key for g in runner.dispatched)
    assert all(t.fitness == int(t.genome_key[:6], 16) / 16**6 for t in trials)
