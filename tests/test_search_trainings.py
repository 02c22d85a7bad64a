"""The fixed networks' trainings store: a comparison run again trains only what it had not finished."""

import itertools

import pytest

from videonas.experiments import summaries
from videonas.search import executors, trainings
from videonas.search.synthetic import ToyGenome

SYNTHETIC = "videonas.search.synthetic:evaluate"


class CountingExecutor(executors.InProcessExecutor):
    """The in-process executor, remembering the seeds it actually trained."""

    def __init__(self):
        super().__init__()
        self.trained = []

    def run(self, function, jobs, on_start=None):
        for position, result in super().run(function, jobs, on_start):
            self.trained.append(jobs[position].seed)
            yield position, result


def jobs(count=4, **options):
    genome = ToyGenome(values=(1, 2, 0), choices=3)
    return [executors.Job(genome=genome, seed=seed, options=options) for seed in range(count)]


def test_a_second_run_answers_every_finished_job_from_the_file(tmp_path):
    first = CountingExecutor()
    before = dict(trainings.StoredExecutor(first, tmp_path / "t.sqlite").run(SYNTHETIC, jobs()))
    second = CountingExecutor()
    stored = trainings.StoredExecutor(second, tmp_path / "t.sqlite")
    after = dict(stored.run(SYNTHETIC, jobs()))
    assert first.trained == [0, 1, 2, 3] and second.trained == []
    assert stored.hits == 4
    assert {p: (r.fitness, r.metrics["seed"]) for p, r in after.items()} == \
        {p: (r.fitness, r.metrics["seed"]) for p, r in before.items()}


def test_a_killed_run_keeps_what_finished_and_trains_only_the_rest(tmp_path):
    running = trainings.StoredExecutor(CountingExecutor(), tmp_path / "t.sqlite").run(SYNTHETIC, jobs())
    list(itertools.islice(running, 2))  # two trainings finish, then the run is killed
    running.close()
    again = CountingExecutor()
    results = dict(trainings.StoredExecutor(again, tmp_path / "t.sqlite").run(SYNTHETIC, jobs()))
    assert again.trained == [2, 3]
    assert sorted(results) == [0, 1, 2, 3] and all(r.status == "done" for r in results.values())


def test_a_failed_training_is_not_kept(tmp_path):
    failing = jobs(2, failures={"1": "raise"})
    first = dict(trainings.StoredExecutor(CountingExecutor(), tmp_path / "t.sqlite").run(SYNTHETIC, failing))
    assert {r.status for r in first.values()} == {"failed"}
    again = CountingExecutor()
    list(trainings.StoredExecutor(again, tmp_path / "t.sqlite").run(SYNTHETIC, failing))
    assert again.trained == [0, 1]


@pytest.mark.parametrize("change", ["seed", "options", "genome", "function"])
def test_the_key_changes_with_whatever_decides_the_result(change):
    job = jobs(1, target_seed=0)[0]
    other = {"seed": executors.Job(job.genome, 1, job.options),
             "options": executors.Job(job.genome, job.seed, {"target_seed": 1}),
             "genome": executors.Job(ToyGenome(values=(1, 2, 1), choices=3), job.seed, job.options),
             "function": job}[change]
    function = "other:evaluate" if change == "function" else SYNTHETIC
    assert trainings.job_key(SYNTHETIC, job) != trainings.job_key(function, other)
    assert trainings.job_key(SYNTHETIC, job) == trainings.job_key(SYNTHETIC, jobs(1, target_seed=0)[0])


def test_a_fresh_run_of_a_notebook_removes_the_trainings_and_a_resumed_one_keeps_them(tmp_path):
    folder = summaries.output_folder("x", output_dir=tmp_path)
    list(summaries.stored_trainings(CountingExecutor(), folder).run(SYNTHETIC, jobs(1)))
    summaries.output_folder("x", output_dir=tmp_path, resume=True)
    assert (folder / summaries.TRAININGS).exists()
    summaries.output_folder("x", output_dir=tmp_path)
    assert not (folder / summaries.TRAININGS).exists()


def test_a_named_models_job_has_a_key_and_its_options_read_back():
    from videonas import train

    options = train.typed_options({"task": {"dataset": "embedded:smoke"}, "model": "r2plus1d-18",
                                   "model_options": {"width_multiplier": 0.25}})
    assert train.typed_options(options.to_dict()) == options
    wider = train.typed_options({**options.to_dict(), "model_options": {"width_multiplier": 0.5}})
    key = trainings.job_key("videonas.train:evaluate_model", executors.Job(None, 0, options))
    assert key != trainings.job_key("videonas.train:evaluate_model", executors.Job(None, 0, wider))


def test_trainings_on_another_backend_are_not_answered_from_the_file(tmp_path):
    list(trainings.StoredExecutor(CountingExecutor(), tmp_path / "t.sqlite").run(SYNTHETIC, jobs(2)))

    class OnTorch(CountingExecutor):
        backend = "torch"

    torch_runner = OnTorch()
    list(trainings.StoredExecutor(torch_runner, tmp_path / "t.sqlite").run(SYNTHETIC, jobs(2)))
    assert torch_runner.trained == [0, 1]  # a result depends on the backend: trained again
    job = jobs(1)[0]
    assert trainings.job_key(SYNTHETIC, job) == trainings.job_key(SYNTHETIC, job, "tensorflow")  # old keys hold
    assert "backend" not in trainings.job_description(SYNTHETIC, job)
    assert trainings.job_description(SYNTHETIC, job, "torch")["backend"] == "torch"
