"""The rendered pages: an executed notebook becomes a quiet, titled, offline HTML page, and the reports read cleanly in
headless Chromium (no stderr, prompts, local paths or unreadable figures)."""

from __future__ import annotations

import base64
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from videonas import report
from videonas.report import export, runner

from report_notebooks import GOOD, sample_verdicts, write_notebook


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
    verdict = sample_verdicts()[0]
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


def test_a_failed_cell_renders_as_one_line_that_says_why_without_a_traceback():
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("run()")
    code.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="config.table: '/work/x/t_1.gz' is "
                                           "not there", traceback=["\x1b[31mTraceback\x1b[0m", "  File /work/x/a.py"])]
    notebook.cells = [code]
    cleaned = export.clean_notebook(notebook, roots=["/work/x"])
    (output,) = cleaned.cells[0].outputs
    assert output["output_type"] == "display_data" and "traceback" not in output
    assert output["data"]["text/plain"] == "ValueError: config.table: 't_1.gz' is not there"
    assert output["data"]["text/markdown"] == (
        "**The run stopped here.** ValueError: config.table: 't\\_1.gz' is not there")
    assert notebook.cells[0].outputs[0]["output_type"] == "error"  # the executed notebook keeps its traceback


def test_scrub_paths_keeps_urls_and_longer_names():
    roots = ["/work/repro", "/root"]
    text = ("/work/repro/.venv/lib/python3.11/site-packages/tqdm/auto.py:21 in /work/repro, see "
            "https://example.org/root/x and /rootfs/y, /root/.cache/z")
    assert export.scrub_paths(text, roots) == ("tqdm/auto.py:21 in ., see https://example.org/root/x and /rootfs/y, "
                                               ".cache/z")


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
    write_notebook(notebooks / "good.ipynb", GOOD)
    write_notebook(notebooks / "broken.ipynb", "raise RuntimeError('disk on fire')")
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
