"""The report runner: notebooks run through Papermill with a profile's parameters, failures are recorded,
results are strict JSON, stores are checkpointed, and a resumed run keeps only what finished with this code."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from videonas import report
from videonas.report import runner
from videonas.report import readme as report_readme

from report_notebooks import GOOD, Links, sample_verdicts, write_notebook


def test_write_results_refuses_headline_without_value(tmp_path):
    with pytest.raises(ValueError, match=r"headline\[0\] needs 'label' and 'value'"):
        report.write_results(tmp_path, title="t", question="q", headline=[{"label": "x"}], conclusion="c")


def test_write_results_refuses_missing_figure(tmp_path):
    with pytest.raises(ValueError, match="missing.png"):
        report.write_results(tmp_path, title="t", question="q", headline=[], conclusion="c", figures=["missing.png"])


def test_load_parameters_reads_the_profile_file_and_names_unknown_keys(tmp_path):
    write_notebook(tmp_path / "exp.ipynb", "print(score)")
    (tmp_path / "params" / "default").mkdir(parents=True)
    (tmp_path / "params" / "default" / "exp.yaml").write_text("score: 3\noutput_dir: x\n")
    assert runner.load_parameters(tmp_path, "exp", "default") == {"score": 3, "output_dir": "x"}
    assert runner.load_parameters(tmp_path, "exp", "smoke") == {}
    with pytest.raises(ValueError, match="profile must be one of .* got 'huge'"):
        runner.load_parameters(tmp_path, "exp", "huge")
    (tmp_path / "params" / "default" / "exp.yaml").write_text("scores: 3\n")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['scores'\]"):
        runner.load_parameters(tmp_path, "exp", "default")


@pytest.mark.parametrize("profile", ["default", "paper"])
def test_every_shipped_profile_file_names_only_notebook_parameters(profile):
    notebooks = report.project_root() / "notebooks"
    for name in runner.notebook_names(notebooks):
        runner.load_parameters(notebooks, name, profile)


@pytest.mark.slow
def test_reproduce_runs_notebooks_reports_failures_and_links_resolve(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    (notebooks / "params" / "default").mkdir(parents=True)
    write_notebook(notebooks / "good.ipynb", GOOD)
    write_notebook(notebooks / "broken.ipynb", f"raise RuntimeError('disk on fire in {report.project_root()}/data')")
    (notebooks / "params" / "default" / "good.yaml").write_text("score: 0.75\n")

    index = report.reproduce(profile="default", notebooks_dir=notebooks, reports_dir=reports)

    good = json.loads((reports / "good" / "results.json").read_text())
    assert good["headline"][0]["value"] == 0.75  # the profile's parameter reached the notebook
    broken = json.loads((reports / "broken" / "run.json").read_text())
    assert broken["status"] == "failed" and "disk on fire in data" in broken["error"]  # the checkout's path goes
    broken_page = (reports / "broken" / "broken.html").read_text()
    assert "The run stopped here." in broken_page and "jupyter.stderr" not in broken_page
    assert str(report.project_root()) not in broken_page
    executed = nbformat.read(str(reports / "good" / "good.ipynb"), as_version=4)
    stderr = [output.text for cell in executed.cells for output in cell.get("outputs", [])
              if output.get("name") == "stderr"]
    assert stderr == []  # the kernel ran quiet: no progress bar, no warning, no TensorFlow log line was written
    text = index.read_text()
    assert "Good experiment" in text and "disk on fire" in text and "0.75" in text
    assert "toggle-code" in (reports / "good" / "good.html").read_text()
    parser = Links()
    parser.feed(text)
    assert "good/curve.png" in parser.targets
    missing = [target for target in parser.targets if not (reports / target).exists()]
    assert missing == []
    assert broken["commit"] in text and broken["date"] in text  # each experiment says when and from what it ran


def test_checkpoint_folds_the_write_ahead_log_into_the_store(tmp_path):
    from videonas.search.store import TrialStore

    path = tmp_path / "exp" / "search.sqlite"
    path.parent.mkdir()
    store = TrialStore(path)
    store.open_experiment("e", {"seed": 0})
    copy = tmp_path / "copy.sqlite"  # what a commit of the .sqlite alone would carry, before the checkpoint
    copy.write_bytes(path.read_bytes())
    assert sqlite3.connect(copy).execute("SELECT name FROM experiments").fetchall() == []
    assert runner.checkpoint_stores(path.parent) == [path]
    copy.write_bytes(path.read_bytes())
    assert TrialStore(copy).experiments() == ["e"]


def test_results_are_strict_json_and_one_schema(tmp_path):
    path = report.Results(title="t", headline=[{"label": "x", "value": float("nan")}], conclusion="c",
                          extra={"curve": [1.0, float("inf")]}).write(tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    data = json.loads(text)
    assert data["headline"][0] == {"label": "x", "value": None, "paper": ""} and data["extra"]["curve"] == [1.0, None]
    assert report.Results.read(path).title == "t"
    path.write_text('{"title": "t", "headline": [], "conclusion": "c", "surprise": 1}')
    with pytest.raises(ValueError, match=r"results.json: results has unknown keys \['surprise'\]"):
        report.Results.read(path)
    with pytest.raises(ValueError, match="figures"):
        report.Results(title="t", headline=[], conclusion="c", figures=["../secret.png"])


def test_results_carry_verdicts_and_old_results_still_read(tmp_path):
    path = report.write_results(tmp_path, title="t", question="q", headline=[], conclusion="c",
                                verdicts=sample_verdicts())
    data = json.loads(path.read_text())
    assert [v["verdict"] for v in data["verdicts"]] == ["supported", "inconclusive"]
    assert report.Results.read(path).verdicts == sample_verdicts()
    data["verdicts"][1]["verdict"] = "agrees"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"results.verdicts\[1\]: verdict.verdict must be one of"):
        report.Results.read(path)
    committed = sorted((report.project_root() / "reports").glob("*/results.json"))
    assert committed, "no committed results to read"
    for results_path in committed:  # every committed results file still reads, whatever release wrote it
        assert report.Results.read(results_path).title, results_path


def test_the_kernel_runs_quiet_and_the_callers_environment_comes_back(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with runner.quiet_environment():
        assert os.environ["TQDM_DISABLE"] == "1" and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
        assert "IProgress" in os.environ["PYTHONWARNINGS"]
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" and "TQDM_DISABLE" not in os.environ


def test_a_file_named_sqlite_that_is_no_store_is_skipped_by_the_checkpoint(tmp_path):
    from videonas.report import runner

    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all, but long enough to have a header" * 4)
    (tmp_path / "sub").mkdir()
    runner.checkpoint_stores(tmp_path)  # raised sqlite3.DatabaseError before
    good = tmp_path / "sub" / "good.sqlite"
    sqlite3.connect(good).close()
    assert runner.checkpoint_stores(tmp_path) == [good]


def test_resume_keeps_only_what_finished_with_this_code_and_profile(tmp_path, monkeypatch):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    records = {"done_here": ("done", "abc1234", "default"), "done_before_a_results_commit": ("done", "0ld0000", "default"),
               "done_with_other_code": ("done", "1111111", "default"), "done_dirty": ("done", "abc1234+changes",
                                                                                      "default"),
               "failed_here": ("failed", "abc1234", "default"), "other_profile": ("done", "abc1234", "smoke")}
    names = [*records, "never_ran"]
    for name in names:
        (notebooks / f"{name}.ipynb").write_text("{}")
    for name, (status, commit, profile) in records.items():
        (reports / name).mkdir(parents=True)
        (reports / name / "run.json").write_text(json.dumps({"status": status, "commit": commit, "profile": profile}))
        (reports / name / "results.json").write_text("{}")
    ran, continued = [], []

    def run_notebook(name, *, continue_stores=False, **_):
        ran.append(name)
        continued.extend([name] if continue_stores else [])
        return {"status": "done", "wall_seconds": 0}

    monkeypatch.setattr(runner, "run_notebook", run_notebook)
    monkeypatch.setattr(runner.index, "build_index", lambda folder, **_: folder / "index.html")
    monkeypatch.setattr(runner.index, "git_commit", lambda: "abc1234")
    monkeypatch.setattr(runner, "same_code", lambda commit: commit == "0ld0000")
    runner.reproduce(profile="default", names=names, notebooks_dir=notebooks, reports_dir=reports, resume=True)
    assert ran == ["done_with_other_code", "done_dirty", "failed_here", "other_profile", "never_ran"]
    assert continued == ["failed_here"]  # started with this code and profile: its stores continue
    ran.clear()
    continued.clear()
    runner.reproduce(profile="default", names=names, notebooks_dir=notebooks, reports_dir=reports)
    assert ran == names and not continued  # without resume every notebook runs again, from nothing
    ran.clear()
    monkeypatch.setattr(runner.index, "git_commit", lambda: "abc1234+changes")  # code changed: nothing is kept
    runner.reproduce(profile="default", names=names, notebooks_dir=notebooks, reports_dir=reports, resume=True)
    assert ran == names


def test_an_unfinished_run_leaves_its_record_and_continues_from_its_stores(tmp_path, monkeypatch):
    import papermill

    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    (notebooks / "params" / "default").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "config = {}\noutput_dir = None", metadata={"tags": ["parameters"]})]), str(notebooks / "exp.ipynb"))
    (notebooks / "params" / "default" / "exp.yaml").write_text("config: {seeds: [0], resume: false}\n")
    monkeypatch.setattr(runner.index, "git_commit", lambda: "abc1234")
    seen = []

    monkeypatch.setattr(runner, "HEARTBEAT_SECONDS", 0.01)

    def killed(source, executed, *, parameters, **_):
        seen.append(parameters["config"])
        assert json.loads((reports / "exp" / "run.json").read_text())["status"] == "running"
        (Path(parameters["output_dir"]) / "search.sqlite").write_text("finished trials")
        time.sleep(0.2)
        beating = json.loads((reports / "exp" / "run.json").read_text())
        assert beating["status"] == "running" and beating["elapsed_seconds"] > 0  # the heartbeat's time so far
        raise KeyboardInterrupt  # the machine went away mid-run

    monkeypatch.setattr(papermill, "execute_notebook", killed)
    with pytest.raises(KeyboardInterrupt):
        runner.run_notebook("exp", profile="default", notebooks_dir=notebooks, reports_dir=reports)
    record = json.loads((reports / "exp" / "run.json").read_text())
    assert (record["status"], record["commit"], record["profile"]) == ("running", "abc1234", "default")
    killed_after = record["elapsed_seconds"]
    assert killed_after >= 0.2
    assert runner.run_with_this_code(reports, "exp", profile="default") == record
    assert runner.finished_with_this_code(reports, "exp", profile="default") is None

    def finishes(source, executed, *, parameters, **_):
        seen.append(parameters["config"])
        assert (Path(parameters["output_dir"]) / "search.sqlite").read_text() == "finished trials"
        (Path(parameters["output_dir"]) / "results.json").write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", finishes)
    monkeypatch.setattr(runner, "render_html", lambda executed: executed.with_suffix(".html"))
    record = runner.run_notebook("exp", profile="default", notebooks_dir=notebooks, reports_dir=reports,
                                 continue_stores=True)
    assert record["status"] == "done" and [config["resume"] for config in seen] == [False, True]
    # The resumed run's time includes the killed attempt's, and says so.
    assert record["earlier_seconds"] == killed_after and record["wall_seconds"] >= killed_after
    assert "before a resume" in report_readme.timings_table(reports)
    monkeypatch.setattr(papermill, "execute_notebook", lambda source, executed, **_: None)
    runner.run_notebook("exp", profile="default", notebooks_dir=notebooks, reports_dir=reports)
    assert not (reports / "exp" / "search.sqlite").exists()  # without continue_stores a run starts from nothing


def test_same_code_ignores_commits_of_reports_and_markdown_only(tmp_path, monkeypatch):
    def git(*args):
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")

    def commit(path, text):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        git("add", "-A")
        git("commit", "-qm", path)
        return git("rev-parse", "--short", "HEAD")

    first = commit("videonas/a.py", "x = 1\n")
    monkeypatch.setattr(runner.index, "project_root", lambda: tmp_path)
    commit("reports/exp/run.json", "{}")
    commit("README.md", "# new figures\n")
    assert runner.same_code(first)
    commit("notebooks/params/default/exp.yaml", "config: {}\n")
    assert not runner.same_code(first) and not runner.same_code("not-a-commit")
