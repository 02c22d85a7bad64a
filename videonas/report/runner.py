"""Run the experiment notebooks with Papermill into ``reports/<name>/``, render them, and checkpoint their stores.

A failed notebook is recorded with its error in its run record (``run.json``) and the others still run; the index
(``videonas.report.index``) is rebuilt afterwards.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from videonas import jsonio
from videonas.report import index
from videonas.report.results import RESULTS_FILE

LOG = logging.getLogger(__name__)

PROFILES = ("smoke", "default", "paper")
KERNEL_NAME = "videonas"

# Input cells stay in the rendered notebook but are hidden until the reader asks for them.
_HIDE_CODE = """
<style>body:not(.show-code) .jp-Cell-inputWrapper, body:not(.show-code) .jp-InputArea { display: none; }
#toggle-code { position: fixed; top: 8px; right: 8px; z-index: 10; }</style>
<button id="toggle-code" onclick="document.body.classList.toggle('show-code')">show / hide code</button>
"""


def notebook_names(notebooks_dir: Path) -> list[str]:
    found = {p.stem for p in notebooks_dir.glob("*.ipynb")}
    ordered = [name for name in index.ORDER if name in found]
    return ordered + sorted(found - set(ordered))


def load_parameters(notebooks_dir: Path, name: str, profile: str) -> dict[str, Any]:
    """Papermill parameters of ``name`` for ``profile``; the smoke profile is the notebook's own parameters cell."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {list(PROFILES)}, got {profile!r}")
    if profile == "smoke":
        return {}
    path = notebooks_dir / "params" / profile / f"{name}.yaml"
    if not path.is_file():
        return {}
    parameters = yaml.safe_load(path.read_text()) or {}
    if not isinstance(parameters, dict):
        raise ValueError(f"{path} must hold a mapping of parameter names to values, got {type(parameters).__name__}")
    return parameters


def run_notebook(name: str, *, profile: str, notebooks_dir: Path, reports_dir: Path) -> dict[str, Any]:
    """Execute one notebook into ``reports_dir/name/`` and render it; returns the run record (also saved)."""
    import papermill

    out_dir = reports_dir / name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    parameters = {**load_parameters(notebooks_dir, name, profile), "output_dir": str(out_dir.resolve())}
    executed = out_dir / f"{name}.ipynb"
    record: dict[str, Any] = {"name": name, "profile": profile, "status": "done", "error": ""}
    started = time.perf_counter()
    LOG.info("running %s (%s profile)", name, profile)
    try:
        papermill.execute_notebook(
            str(notebooks_dir / f"{name}.ipynb"),
            str(executed),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(notebooks_dir),
            progress_bar=False,
        )
    except Exception as error:  # a failed experiment is reported, and the next one still runs
        record.update(status="failed", error=_error_text(error))
        LOG.error("%s failed: %s", name, record["error"])
    record["wall_seconds"] = round(time.perf_counter() - started, 1)
    record.update(commit=index.git_commit(), date=index.now())
    checkpoint_stores(out_dir)
    if executed.is_file():
        record["html"] = render_html(executed).name
    if record["status"] == "done" and not (out_dir / RESULTS_FILE).is_file():
        record.update(status="failed", error=f"the notebook wrote no {RESULTS_FILE}")
    jsonio.dump(record, out_dir / index.RUN_FILE)
    return record


def render_html(executed: Path) -> Path:
    """The executed notebook as standalone HTML with the code hidden behind a toggle."""
    import nbconvert
    import nbformat

    notebook = nbformat.read(str(executed), as_version=4)
    body, _ = nbconvert.HTMLExporter(template_name="lab").from_notebook_node(notebook)
    body = _inject(body)
    path = executed.with_suffix(".html")
    path.write_text(body)
    return path


def _inject(body: str) -> str:
    marker = body.find(">", body.find("<body"))
    if marker < 0:
        return _HIDE_CODE + body
    return body[: marker + 1] + _HIDE_CODE + body[marker + 1 :]


def checkpoint_stores(folder: Path) -> list[Path]:
    """Fold each trial store's write-ahead log into the store file, so that the ``.sqlite`` alone (what the reports
    commit) holds every trial; a notebook kernel that exits without closing its store leaves the log behind."""
    stores = sorted(folder.rglob("*.sqlite"))
    for path in stores:
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    return stores


def reproduce(
    *,
    profile: str = "default",
    names: Sequence[str] | None = None,
    notebooks_dir: Path | None = None,
    reports_dir: Path | None = None,
) -> Path:
    """Run the experiment notebooks (all, or ``names``) and rebuild the index."""
    notebooks_dir = notebooks_dir or index.project_root() / "notebooks"
    reports_dir = reports_dir or index.project_root() / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    available = notebook_names(notebooks_dir)
    for name in names or available:
        if name not in available:
            raise ValueError(f"notebook must be one of {available}, got {name!r}")
        run_notebook(name, profile=profile, notebooks_dir=notebooks_dir, reports_dir=reports_dir)
    return index.build_index(reports_dir, profile=profile)


def main(argv: Sequence[str] | None = None) -> int:
    """``reproduce [--profile P] [--notebook NAME]...`` or ``report [--profile P]``, each with its own ``--help``."""
    argv = list(argv or [])
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command not in ("reproduce", "report"):
        raise ValueError(f"command must be 'reproduce' or 'report', got {command!r}")
    descriptions = {"reproduce": "Run the experiment notebooks with a profile's parameters (Papermill), render them "
                                 "and rebuild reports/index.html.",
                    "report": "Rebuild reports/index.html from the experiments' run records and results."}
    parser = argparse.ArgumentParser(prog=f"python -m videonas {command}", description=descriptions[command])
    parser.add_argument("--profile", default="default", choices=PROFILES,
                        help="parameter profile (reproduce) or the profile shown in the index header")
    if command == "reproduce":
        parser.add_argument("--notebook", action="append", help="run only this notebook (repeatable)")
    parser.add_argument("--reports-dir", type=Path, default=None, help="default: <project>/reports")
    args = parser.parse_args(rest)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reports_dir = args.reports_dir or index.project_root() / "reports"
    if command == "reproduce":
        path = reproduce(profile=args.profile, names=args.notebook, reports_dir=reports_dir)
    else:
        reports_dir.mkdir(parents=True, exist_ok=True)
        path = index.build_index(reports_dir, profile=args.profile)
    print(path)
    return 0


def _error_text(error: BaseException) -> str:
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(error).__name__}: {error}"
    return text[:2000]
