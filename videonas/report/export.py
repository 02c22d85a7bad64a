"""An executed notebook made readable before it is rendered as HTML: what a reader of a report should not see goes.

- stderr: progress bars, TensorFlow/absl log lines and warnings are for whoever runs the notebook, not for a reader
  (the runner already keeps most of them from being written; whatever is left is dropped here);
- local paths: the checkout, the virtual environment and the home folder the run came from become relative;
- tables: pandas' positional index and "NaN"/"None" cells go, and a list of row dicts printed as Python becomes a
  table (``videonas.report.display``);
- the conclusion, printed as one long line by notebooks of earlier releases, becomes Markdown with a heading per
  question (``videonas.experiments.prose``);
- an error (a failed run) becomes one line of Markdown that says where the notebook stopped and why; its traceback
  stays in the executed notebook.

The executed ``.ipynb`` itself is left as it ran; only the rendered copy changes.
"""

from __future__ import annotations

import ast
import copy
import re
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from videonas.experiments import prose
from videonas.report import display

# An installed package's file, whatever environment it was installed in: keep the package-relative part.
_SITE_PACKAGES = re.compile(r"(?:/[^\s'\"<>/:]+)+/(?:site|dist)-packages/")
_TBODY = re.compile(r"<tbody>.*?</tbody>", re.S)
_INDEX_CELL = re.compile(r"(<tr[^>]*>)\s*<th>-?\d+</th>")
_EMPTY_HEAD = re.compile(r"(<thead>\s*<tr[^>]*>)\s*<th></th>")
_MISSING_CELL = re.compile(r"<td>(?:NaN|nan|None|NaT|&lt;NA&gt;)</td>")

# A style rule whose selector names the stderr MIME type, as nbconvert's JupyterLab stylesheet writes them; looked for
# inside <style> elements only: from every position of a page's base64 images, "[^{}]*" would scan to the image's end.
_STDERR_STYLE = re.compile(r"[^{}]*application/vnd\.jupyter\.stderr[^{}]*\{[^{}]*\}")
_STYLE_ELEMENT = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.S)


def local_roots(notebook: Any, extra: Iterable[str | Path] = ()) -> list[str]:
    """Folders whose absolute paths must not appear in a report: ``extra`` (the checkout rendering it), the checkout
    the notebook ran in (the parent of ``reports/`` in Papermill's ``output_dir``), the Python environment and the
    home folder; longest first, so the most specific one is replaced."""
    roots = {str(Path(root)) for root in extra}
    output_dir = notebook.metadata.get("papermill", {}).get("parameters", {}).get("output_dir")
    if isinstance(output_dir, str) and Path(output_dir).is_absolute() and len(Path(output_dir).parents) > 2:
        roots.add(str(Path(output_dir).parents[1]))
    roots.update({sys.prefix, sys.base_prefix, str(Path.home())})
    return sorted((root for root in roots if root not in ("", "/")), key=len, reverse=True)


def scrub_paths(text: str, roots: Sequence[str]) -> str:
    """``text`` with every path under ``roots`` made relative to its root and installed packages' files shortened
    to their package path."""
    text = _SITE_PACKAGES.sub("", text)
    for root in roots:
        # Not inside a longer path or a URL (".../x/root/"), nor the start of a longer name ("/rootfs").
        text = re.sub(r"(?<![\w./:-])" + re.escape(root) + r"(?:/|(?![\w.-]))",
                      lambda match: "" if match.group().endswith("/") else ".", text)
    return text


def readable_table(html: str) -> str:
    """A pandas DataFrame's HTML without the positional index (a first header cell left empty and a 0..n number
    opening every row) and with missing values as a dash; other HTML is returned as it is."""
    if 'class="dataframe"' not in html:
        return html
    body = _TBODY.search(html)
    rows = re.findall(r"<tr[^>]*>", body.group()) if body else []
    if body and _EMPTY_HEAD.search(html) and len(_INDEX_CELL.findall(body.group())) == len(rows) > 0 \
            and html.count("<thead>") == 1 and len(re.findall(r"<tr", html[:body.start()])) == 1:
        html = _EMPTY_HEAD.sub(r"\1", html, count=1)
        html = html[:body.start()] + _INDEX_CELL.sub(r"\1", body.group()) + html[body.end():]
    return _MISSING_CELL.sub(f"<td>{display.MISSING}</td>", html)


def records_table(text: str) -> str | None:
    """``text`` as an HTML table when it is a printed list of row dicts (what a cell ending in ``summary()``
    shows), else ``None``."""
    if not text.lstrip().startswith("[{"):
        return None
    try:
        rows = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if not rows or not all(isinstance(row, dict) for row in rows):
        return None
    return display.table_html(rows)


def clean_notebook(notebook: Any, *, roots: Sequence[str] = (), results: Any = None) -> Any:
    """A copy of ``notebook`` for rendering (see the module's docstring); ``results`` (the notebook's ``Results``)
    lets its printed conclusion be recognised and shown as Markdown."""
    notebook = copy.deepcopy(notebook)
    conclusion = results.conclusion.strip() if results is not None and results.conclusion else None
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = scrub_paths(cell.source, roots)
        if "outputs" not in cell:
            continue
        outputs = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue
            if output.get("output_type") == "error":
                reason = scrub_paths(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}", roots)
                outputs.append({"output_type": "display_data", "metadata": {}, "data": {
                    "text/markdown": f"**The run stopped here.** {_markdown_text(reason)}", "text/plain": reason}})
                continue
            if output.get("output_type") == "stream" and conclusion and output.get("text", "").strip() == conclusion:
                markdown = prose.conclusion_markdown(results.verdicts, results.conclusion)
                outputs.append({"output_type": "display_data", "metadata": {}, "data": {"text/markdown": markdown}})
                continue
            outputs.append(_clean_output(output, roots))
        cell.outputs = outputs
    return notebook


def _markdown_text(text: str) -> str:
    """``text`` shown literally in Markdown: an error message's underscores, braces and backticks escaped."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def _clean_output(output: Any, roots: Sequence[str]) -> Any:
    if output.get("output_type") == "stream":
        output["text"] = scrub_paths(output.get("text", ""), roots)
    data = output.get("data")
    if data:
        for mime in [mime for mime in data if mime.startswith("text/")]:
            text = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
            data[mime] = scrub_paths(text, roots)
        if "text/html" in data:
            data["text/html"] = readable_table(data["text/html"])
        elif "text/plain" in data and records_table(data["text/plain"]) is not None:
            data["text/html"] = records_table(data["text/plain"])
    return output


def without_stderr_style(html: str) -> str:
    """The page without JupyterLab's style rules for stderr output: no such output is left to style (they are
    dropped above), so the rules only make the page look as if it had some."""
    return _STYLE_ELEMENT.sub(lambda match: match.group(1) + _STDERR_STYLE.sub("", match.group(2)) + match.group(3),
                              html)
