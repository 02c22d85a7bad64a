"""Trial evaluation: constraints before training, time budget, NaN stop, repeatable training, mAP for multi-label.

The procedure is tested with a tiny stand-in model and in-memory clips (fast, independent of the builders); the
end-to-end smoke searches on the embedded dataset with real TVN genomes are the slow tests at the bottom.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import types

import numpy
import pytest

import videonas
from videonas.search.constraints import Constraints
from tiny_family import TINY, TinyGenome, build_tiny
from videonas.task import Budget, TrainTask, TrialOptions
from videonas.train import evaluate_trial, fit_and_score, train_candidate

NUM_CLASSES = 3


@dataclasses.dataclass
class _Clips:
    rgb: numpy.ndarray
    labels: numpy.ndarray
    multi_label: bool
    flow: None = None
    paths: list = dataclasses.field(default_factory=list)

    def __len__(self):
        return len(self.labels)


def _fake_modules(monkeypatch, *, multi_label=False, nan=False, calls=None):
    """The tiny test family (registered for the test) and stand-ins for ``videonas.data`` and ``videonas.metrics``
    with the documented interfaces."""
    import keras

    from videonas import families

    calls = calls if calls is not None else []
    family = dataclasses.replace(TINY, builder=functools.partial(build_tiny, nan=nan))
    monkeypatch.setitem(families.FAMILIES, "tiny", family)

    def load_clips(dataset, split, spec, **loader_options):
        calls.append(split)
        rng = numpy.random.default_rng(0 if split == "train" else 1)
        labels = rng.integers(NUM_CLASSES, size=24)
        rgb = numpy.zeros((24, 2, 8, 8, 3), "uint8")
        rgb[..., 0] = (labels * 100)[:, None, None, None]  # learnable: the red level tells the class
        if multi_label:
            labels = numpy.eye(NUM_CLASSES, dtype="float32")[labels]
        return _Clips(rgb, labels, multi_label)

    class ClipBatches(keras.utils.PyDataset):
        def __init__(self, clips, *, batch_size, shuffle, seed, inputs, augment=False, start_epoch=0, sampler=None):
            super().__init__()
            self.clips, self.batch_size = clips, batch_size
            self.order = numpy.random.default_rng(seed).permutation(len(clips)) if shuffle else numpy.arange(len(clips))

        def __len__(self):
            return -(-len(self.clips) // self.batch_size)

        def __getitem__(self, index):
            rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
            return {"rgb": self.clips.rgb[rows].astype("float32") / 255.0}, self.clips.labels[rows]

    def top_k_accuracy(labels, scores, k=1):
        return float(numpy.mean(numpy.argmax(scores, axis=1) == labels))

    def mean_average_precision(multi_hot, scores):
        ranks = numpy.argsort(-scores, axis=0)
        precisions = []
        for column in range(multi_hot.shape[1]):
            hits = multi_hot[ranks[:, column], column]
            precisions.append(numpy.sum(numpy.cumsum(hits) / numpy.arange(1, len(hits) + 1) * hits) / hits.sum())
        return float(numpy.mean(precisions))

    dataset = types.SimpleNamespace(class_names=[f"c{i}" for i in range(NUM_CLASSES)], splits=["train", "val"])
    spec = types.SimpleNamespace(format="embedded", open=lambda: dataset)
    spec.with_options = lambda **options: spec
    specs = types.SimpleNamespace(from_value=lambda value: spec)
    data = types.SimpleNamespace(DatasetSpec=specs, load_clips=load_clips,
                                 ClipBatches=ClipBatches, ClipSpec=lambda **kw: kw)
    metrics = types.SimpleNamespace(top_k_accuracy=top_k_accuracy, mean_average_precision=mean_average_precision)
    for name, module in (("data", data), ("metrics", metrics)):
        monkeypatch.setattr(videonas, name, module, raising=False)
        monkeypatch.setitem(sys.modules, f"videonas.{name}", module)
    return calls


TASK = TrainTask(batch_size=8, learning_rate=0.05, num_frames=2, image_size=8)


@pytest.mark.slow
def test_training_is_repeatable_and_learns(monkeypatch):
    _fake_modules(monkeypatch)
    genome = TinyGenome(8)
    first = train_candidate(genome, task=TASK, budget=Budget(epochs=8), seed=3)
    again = train_candidate(genome, task=TASK, budget=Budget(epochs=8), seed=3)
    assert first.status == "done" and first.metrics["steps"] == 8 * 3
    assert first.metrics["loss_curve"] == pytest.approx(again.metrics["loss_curve"], rel=1e-5)
    assert first.fitness == again.fitness == first.metrics["accuracy"]
    assert first.metrics["backend"] == "tensorflow"  # which backend trained it, for the report
    assert first.metrics["loss_curve"][-1] < first.metrics["loss_curve"][0]
    timings = first.metrics["timings"]
    assert set(timings) >= {"import_s", "build_s", "constraints_s", "data_s", "fit_s", "first_step_s", "eval_s"}
    assert first.params == 3 * 8 + 8 + 8 * NUM_CLASSES + NUM_CLASSES


def test_constraint_breaker_is_rejected_before_loading_data(monkeypatch):
    calls = _fake_modules(monkeypatch)
    options = TrialOptions.from_dict({"task": {"batch_size": 8, "num_frames": 2, "image_size": 8},
                                      "budget": {"epochs": 1}, "constraints": {"max_params": 20}})
    result = evaluate_trial(TinyGenome(8), seed=0, options=options)
    assert result.status == "rejected" and result.params > 20 and result.rejected_by == "max_params"
    assert result.error == f"params {result.params} > limit 20"
    assert calls == []  # no clip was loaded, no step trained


@pytest.mark.slow
def test_nan_loss_stops_training_and_fails(monkeypatch):
    _fake_modules(monkeypatch, nan=True)
    result = train_candidate(TinyGenome(8), task=TASK, budget=Budget(epochs=5), seed=0)
    assert result.status == "failed" and result.error.startswith("NaN loss")
    assert result.metrics["steps"] == 1  # TerminateOnNaN stopped at the first step


@pytest.mark.slow
def test_time_budget_stops_training_and_multi_label_reports_map(monkeypatch):
    _fake_modules(monkeypatch, multi_label=True)
    task = dataclasses.replace(TASK, multi_label=True)
    result = train_candidate(TinyGenome(8), task=task, budget=Budget(epochs=1000, seconds=0.5), seed=0)
    assert result.status == "done" and result.metrics["stopped_by_time"]
    assert result.metrics["steps"] < 1000 * 3
    assert result.fitness == result.metrics["mAP"] and 0.0 <= result.fitness <= 1.0


def test_bad_task_and_budget_raise_value_error():
    with pytest.raises(ValueError, match="dataset"):
        TrainTask(dataset="embedded:huge")
    with pytest.raises(ValueError, match="batch_size"):
        TrainTask(batch_size=0)
    with pytest.raises(ValueError, match="classes must be a list of class names, got 'motion_left'"):
        TrainTask(classes="motion_left")
    assert TrainTask.from_dict({"classes": ["a", "b"]}).classes == ("a", "b")
    with pytest.raises(ValueError, match="epochs"):
        Budget(epochs=0)
    with pytest.raises(ValueError, match="unknown keys"):
        Budget.from_dict({"minutes": 3})
    assert Constraints.from_dict(None) == Constraints()


@pytest.mark.slow
@pytest.mark.other_backend
def test_training_runs_on_the_torch_backend():
    import os
    import pathlib
    import subprocess

    code = f"""
import sys
sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
import keras, pytest, test_train
from tiny_family import TinyGenome
from videonas.task import Budget
from videonas.train import train_candidate
test_train._fake_modules(pytest.MonkeyPatch())
result = train_candidate(TinyGenome(8), task=test_train.TASK, budget=Budget(epochs=2), seed=0)
print(keras.backend.backend(), result.status, result.metrics["steps"], 0.0 <= result.fitness <= 1.0)
"""
    output = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": "torch"},
                            capture_output=True, text=True, timeout=300)
    assert output.stdout.split()[-4:] == ["torch", "done", "6", "True"], output.stderr[-2000:]


SMOKE_SPACE = {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [2, 4], "min_blocks": 2,
                                            "max_blocks": 2, "filters": [16, 32], "max_repeats": 1,
                                            "allow_non_local": False}}
SMOKE_OPTIONS = {"task": {"dataset": "embedded:smoke", "batch_size": 8, "max_train_clips": 32, "max_val_clips": 16,
                          "threads": 1, "run_eagerly": True},
                 "budget": {"epochs": 1}}


def smoke_tvn_search(store, *, executor, executor_options, num_trials=3):
    """A real TVN search on the embedded dataset with tiny budgets (shared with the Ray test)."""
    from videonas import data
    from videonas.search import run_search

    data.embedded_dataset("smoke", seed=0)  # generate once here, not in two workers at the same time
    return run_search("tvn-smoke", space=SMOKE_SPACE, store=store, num_trials=num_trials,
                      strategy={"name": "mutate-best", "options": {"population_size": 2}}, batch_size=2, seed=0,
                      **SMOKE_OPTIONS, executor={"kind": executor, "options": executor_options or {}},
                      progress=False)


def check_smoke_trials(trials, num_trials):
    assert len(trials) == num_trials
    done = [t for t in trials if t.status == "done"]
    assert done, [t.error for t in trials]
    for trial in done:
        assert 0.0 <= trial.fitness <= 1.0 and trial.fitness == trial.metrics["accuracy"]
        assert trial.epochs == 1  # the training it received: the budget the search spends
        assert trial.params > 0 and trial.flops > 0
        assert trial.metrics["steps"] == 4 and trial.metrics["num_val_clips"] == 16  # 32 clips / batch 8, 1 epoch
        assert len(trial.metrics["loss_curve"]) == 4 and trial.metrics["train_seconds"] > 0
    if num_trials > 2:
        assert trials[2].parent in (0, 1)  # the third candidate mutates the best of the first two


@pytest.mark.slow
def test_smoke_tvn_search_through_the_subprocess_pool(tmp_path):
    """One warm worker training every candidate gives the same results as a fresh process per candidate."""
    warm = smoke_tvn_search(tmp_path / "warm.sqlite", executor="subprocess",
                            executor_options={"max_workers": 1, "timeout_s": 300})
    fresh = smoke_tvn_search(tmp_path / "fresh.sqlite", executor="subprocess",
                             executor_options={"max_workers": 2, "timeout_s": 300, "trials_per_worker": 1})
    check_smoke_trials(warm.trials(), 3)
    assert sorted(t.metrics["worker"]["served"] for t in warm.trials()) == [1, 2, 3]  # dispatched largest first
    assert [t.metrics["worker"]["served"] for t in fresh.trials()] == [1, 1, 1]
    assert [(t.genome_key, t.fitness, t.metrics["loss_curve"]) for t in warm.trials()] == \
        [(t.genome_key, t.fitness, t.metrics["loss_curve"]) for t in fresh.trials()]
    assert {t.host for t in warm.trials()} == {warm.trials()[0].host}


@pytest.mark.slow
@pytest.mark.other_backend
def test_a_search_with_rungs_trains_on_torch_workers(tmp_path):
    """``executor.options.env.KERAS_BACKEND: torch`` (the EvaNet and AssembleNet default profiles): candidates train
    on torch, the rung's survivor continues from its torch checkpoint, and every result says which backend."""
    from videonas import data
    from videonas.search import run_search

    data.embedded_dataset("smoke", seed=0)
    experiment = run_search("torch-rungs", space=SMOKE_SPACE, store=tmp_path / "torch.sqlite", num_trials=2,
                            strategy="random", batch_size=2, seed=0, rungs={"epochs": [1, 2]},
                            task=SMOKE_OPTIONS["task"], executor={"kind": "subprocess", "options": {
                                "max_workers": 1, "timeout_s": 300, "env": {"KERAS_BACKEND": "torch"}}},
                            progress=False)
    trials = experiment.trials()
    assert [t.status for t in trials] == ["done"] * len(trials), [t.error for t in trials]
    assert {t.metrics["backend"] for t in trials} == {"torch"}
    assert sorted(t.epochs for t in trials) == [1, 2]  # the better one went on to the top rung
    promoted = max(trials, key=lambda t: t.epochs)
    assert promoted.metrics["steps"] == 4 and len(promoted.metrics["loss_curve"]) == 4  # one more epoch, resumed


@pytest.mark.slow
def test_train_model_gives_a_baseline_the_candidate_recipe():
    from videonas import models, measure
    from videonas.train import train_model

    task = TrainTask(num_frames=2, image_size=16, max_train_clips=16, max_val_clips=13, batch_size=8)
    model = models.create_model("r3d-18", num_classes=13, num_frames=2, image_size=16, width_multiplier=0.125)
    result = train_model(model, task=task, budget=Budget(epochs=2), seed=0)
    assert result.status == "done" and result.params == measure.count_params(model)
    assert result.metrics["num_train_clips"] == 16 and result.metrics["steps"] == 2 * 2
    assert result.fitness == result.metrics["accuracy"] and 0.0 <= result.fitness <= 1.0
    assert set(result.metrics["accuracy_by_kind"]) == {"motion", "scene"}


def test_sampling_is_off_by_default_and_its_errors_name_the_field():
    spec = TrainTask().clip_spec(inputs=("rgb",))
    assert TrainTask().sampling.window_spec(spec) is spec  # the same cache entry as before the options
    assert TrainTask().sampling.samplers(spec, training=True) == [None] == TrainTask().sampling.samplers(
        spec, training=False)
    assert "sampling" not in TrainTask().to_dict()  # stored tasks from before the options compare equal
    task = TrainTask.from_dict({"sampling": {"window_frames": 32, "cache_scale": 1.25, "crop_scale": [0.08, 1],
                                             "eval_clips": 10, "eval_crops": 3, "fps": 10}})
    assert TrainTask.from_dict(task.to_dict()) == task and task.to_dict()["sampling"]["crop_scale"] == [0.08, 1.0]
    spec = task.clip_spec(inputs=("rgb",))
    assert (spec.fps, task.sampling.window_spec(spec).num_frames, task.sampling.window_spec(spec).image_size) == (
        10, 32, 80)
    assert len(task.sampling.samplers(spec, training=False)) == 30
    for sampling, message in (
            ({"window_frame": 16}, r"task.sampling has unknown keys \['window_frame'\]"),
            ({"crop_scale": [0.5, 0.1]}, r"task.sampling.crop_scale must be \[low, high\] with low <= high, got "),
            ({"crop_scale": 0.5}, "task.sampling.crop_scale must be a .low, high. pair, got 0.5"),
            ({"eval_clips": 3}, "task.sampling.eval_clips 3 needs task.sampling.window_frames"),
            ({"eval_crops": 3}, r"task.sampling.eval_crops 3 needs task.sampling.cache_scale > 1"),
            ({"cache_scale": 0.5}, r"task.sampling.cache_scale must be in \[1.0, 4.0\], got 0.5"),
            ({"segments": "yes"}, "task.sampling.segments must be true or false, got 'yes'"),
            ({"segments": True, "fps": 8}, "task.sampling.segments spreads the frames over the whole video")):
        with pytest.raises(ValueError, match=message):
            TrialOptions.from_dict({"task": {"sampling": sampling}})
    with pytest.raises(ValueError, match="task.sampling.fps 10 and task.frame_stride 2 both set the sampling rate"):
        TrainTask(frame_stride=2, sampling={"fps": 10})
    assert TrainTask.from_dict({"sampling": {"segments": True}}).clip_spec(inputs=("rgb",)).sampling == "segments"


def test_predict_averages_the_logits_of_every_view(monkeypatch):
    """A model whose logits are its input's channel means: the average over 3 clips x 2 crops of a window whose
    channel 0 is the frame index squared and channel 1 the column squared, not the centre view's."""
    import keras

    from videonas import data, train

    loaded = []

    def load_clips(dataset, split, spec, **loader_options):
        loaded.append((split, spec.num_frames, spec.image_size))
        rgb = numpy.zeros((4, spec.num_frames, spec.image_size, spec.image_size, 3), "uint8")
        rgb[..., 0] = (numpy.arange(spec.num_frames) ** 2)[None, :, None, None]
        rgb[..., 1] = (numpy.arange(spec.image_size) ** 2)[None, None, None, :]
        return data.Clips(rgb, None, numpy.arange(4) % 3, ["a", "b", "c"], False, data.LoadReport(4), spec, [""] * 4)

    monkeypatch.setattr(data, "load_clips", load_clips)
    inputs = keras.Input((None, None, None, 3), name="rgb")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling3D()(inputs))
    dataset = types.SimpleNamespace(class_names=["a", "b", "c"], splits=["train", "val", "test"])
    task = TrainTask(num_frames=2, image_size=8, sampling={"window_frames": 6, "cache_scale": 1.5, "eval_clips": 3,
                                                           "eval_crops": 2})
    scores, clips = train.predict(model, task=task, split="test", dataset=dataset)
    assert loaded == [("test", 6, 12)] and len(clips) == 4 and scores.dtype == numpy.float64
    squares = numpy.arange(12) ** 2
    # Clips from frames 0, 2 and 4 of the window; crops from columns 0 and 4 of the 12-pixel square.
    expected = [(squares[0:2].mean() + squares[2:4].mean() + squares[4:6].mean()) / 3 / 255,
                (squares[0:8].mean() + squares[4:12].mean()) / 2 / 255, 0.0]
    assert numpy.allclose(scores, [expected] * 4, atol=1e-6)
    centre, _ = train.predict(model, task=dataclasses.replace(task, sampling={"window_frames": 6, "cache_scale": 1.5}),
                              split="test", dataset=dataset)
    assert numpy.allclose(centre[0], [squares[2:4].mean() / 255, squares[2:10].mean() / 255, 0.0], atol=1e-6)


@pytest.mark.slow
def test_a_tvn_trains_on_jittered_cropped_windows_and_scores_views_repeatably():
    """The real path: windows cached from the embedded data at 4 frames and 40 px for a 2-frame 32 px TVN."""
    from videonas.genome.tvn import TVNBlock, TVNGenome

    genome = TVNGenome(image_size=32, num_frames=2, frame_stride=1, blocks=(TVNBlock(filters=8, spatial_stride=2),) * 2)
    task = TrainTask(batch_size=8, max_train_clips=16, max_val_clips=6, threads=1, run_eagerly=True, score_test=False,
                     sampling={"window_frames": 4, "cache_scale": 1.25, "crop_scale": [0.5, 1.0], "eval_clips": 2,
                               "eval_crops": 2})
    first = train_candidate(genome, task=task, budget=Budget(epochs=2), seed=5)
    again = train_candidate(genome, task=task, budget=Budget(epochs=2), seed=5)
    assert first.status == "done" and first.metrics["steps"] == 4 and first.metrics["num_val_clips"] == 6
    assert first.metrics["loss_curve"] == pytest.approx(again.metrics["loss_curve"], rel=1e-6)
    assert first.fitness == again.fitness


def _scripted_scores(monkeypatch, script):
    """Validation and test scores taken in turn from ``script`` (a forced schedule), and the model's weights at each
    scoring, by split: what each score was computed with."""
    from videonas import train

    seen, scores, predict = [], iter(script), train.predict

    def recording_predict(model, *, task, split="val", **options):
        seen.append((split, [numpy.array(w) for w in model.get_weights()]))
        return predict(model, task=task, split=split, **options)

    def scripted_score(scores_, labels, *, multi_label, dataset=None):
        fitness = next(scores)
        return fitness, {"accuracy": fitness}

    monkeypatch.setattr(train, "predict", recording_predict)
    monkeypatch.setattr(train, "score", scripted_score)
    return seen


@pytest.mark.slow
def test_patience_stops_at_the_right_epoch_and_tests_the_best_epochs_weights(monkeypatch):
    _fake_modules(monkeypatch)
    videonas.data.DatasetSpec.from_value(None).open().splits.append("test")
    seen = _scripted_scores(monkeypatch, [0.2, 0.5, 0.4, 0.5, 0.3, 0.9])  # a later tie is no improvement
    result = train_candidate(TinyGenome(8), task=TASK, budget=Budget(epochs=10, patience=2), seed=3)
    assert result.status == "done" and result.fitness == 0.5 == result.metrics["accuracy"]
    metrics = result.metrics
    assert (metrics["epochs_trained"], metrics["best_epoch"], metrics["patience"]) == (4, 2, 2)
    assert metrics["steps"] == 4 * 3 and metrics["max_steps"] == 10 * 3  # 24 clips in batches of 8
    assert metrics["val_by_epoch"] == {"1": 0.2, "2": 0.5, "3": 0.4, "4": 0.5}
    assert [split for split, _ in seen] == ["val"] * 4 + ["test"]
    assert metrics["test"]["accuracy"] == 0.3
    tested, best, last = seen[4][1], seen[1][1], seen[3][1]
    assert all(numpy.array_equal(a, b) for a, b in zip(tested, best))  # restored: the best epoch is tested
    assert not all(numpy.array_equal(a, b) for a, b in zip(tested, last))


@pytest.mark.slow
def test_patience_is_deterministic_for_a_seed_and_never_passes_the_epochs(monkeypatch):
    _fake_modules(monkeypatch)
    budget = Budget(epochs=6, patience=1)
    first, again = (train_candidate(TinyGenome(8), task=TASK, budget=budget, seed=5) for _ in range(2))
    assert first.status == "done" and first.metrics["val_by_epoch"] == again.metrics["val_by_epoch"]
    assert first.metrics["best_epoch"] == again.metrics["best_epoch"] <= first.metrics["epochs_trained"] <= 6
    assert first.fitness == max(first.metrics["val_by_epoch"].values())
    assert first.metrics["steps"] == 3 * first.metrics["epochs_trained"]


def test_patience_is_checked_and_refuses_score_epochs_and_rungs():
    from videonas.task import Fidelity

    assert "patience" not in Budget(epochs=3).to_dict()  # budgets stored before the field compare equal
    assert Budget.from_dict({"epochs": 3, "patience": 2}).to_dict() == {"epochs": 3, "seconds": None, "patience": 2}
    with pytest.raises(ValueError, match=r"budget.patience must be in \[1, 100000\], got 0"):
        Budget(epochs=3, patience=0)
    with pytest.raises(ValueError, match="budget.score_epochs .* with budget.patience 2"):
        Budget(epochs=3, score_epochs=(1,), patience=2)
    with pytest.raises(ValueError, match="budget.patience 2 with a fidelity"):  # refused before anything loads
        fit_and_score(None, task=TASK, budget=Budget(epochs=3, patience=2), seed=0, fidelity=Fidelity(epochs=3))
