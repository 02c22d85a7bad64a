"""The report builder: notebooks run through Papermill, failures are reported, and the index links resolve."""

from __future__ import annotations

import base64
import html.parser
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from videonas import experiments, jsonio, report
from videonas.report import export, runner
from videonas.report import index as report_index
from videonas.report import readme as report_readme


def _notebook(path: Path, body: str) -> None:
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell('output_dir = "."\nscore = 0.25')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [nbformat.v4.new_markdown_cell("# A *small* experiment\n\nWhat it asks."), parameters,
                      nbformat.v4.new_code_cell(body)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, str(path))


_GOOD = """
from tqdm.auto import tqdm  # without ipywidgets this warns "IProgress not found" on stderr, unless quieted
for _ in tqdm(range(3), desc="progress"):  # a bar on stderr, unless quieted
    pass
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from pathlib import Path
from videonas import report
figure, axis = plt.subplots()
axis.plot([0, 1], [0, score])
figure.savefig(Path(output_dir) / "curve.png")
from videonas import experiments
verdict = experiments.compare(question="Does the score beat a coin?", claim=experiments.Claim(text="it does"),
                              unit="points", a=[score * 100 + d for d in range(6)], b=[10] * 6)
report.write_results(output_dir, title="Good experiment", question="Does it run?",
    headline=[{"label": "score", "value": score, "paper": "0.5 (paper)"}], verdicts=[verdict],
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


def test_load_parameters_reads_the_profile_file_and_names_unknown_keys(tmp_path):
    _notebook(tmp_path / "exp.ipynb", "print(score)")
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
    _notebook(notebooks / "good.ipynb", _GOOD)
    _notebook(notebooks / "broken.ipynb", "raise RuntimeError('disk on fire')")
    (notebooks / "params" / "default" / "good.yaml").write_text("score: 0.75\n")

    index = report.reproduce(profile="default", notebooks_dir=notebooks, reports_dir=reports)

    good = json.loads((reports / "good" / "results.json").read_text())
    assert good["headline"][0]["value"] == 0.75  # the profile's parameter reached the notebook
    broken = json.loads((reports / "broken" / "run.json").read_text())
    assert broken["status"] == "failed" and "disk on fire" in broken["error"]
    executed = nbformat.read(str(reports / "good" / "good.ipynb"), as_version=4)
    stderr = [output.text for cell in executed.cells for output in cell.get("outputs", [])
              if output.get("name") == "stderr"]
    assert stderr == []  # the kernel ran quiet: no progress bar, no warning, no TensorFlow log line was written
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
        "title": page.title(),
        "headings": page.evaluate("() => Array.from(document.querySelectorAll('h1, h2')).filter("
                                  "h => h.offsetHeight > 0).map(h => h.innerText.trim())"),
        "verdicts": page.evaluate("() => Array.from(document.querySelectorAll('table.answers td')).map("
                                  "c => c.innerText.trim())"),
        "screenshot": page.screenshot(full_page=True),
    }


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; "
                                             ".ci/run installs it when it runs as root)")
def test_reports_render_in_headless_chromium(tmp_path):
    """A smoke run's index, its executed notebook and the committed index render: the index opens with the verdict
    table, images load, tables have cells, and the rendered notebook shows its heading and is titled by it."""
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
        rendered = _render(page, reports / "good" / "good.html")
        code_height = "() => document.querySelector('.jp-CodeCell .jp-InputArea').offsetHeight"
        hidden_height = page.evaluate(code_height)
        markdown_height = page.evaluate("() => document.querySelector('.jp-MarkdownCell').offsetHeight")
        page.click("#toggle-code")
        shown_height = page.evaluate(code_height)
        project = _render(page, committed) if committed.is_file() else None
        browser.close()

    assert smoke["images"] == [["good/curve.png", True]]
    assert smoke["table_cells"] and all(count > 0 for count in smoke["table_cells"])
    assert "disk on fire" in smoke["text"] and "0.25" in smoke["text"]
    screenshot = cv2.imdecode(numpy.frombuffer(smoke["screenshot"], numpy.uint8), cv2.IMREAD_GRAYSCALE)
    assert screenshot.shape[0] >= 900 and screenshot.std() > 10  # not a blank page
    assert hidden_height == 0 and shown_height > 0  # code hidden until the toggle is clicked
    assert markdown_height > 0  # only the code is hidden
    assert rendered["title"] == "A small experiment" and "A small experiment" in rendered["headings"]
    # The index leads with the verdict table: the question, our result with its interval, the verdict.
    assert smoke["headings"][0] != "" and "Does the score beat a coin?" in smoke["verdicts"]
    assert "supported" in smoke["verdicts"] and any("interval" in cell for cell in smoke["verdicts"])
    if project is not None:
        broken = [src for src, loaded in project["images"] if not loaded]
        assert project["images"] and broken == []
        assert all(count > 0 for count in project["table_cells"])


# What a reader of a rendered page must not meet, measured in the browser: stderr blocks, In/Out prompts, NaN/None
# table cells, text that may break mid-word, tables wider than the page, figures shown narrower than
# min(natural width, 800 px).
_READABILITY = """() => {
  const cells = Array.from(document.querySelectorAll('td, th'));
  const texts = Array.from(document.querySelectorAll('pre, td, th, p, li'));
  const visible = e => e.offsetParent !== null;
  return {
    stderr: document.querySelectorAll(
      '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-stderr').length,
    prompts: Array.from(document.querySelectorAll('.jp-InputPrompt, .jp-OutputPrompt')).filter(
      e => visible(e) && e.innerText.trim()).length,
    missing: cells.filter(c => ['NaN', 'nan', 'None', '<NA>'].includes(c.innerText.trim())).map(c => c.innerText),
    break_all: texts.filter(e => visible(e) && (getComputedStyle(e).wordBreak === 'break-all'
                                                || getComputedStyle(e).overflowWrap === 'anywhere')).length,
    wide_tables: Array.from(document.querySelectorAll('table')).filter(
      t => visible(t) && t.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length,
    narrow_images: Array.from(document.images).filter(i => i.naturalWidth > 0 && visible(i)
      && i.getBoundingClientRect().width + 1 < Math.min(i.naturalWidth, 800)).map(
      i => [i.getAttribute('src').slice(0, 60), i.naturalWidth, Math.round(i.getBoundingClientRect().width)]),
    broken_images: Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).length,
    answer_rows: document.querySelectorAll('table.answers tr').length - 1,
  };
}"""
# A local path: the checkout, a virtual environment's packages, or a home or work folder.
_LOCAL_PATH = re.compile(r"site-packages|\.venv/|(?<![\w.:/-])/(?:work|home|root|Users)/")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium; "
                                             ".ci/run installs it when it runs as root)")
def test_committed_reports_read_cleanly_in_headless_chromium():
    """Every committed rendered notebook and the index: no stderr, no prompts, no local paths, no NaN/None cells, no
    mid-word breaks or tables running off the page, figures at their intended width, and one answers row per
    verdict (each question once on the index)."""
    from playwright.sync_api import sync_playwright

    reports = report.project_root() / "reports"
    pages = sorted(reports.glob("*/*.html")) + [reports / "index.html"]
    assert len(pages) > 1
    found = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        for path in pages:
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            found[path.relative_to(reports).as_posix()] = {**page.evaluate(_READABILITY), "html": page.content(),
                                                           "text": page.inner_text("body")}
        browser.close()
    for name, seen in found.items():
        assert seen["stderr"] == 0 and seen["prompts"] == 0, name
        assert seen["missing"] == [] and seen["break_all"] == 0 and seen["wide_tables"] == 0, (name, seen["missing"])
        assert seen["narrow_images"] == [] and seen["broken_images"] == 0, (name, seen["narrow_images"])
        assert str(report.project_root()) not in seen["html"], name
        assert not _LOCAL_PATH.search(seen["html"]), (name, _LOCAL_PATH.search(seen["html"]))
    index = found["index.html"]
    results = [report.Results.read(path) for path in sorted(reports.glob("*/results.json"))]
    verdicts = [verdict for result in results for verdict in result.verdicts]
    unfinished = [path for path in reports.glob("*/run.json") if not (path.parent / "results.json").is_file()]
    # A row per verdict, one per experiment without verdicts, one "no verdict yet" per run without results.
    assert index["answer_rows"] == len(verdicts) + sum(not result.verdicts for result in results) + len(unfinished)
    assert all(index["text"].count(verdict.question) == 1 for verdict in verdicts)
    assert "no paper figure for this quantity" not in index["text"]  # the filler, not a claim that says why


def _verdicts() -> list:
    claim = experiments.Claim(text="evolution finds better nets than random search")
    supported = experiments.compare(question="TVN evolution beats random", claim=claim, unit="points",
                                    a=[60, 62, 58, 65, 61, 63, 59], b=[50, 51, 49, 52, 50, 53, 48])
    inconclusive = experiments.compare(question="EvaNet evolution beats random", claim=claim, unit="points",
                                       a=[60, None], b=[50, 55])
    return [supported, inconclusive]


def test_results_carry_verdicts_and_old_results_still_read(tmp_path):
    path = report.write_results(tmp_path, title="t", question="q", headline=[], conclusion="c", verdicts=_verdicts())
    data = json.loads(path.read_text())
    assert [v["verdict"] for v in data["verdicts"]] == ["supported", "inconclusive"]
    assert report.Results.read(path).verdicts == _verdicts()
    data["verdicts"][1]["verdict"] = "agrees"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"results.verdicts\[1\]: verdict.verdict must be one of"):
        report.Results.read(path)
    committed = sorted((report.project_root() / "reports").glob("*/results.json"))
    assert committed, "no committed results to read"
    for results_path in committed:  # every committed results file still reads, whatever release wrote it
        assert report.Results.read(results_path).title, results_path


def _experiment(reports: Path, name: str, **results) -> None:
    (reports / name).mkdir(parents=True)
    (reports / name / f"{name}.html").write_text("<html></html>")
    jsonio.dump({"status": "done", "html": f"{name}.html", "wall_seconds": 60}, reports / name / "run.json")
    report.Results(title=f"{name} title", headline=[], conclusion="c", **results).write(reports / name)


def test_index_opens_with_the_answers_and_lists_experiments_without_verdicts(tmp_path):
    _experiment(tmp_path, "tvn_search", question="Does evolution beat random?", verdicts=_verdicts())
    _experiment(tmp_path, "tvn_scaling_ablation", question="Which scaling helps most?")
    text = report.build_index(tmp_path, profile="smoke").read_text()
    answers = text[text.index('<table class="answers">'):text.index("</table>")]
    assert text.index('<table class="answers">') < text.index("<h2>Experiments</h2>")
    rows = answers.split("<tr>")[2:]
    assert len(rows) == 3
    assert "TVN evolution beats random" in rows[0] and "verdict-supported" in rows[0] and "interval" in rows[0]
    assert "verdict-inconclusive" in rows[1] and "one seed" in rows[1]
    assert "Which scaling helps most?" in rows[2] and "measurements, no comparison" in rows[2]
    # Each verdict once on the page (the answers table); no filler where the paper gives no figure.
    assert text.count("TVN evolution beats random") == 1 and text.count("EvaNet evolution beats random") == 1
    assert "no paper figure for this quantity" not in text and "2 questions" in text
    parser = _Links()
    parser.feed(answers)
    assert "tvn_search/tvn_search.html" in parser.targets
    assert all((tmp_path / target).exists() for target in parser.targets)
    assert "np.float" not in text


def test_the_index_adjusts_verdicts_within_each_paper_and_stores_them(tmp_path):
    """Holm within a paper's questions: two TVN questions decided at p = 1/64 each (6 seeds) do not survive
    (2 x 1/64 > 0.025), two at p = 1/128 (7 seeds) do; the EvaNet question is its own family."""
    def verdict(key, seeds):
        return experiments.ask(key, a={s: 60.0 + s % 2 for s in range(seeds)}, b={s: 50.0 for s in range(seeds)})

    _experiment(tmp_path, "tvn_search", verdicts=[verdict("tvn_evolution_vs_random", 6),
                                                  verdict("tvn_scaling_width_vs_depth", 6)])
    _experiment(tmp_path, "evanet_search", verdicts=[verdict("evanet_evolution_vs_random", 6)])
    text = report.build_index(tmp_path, profile="smoke").read_text()
    rows = json.loads((tmp_path / report_index.ANSWERS_FILE).read_text())["rows"]
    by_paper = {(row["paper"], row["question"]): row for row in rows}
    assert [row["verdict"] for row in rows] == ["supported"] * 3
    tvn = [row for (paper, _), row in by_paper.items() if paper == "TVN"]
    assert [row["adjusted_p"] for row in tvn] == [pytest.approx(2 / 64)] * 2
    assert [row["adjusted_verdict"] for row in tvn] == ["inconclusive"] * 2
    assert "Holm over 2 TVN questions: p = 0.031, not below 0.025" in tvn[0]["adjusted_reason"]
    evanet = [row for (paper, _), row in by_paper.items() if paper == "EvaNet"]
    assert evanet[0]["adjusted_p"] == pytest.approx(1 / 64) and evanet[0]["adjusted_verdict"] == "supported"
    assert "<th>adjusted verdict</th>" in text and "Holm over 2 TVN questions" in text
    shutil.rmtree(tmp_path / "tvn_search")
    _experiment(tmp_path, "tvn_search", verdicts=[verdict("tvn_evolution_vs_random", 7),
                                                  verdict("tvn_scaling_width_vs_depth", 7)])
    rows = report_index.answer_rows(report_index.load_experiments(tmp_path))
    assert [row["adjusted_verdict"] for row in rows if row["paper"] == "TVN"] == ["supported"] * 2


def test_bench_figures_of_another_found_tvn_stay_out_of_the_answers(tmp_path):
    _experiment(tmp_path, "tvn_search", verdicts=_verdicts())
    found = {"family": "tvn", "num_frames": 1, "image_size": 32, "blocks": []}
    jsonio.dump(found, tmp_path / "tvn_search" / "found_genome.json")
    other = json.dumps({**found, "num_frames": 2, "image_size": 48})
    latency_rows = [{"model": "found TVN", "input_name": "published", "genome": other, "params": 255616}]
    report.Results(title="CPU latency", headline=[{"label": "found TVN latency (ms)", "value": 6.3}], conclusion="",
                   extra={"rows": latency_rows}).write(tmp_path / "bench", file_name="latency.json")
    report.Results(title="Aims", headline=[{"label": "found TVN within 3 points", "value": "met: 0.540 vs 0.458"}],
                   conclusion="").write(tmp_path / "bench", file_name="aims.json")
    network = report_index.bench_network(tmp_path)
    assert network["same"] is False and network["clip"] == "2x48x48" and "(1x32x32)" in network["text"]
    text = report.build_index(tmp_path, profile="smoke").read_text()
    answers = text[text.index('<table class="answers">'):text.index("</table>")]
    assert "0.540" not in answers and len(answers.split("<tr>")) == 2 + 2
    assert text.count('In this section "found TVN" is the bench\'s network (2x48x48)') == 2
    jsonio.dump(json.loads(other), tmp_path / "tvn_search" / "found_genome.json")
    assert report_index.bench_network(tmp_path)["same"] is True
    assert "In this section" not in report.build_index(tmp_path, profile="smoke").read_text()


def test_the_readme_table_is_rendered_from_the_answers(tmp_path):
    _experiment(tmp_path, "tvn_search", verdicts=_verdicts())
    table = report_index.readme_table(tmp_path)
    lines = table.splitlines()
    assert lines[0] == "| question | ours (95% interval) | verdict | adjusted (Holm, per paper) |"
    assert lines[2].startswith("| TVN: TVN evolution beats random (A \u2212 B > 0 points) | +10.7 points (+")
    assert lines[2].endswith("| supported | supported (p = 0.016) |") and "| inconclusive |" in lines[3]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report_readme.VERDICTS_START}\nstale\n{report_readme.VERDICTS_END}\nmiddle\n"
                      f"{report_readme.TIMINGS_START}\nstale\n{report_readme.TIMINGS_END}\nrest\n")
    report_readme.refresh(readme, tmp_path)
    text = readme.read_text()
    assert report_readme.block_in(text, report_readme.VERDICTS_START, report_readme.VERDICTS_END) == table
    timings = report_readme.block_in(text, report_readme.TIMINGS_START, report_readme.TIMINGS_END).splitlines()
    assert timings[2].startswith("| `tvn_search` | done | ") and timings[-1].startswith("| **sum of the finished")
    assert text.startswith("intro\n") and "\nmiddle\n" in text and text.endswith("\nrest\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="must hold the markers once each"):
        report_readme.refresh(readme, tmp_path)


def test_the_timings_sum_the_finished_notebooks_and_name_their_commits(tmp_path):
    for name, status, seconds, commit, date in (("evanet_search", "done", 1517.4, "abc1234", "2026-12-06 22:00 UTC"),
                                                ("tvn_search", "done", 3000, "def5678", "2026-12-07 01:00 UTC"),
                                                ("tvn_frames_ablation", "failed", 12, "def5678", "2026-12-07 02:00 UTC")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"name": name, "status": status, "wall_seconds": seconds,
                                                              "commit": commit, "date": date}))
    lines = report_readme.timings_table(tmp_path).splitlines()
    assert lines[2] == "| `evanet_search` | done | 25 min 17 s | abc1234 | 2026-12-06 22:00 UTC |"
    assert lines[4] == "| `tvn_frames_ablation` | failed | 12 s | def5678 | 2026-12-07 02:00 UTC |"
    assert lines[5] == ("| **sum of the finished notebooks** | | **75 min 17 s** | abc1234, def5678 | "
                        "2026-12-06, 2026-12-07 |")  # the failed run is not in the sum


def test_committed_reports_still_build_an_index(tmp_path):
    shutil.copytree(report.project_root() / "reports", tmp_path / "reports")
    text = report.build_index(tmp_path / "reports", profile="default").read_text()
    folders = [path.parent for path in (tmp_path / "reports").glob("*/run.json")]
    with_results = [folder for folder in folders if (folder / "results.json").is_file()]
    unanswered = [folder for folder in with_results if not report.Results.read(folder / "results.json").verdicts]
    assert folders
    assert text.count("measurements, no comparison") == len(unanswered)
    assert text.count("no verdict yet") == len(folders) - len(with_results)


_TF_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1796190735.042142   27501 port.cc:153] oneDNN custom operations are on.\n"
    "I0000 00:00:1796190735.143831   27501 cpu_feature_guard.cc:227] This TensorFlow binary is optimized\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the flags.\n"
)


_PANDAS_TABLE = """<div><table border="1" class="dataframe">
  <thead>
    <tr style="text-align: right;">
      <th></th>
      <th>variant</th>
      <th>note</th>
    </tr>
  </thead>
  <tbody>
    <tr>
      <th>0</th>
      <td>found TVN</td>
      <td>NaN</td>
    </tr>
    <tr>
      <th>1</th>
      <td>TVN-2</td>
      <td>None</td>
    </tr>
  </tbody>
</table></div>"""


def test_rendered_notebook_is_titled_offline_quiet_and_hides_only_code(tmp_path):
    root = "/work/elsewhere/checkout"
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"parameters": {"output_dir": f"{root}/reports/exp"}}
    code = nbformat.v4.new_code_cell(f'secret_code_marker = 1\noutput_dir = "{root}/reports/exp"')
    code.outputs = [nbformat.v4.new_output("stream", name="stderr", text=_TF_NOISE),
                    nbformat.v4.new_output("stream", name="stderr", text="\rsearch:  50%|#####     | 6/12\n"
                                           "/opt/venv/lib/python3.11/site-packages/keras/x.py:1: UserWarning: kept?\n"),
                    nbformat.v4.new_output("stream", name="stdout", text=f"printed result from {root}/reports/exp\n"),
                    nbformat.v4.new_output("execute_result", data={"text/html": _PANDAS_TABLE, "text/plain": "t"},
                                           execution_count=3),
                    nbformat.v4.new_output("execute_result", execution_count=4, data={
                        "text/plain": "[{'search': 'guided', 'best': 0.66534, 'best latency ms': None}]"}),
                    nbformat.v4.new_output("stream", name="stdout", text="1 question judged: 1 supported. Long.\n")]
    notebook.cells = [nbformat.v4.new_markdown_cell("# TVN: *frames* ablation\n\nMarkdown prose stays visible."),
                      code]
    nbformat.write(notebook, str(tmp_path / "exp.ipynb"))
    verdict = _verdicts()[0]
    report.Results(title="t", headline=[], conclusion="1 question judged: 1 supported. Long.",
                   verdicts=[verdict]).write(tmp_path)
    page = runner.render_html(tmp_path / "exp.ipynb").read_text()
    assert "<title>TVN: frames ablation</title>" in page
    # No stderr at all: log lines, progress bars and warnings are for whoever runs the notebook.
    assert "absl" not in page and "oneDNN" not in page and "rebuild TensorFlow" not in page
    assert "kept?" not in page and "6/12" not in page and "jp-OutputArea-stderr" not in page
    assert "printed result from reports/exp" in page and "Markdown prose stays visible." in page
    assert root not in page and "site-packages" not in page  # local paths made relative, in code too
    cleaned = export.clean_notebook(notebook, roots=export.local_roots(notebook))
    assert 'output_dir = "reports/exp"' in cleaned.cells[1].source
    # Tables: no 0..n index, no NaN/None cells; a printed list of rows becomes a table.
    assert "<th>0</th>" not in page and "<td>NaN</td>" not in page and "<td>None</td>" not in page
    assert page.count("<td>\u2013</td>") == 3 and "<td>guided</td>" in page and "<td>0.6653</td>" in page
    assert not re.search(r">\s*(Out|In)(&nbsp;| )?\[", page)  # no In/Out prompts
    # The printed conclusion is shown as Markdown: a heading, the question as a heading, the verdict.
    assert re.search(r"<h2[^>]*>Conclusion", page) and re.search(r"<h3[^>]*>TVN evolution beats random", page)
    assert "1 question judged: 1 supported. Long." not in page and "Verdict: supported." in page
    assert "secret_code_marker" in page and "toggle-code" in page  # the code is there, behind the toggle
    assert not re.search(r"<script[^>]*\bsrc=", page)  # nothing fetched: no CDN require.js / MathJax / Mermaid
    assert "cdnjs" not in page and "unpkg" not in page
    style = re.search(r'<style id="videonas-code-toggle">(.*?)</style>', page, re.S).group(1)
    hidden = re.findall(r"([^{}]*)\{\s*display:\s*none", style)
    assert hidden and all(".jp-CodeCell" in selector for selector in hidden)
    assert runner.notebook_title(nbformat.v4.new_notebook(), default="stem") == "stem"


def test_scrub_paths_keeps_urls_and_longer_names():
    roots = ["/work/repro", "/root"]
    text = ("/work/repro/.venv/lib/python3.11/site-packages/tqdm/auto.py:21 in /work/repro, see "
            "https://example.org/root/x and /rootfs/y, /root/.cache/z")
    assert export.scrub_paths(text, roots) == ("tqdm/auto.py:21 in ., see https://example.org/root/x and /rootfs/y, "
                                               ".cache/z")


def test_the_kernel_runs_quiet_and_the_callers_environment_comes_back(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    with runner.quiet_environment():
        assert os.environ["TQDM_DISABLE"] == "1" and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
        assert "IProgress" in os.environ["PYTHONWARNINGS"]
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0" and "TQDM_DISABLE" not in os.environ


@pytest.mark.parametrize("seconds", [None, "abc", [1], float("nan"), -3, True])
def test_a_malformed_run_record_is_one_failed_entry_not_a_stopped_index(tmp_path, seconds):
    from videonas.report import index

    for name, value in (("good", 60), ("bad", seconds)):
        (tmp_path / name).mkdir()
        (tmp_path / name / index.RUN_FILE).write_text(json.dumps({"status": "done", "wall_seconds": value,
                                                                  "profile": 7}))
    page = index.build_index(tmp_path, profile="default").read_text()
    assert "good" in page and "bad" in page
    bad = index.load_experiment(tmp_path / "bad")
    assert bad["run"]["status"] == "failed" and "wall_seconds" in bad["run"]["error"]
    assert bad["run"]["wall_seconds"] == 0 and bad["run"]["profile"] == "7"


def test_a_file_named_sqlite_that_is_no_store_is_skipped_by_the_checkpoint(tmp_path):
    from videonas.report import runner

    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all, but long enough to have a header" * 4)
    (tmp_path / "sub").mkdir()
    runner.checkpoint_stores(tmp_path)  # raised sqlite3.DatabaseError before
    good = tmp_path / "sub" / "good.sqlite"
    sqlite3.connect(good).close()
    assert runner.checkpoint_stores(tmp_path) == [good]


def test_pages_carry_no_style_for_stderr_output():
    """Stderr outputs are dropped, so their style rules go too (a page that names the stderr MIME type reads as
    noisy to anyone checking it); the other rules stay."""
    from videonas.report import export

    css = (".a { color: red; }\n.jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr'] {\n  padding: 0;\n}\n"
           ".b { color: blue; }")
    # The rules go from the page's <style> elements; the body (prose, a figure's megabyte of base64) is left as is.
    prose = "<p>our stderr rule: application/vnd.jupyter.stderr {kept}</p>"
    image = '<img src="data:image/png;base64,' + "iVBORw0KGgo/AAAA" * 60_000 + '">'
    page = f'<html><head><style type="text/css">{css}</style></head><body>{prose}{image}</body></html>'
    cleaned = export.without_stderr_style(page)
    assert "jupyter.stderr'" not in cleaned and ".a { color: red; }" in cleaned and ".b { color: blue; }" in cleaned
    assert prose in cleaned and image in cleaned
    for page in (Path(__file__).resolve().parent.parent / "reports").glob("*/*.html"):
        assert "application/vnd.jupyter.stderr" not in page.read_text(), page


def test_a_figure_carries_its_title_as_alternative_text_into_the_page(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    from videonas.report import display

    figure, (left, right) = pyplot.subplots(1, 2)
    left.set_title("accuracy by frames")
    right.set_title("latency by frames")
    assert display.figure_description(figure, "frames.png") == "accuracy by frames; latency by frames"
    figure.suptitle("Frames <ablation>")
    assert display.figure_description(figure, "frames.png") == "Frames <ablation>"
    assert display.figure_description(pyplot.figure(), "empty.png") == "empty.png"
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("result.show()")
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png},
                                           metadata={"image/png": {"alt": "Frames <ablation>"}}),
                    nbformat.v4.new_output("display_data", data={"image/png": png})]
    notebook.cells = [nbformat.v4.new_markdown_cell("# t"), code]
    nbformat.write(notebook, str(tmp_path / "exp.ipynb"))
    page = runner.render_html(tmp_path / "exp.ipynb").read_text()
    images = re.findall(r"<img [^>]*>", page)
    assert len(images) == 2 and 'alt="Frames &lt;ablation&gt;"' in images[0]
    assert "No description has been provided" in images[1]  # nbconvert's own, for an image without one


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
