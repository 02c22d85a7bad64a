"""The report builder: notebooks run through Papermill, failures are reported, and the index links resolve."""

from __future__ import annotations

import html.parser
import json
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest

from videonas import report
from videonas.report import index as report_index
from videonas.report import runner


def _notebook(path: Path, body: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('output_dir = "."\nscore = 0.25')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


_GOOD = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from pathlib import Path
from videonas import report
figure, axis = plt.subplots()
axis.plot([0, 1], [0, score])
figure.savefig(Path(output_dir) / "curve.png")
report.write_results(output_dir, title="Good experiment", question="Does it run?",
    headline=[{"label": "score", "value": score, "paper": "0.5 (paper)"}],
    figures=["curve.png"], conclusion="It ran.", deterministic="score is a parameter.")
"""


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value and not value.startswith(("#", "http")):
                self.targets.append(value)


def test_write_results_refuses_headline_without_value(tmp_path):
    with pytest.raises(ValueError, match=r"headline\[0\] needs 'label' and 'value'"):
        report.write_results(tmp_path, title="t", question="q", headline=[{"label": "x"}], conclusion="c")


def test_write_results_refuses_missing_figure(tmp_path):
    with pytest.raises(ValueError, match="missing.png"):
        report.write_results(tmp_path, title="t", question="q", headline=[], conclusion="c", figures=["missing.png"])


def test_load_parameters_reads_the_profile_file(tmp_path):
    (tmp_path / "params" / "default").mkdir(parents=True)
    (tmp_path / "params" / "default" / "exp.yaml").write_text("budget: 3\nname: x\n")
    assert runner.load_parameters(tmp_path, "exp", "default") == {"budget": 3, "name": "x"}
    assert runner.load_parameters(tmp_path, "exp", "smoke") == {}
    with pytest.raises(ValueError, match="profile must be one of .* got 'huge'"):
        runner.load_parameters(tmp_path, "exp", "huge")


@pytest.mark.slow
def test_reproduce_runs_notebooks_reports_failures_and_links_resolve(tmp_path):
    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    (notebooks / "params" / "default").mkdir(parents=True)
    _notebook(notebooks / "good.ipynb", _GOOD)
    _notebook(notebooks / "broken.ipynb", "raise RuntimeError('disk on fire')")
    (notebooks / "params" / "default" / "good.yaml").write_text("score: 0.75\n")

    index = report.reproduce(profile="default", notebooks_dir=notebooks, reports_dir=reports)

    good = json.loads((reports / "good" / "results.json").read_text())
    assert good["headline"][0]["value"] == 0.75  # the profile's parameter reached the notebook
    broken = json.loads((reports / "broken" / "run.json").read_text())
    assert broken["status"] == "failed" and "disk on fire" in broken["error"]
    text = index.read_text()
    assert "Good experiment" in text and "disk on fire" in text and "0.75" in text
    assert "toggle-code" in (reports / "good" / "good.html").read_text()
    parser = _Links()
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


def test_index_survives_a_corrupt_run_record_and_refuses_unsafe_links(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    odd = tmp_path / "javascript:alert(1)"
    odd.mkdir()
    (odd / "run.json").write_text(json.dumps({"status": "done", "html": "x.html", "wall_seconds": 1}))
    text = report.build_index(tmp_path, profile="smoke").read_text()
    assert "broken/run.json" in text  # the error names the file
    parser = _Links()
    parser.feed(text)
    assert not any(target.startswith("javascript:") for target in parser.targets)
    assert report_index.safe_link("a", "b.html") == "a/b.html"
    assert report_index.safe_link("..", "b.html") is None and report_index.safe_link("javascript:x", "y") is None


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# A closed network: without these flags Chromium keeps trying to reach Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _render(page, path: Path) -> dict:
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return {
        "images": page.evaluate("() => Array.from(document.images).map(i => [i.getAttribute('src'), "
                                "i.complete && i.naturalWidth > 0])"),
        "table_cells": page.evaluate("() => Array.from(document.querySelectorAll('table')).map("
                                     "t => Array.from(t.querySelectorAll('td')).filter(c => c.innerText.trim()).length)"),
        "text": page.inner_text("body"),
        "screenshot": page.screenshot(full_page=True),
    }


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; "
                                             ".ci/run installs it when it runs as root)")
def test_reports_render_in_headless_chromium(tmp_path):
    """A smoke run's index, its executed notebook and the committed index render: images load, tables have cells."""
    import cv2
    import numpy
    from playwright.sync_api import sync_playwright

    notebooks, reports = tmp_path / "notebooks", tmp_path / "reports"
    notebooks.mkdir()
    _notebook(notebooks / "good.ipynb", _GOOD)
    _notebook(notebooks / "broken.ipynb", "raise RuntimeError('disk on fire')")
    index = report.reproduce(profile="smoke", notebooks_dir=notebooks, reports_dir=reports)
    committed = report.project_root() / "reports" / "index.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        smoke = _render(page, index)
        page.goto((reports / "good" / "good.html").resolve().as_uri())
        code_display = page.evaluate("() => getComputedStyle(document.querySelector('.jp-InputArea')).display")
        page.click("#toggle-code")
        shown_display = page.evaluate("() => getComputedStyle(document.querySelector('.jp-InputArea')).display")
        project = _render(page, committed) if committed.is_file() else None
        browser.close()

    assert smoke["images"] == [["good/curve.png", True]]
    assert smoke["table_cells"] and all(count > 0 for count in smoke["table_cells"])
    assert "disk on fire" in smoke["text"] and "0.25" in smoke["text"]
    screenshot = cv2.imdecode(numpy.frombuffer(smoke["screenshot"], numpy.uint8), cv2.IMREAD_GRAYSCALE)
    assert screenshot.shape[0] >= 900 and screenshot.std() > 10  # not a blank page
    assert (code_display, shown_display) != ("none", "none") and code_display == "none"
    if project is not None:
        broken = [src for src, loaded in project["images"] if not loaded]
        assert project["images"] and broken == []
        assert all(count > 0 for count in project["table_cells"])
