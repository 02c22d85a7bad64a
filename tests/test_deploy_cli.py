"""videonas trials / export / predict: a smoke TVN search with R on ONNX Runtime, its trial table, the export of its
best trial (retrained: the search kept no weights) with the manifest that describes it, a prediction on a video from
that export, and one-line errors with exit status 2."""

from __future__ import annotations

import csv
import io
import json

import numpy
import pytest
import yaml

import videonas
from videonas import data
from videonas.__main__ import main
from videonas.deploy import cli, export, predict
from videonas.search import Experiment, TrialStore

SPACE = {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [2], "frame_strides": [1], "min_blocks": 2,
                                      "max_blocks": 2, "filters": [16], "max_repeats": 1, "allow_non_local": False}}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("videonas: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def smoke_store(tmp_path_factory):
    """A 3-trial TVN smoke search whose latency limit R is measured on ONNX Runtime."""
    folder = tmp_path_factory.mktemp("search")
    config = {"name": "tvn-ort", "store": str(folder / "search.sqlite"), "space": SPACE, "num_trials": 3,
              "batch_size": 1, "strategy": {"name": "mutate-best", "options": {"population_size": 2}},
              "executor": "inprocess", "task": {"dataset": "embedded:smoke", "max_train_clips": 32, "batch_size": 8},
              "budget": {"epochs": 1},
              "constraints": {"max_latency_ms": 1000.0, "latency_runs": 3, "latency_runtime": "onnxruntime"}}
    (folder / "search.yaml").write_text(yaml.safe_dump(config))
    assert main(["search", "--config", str(folder / "search.yaml"), "--no-progress"]) == 0
    return folder / "search.sqlite"


@pytest.mark.slow
def test_a_tvn_search_measures_r_on_onnx_runtime(smoke_store):
    trials = Experiment("tvn-ort", TrialStore(smoke_store)).trials()
    assert trials and all(t.status == "done" for t in trials), [t.error for t in trials]
    for trial in trials:
        setup = trial.metrics["latency"]
        assert setup["runtime"] == "onnxruntime" and setup["runs"] == 3 and setup["batch_size"] == 1
        assert setup["threads"] >= 1 and setup["warmup"] == 3 and trial.latency_ms > 0


@pytest.mark.slow
def test_trials_lists_every_trial_as_table_and_csv(smoke_store, capsys):
    assert main(["trials", "--store", str(smoke_store), "--name", "tvn-ort", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["index"] for row in rows] == ["0", "1", "2"]
    assert list(rows[0]) == list(cli.COLUMNS)
    assert all(row["runtime"] == "onnxruntime" and float(row["latency_ms"]) > 0 for row in rows)
    assert main(["trials", "--store", str(smoke_store), "--name", "tvn-ort"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # The dataset's load report comes first (what the reader found), then the table.
    assert lines[0].startswith("dataset 'synthetic_actions") and "13 classes" in lines[0]
    table = lines[next(i for i, line in enumerate(lines) if line.split()[:1] == ["index"]):]
    assert table[0].split() == list(cli.COLUMNS) and len(table) == 4


@pytest.mark.slow
def test_export_the_best_trial_retrains_it_and_checks_every_runtime(smoke_store, tmp_path, capsys):
    out = tmp_path / "export"
    assert main(["export", "--store", str(smoke_store), "--name", "tvn-ort", "--out", str(out),
                 "--latency-runs", "2", "--threads", "1"]) == 0
    best = Experiment("tvn-ort", TrialStore(smoke_store)).best(1)[0]
    name = f"tvn-ort-trial{best.index}"
    manifest = json.loads((out / f"{name}.manifest.json").read_text())
    assert manifest["ok"] and manifest["source"]["trial"] == best.index
    assert manifest["source"]["weights"] is None
    assert manifest["source"]["retrained"]["recipe"] == "videonas.train.fit_and_score"
    assert manifest["check"]["clip_source"] == "given" and manifest["check"]["clips"] == export.CHECK_CLIPS
    for runtime, suffix in (("keras", ".keras"), ("onnxruntime", ".onnx"), ("litert", ".tflite")):
        assert (out / f"{name}{suffix}").is_file()
        assert manifest["check"][runtime]["max_abs_diff"] <= manifest["check"]["allowed_max_abs_diff"]
    # One unit: the export counts the network as the trial did (issue 27: the LiteRT rewrite doubled the count).
    assert manifest["flops"] == best.flops > 0
    printed = capsys.readouterr().out
    assert f"{name}: " in printed and printed.count("(ok)") == 3 and f"{best.flops:,} FLOPs" in printed
    # The manifest describes what was exported: the retrained weights' data, metrics and input, and its latency.
    options = Experiment("tvn-ort", TrialStore(smoke_store)).trial_options()
    assert manifest["genome"]["json"] == Experiment("tvn-ort", TrialStore(smoke_store)).genome(best).to_json()
    assert manifest["class_names"] == options.task.open_dataset().class_names
    assert manifest["training"]["metrics"]["val"]["accuracy"] == manifest["source"]["retrained"]["fitness"]
    assert manifest["training"]["metrics"]["test"]["num_clips"] > 0
    assert manifest["training"]["search_latency"]["runtime"] == "onnxruntime"
    assert manifest["preprocessing"]["resize"]["image_size"] == 32 and manifest["preprocessing"]["decode"][
        "num_frames"] == 2
    assert set(manifest["latency"]) == {"keras", "onnxruntime", "litert"}
    # videonas predict on a validation video gives the Keras model's probabilities on the clip training cut.
    clips = options.task.load(options.task.open_dataset(), "val", options.task.clip_spec(
        inputs=("rgb",), genome=Experiment("tvn-ort", TrialStore(smoke_store)).genome(best)))
    keras_model = videonas.load_model(out / f"{name}.keras")
    batch, _ = data.ClipBatches(clips, batch_size=1, shuffle=False)[0]
    expected = predict.probabilities_of(numpy.asarray(keras_model.predict_on_batch(batch))[0], activation="softmax")
    for runtime in ("litert", "keras"):
        assert main(["predict", str(out), clips.paths[0], "--runtime", runtime, "--top-k", "0", "--format",
                     "json"]) == 0
        ranked = json.loads(capsys.readouterr().out)
        assert [name for name, _ in ranked] == [clips.class_names[i] for i in numpy.argsort(-expected, kind="stable")]
        numpy.testing.assert_allclose([p for _, p in ranked], numpy.sort(expected)[::-1], atol=export.TOLERANCE)
    assert main(["predict", str(out / f"{name}.onnx"), clips.paths[0], "--top-k", "2"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].endswith(f"{name}.onnx on onnxruntime") and [line.split()[0] for line in table[1:]] == ["1", "2"]


def test_user_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["trials", "--store", str(tmp_path / "none.sqlite"), "--name", "x"]) == 2
    assert "--store" in _error_line(capsys) and not (tmp_path / "none.sqlite").exists()
    store = tmp_path / "s.sqlite"
    TrialStore(store).open_experiment("present", {"space": {"family": "tvn", "options": {}}})
    assert main(["trials", "--store", str(store), "--name", "absent"]) == 2
    assert "experiment 'absent' not found" in (line := _error_line(capsys)) and "present" in line
    assert main(["export", "--preset", "tvn1", "--out", str(tmp_path / "o")]) == 2
    assert "did you mean tvn-1" in _error_line(capsys)
    assert main(["export", "--out", str(tmp_path / "o")]) == 2
    assert "--store and --name" in _error_line(capsys)
    assert main(["export", "--preset", "tvn-1", "--name", "x", "--out", str(tmp_path / "o")]) == 2
    assert "without --store" in _error_line(capsys)
    assert main(["export", "--preset", "tvn-1", "--threads", "0", "--out", str(tmp_path / "o")]) == 2
    assert "--threads must be positive" in _error_line(capsys)
    assert not (tmp_path / "o").exists()
    assert main(["predict", str(tmp_path / "none"), "clip.mp4"]) == 2
    assert "export" in (line := _error_line(capsys)) and "none" in line and "does not exist" in line
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "m.manifest.json").write_text(json.dumps({"files": {"onnxruntime": "m.onnx"}}))
    (tmp_path / "e" / "m.onnx").write_bytes(b"")
    assert main(["predict", str(tmp_path / "e"), "clip.mp4"]) == 2
    assert "field class_names is missing" in _error_line(capsys)
    assert main(["predict", str(tmp_path / "e"), "clip.mp4", "--top-k", "-1"]) == 2
    assert "--top-k must be 0 (all) or positive" in _error_line(capsys)


def test_trials_export_and_predict_have_their_own_help(capsys):
    for command, options in (("trials", ("--store", "--name", "--format")),
                             ("export", ("--store", "--trial", "--preset", "--out", "--latency-runs")),
                             ("predict", ("export", "video", "--runtime", "--top-k", "--format"))):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert f"videonas {command}" in text and all(option in text for option in options)


def test_trials_never_print_terminal_escapes_from_the_store(tmp_path, capsys):
    import sqlite3

    from videonas.search import run_search

    store = tmp_path / "evil.sqlite"
    run_search("evil", space={"family": "toy", "options": {"length": 4, "choices": 2}}, store=store, num_trials=2,
               evaluate="videonas.search.synthetic:evaluate", executor="inprocess", progress=False)
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE trials SET status = 'done\x1b[2J', params = '\x1b]0;owned\x07' WHERE idx = 0")
    connection.close()
    for kind in ("table", "csv"):
        assert main(["trials", "--store", str(store), "--name", "evil", "--format", kind]) == 0
        out = capsys.readouterr().out
        assert "\x1b" not in out and "\x07" not in out and "\\x1b[2J" in out
