"""Run the experiment notebooks with Papermill into ``reports/<name>/``, render them, and checkpoint their stores.

A failed notebook is recorded with its error in its run record (``run.json``) and the others still run; the index
(``videonas.report.index``) is rebuilt afterwards.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from videonas import jsonio, templates
from videonas.report import export, index
from videonas.report.results import RESULTS_FILE, Results

LOG = logging.getLogger(__name__)

PROFILES = ("smoke", "default", "paper")
KERNEL_NAME = "videonas"

# nbconvert template of the rendered notebooks (videonas/templates/report_notebook): offline, code behind a toggle.
NOTEBOOK_TEMPLATE = "report_notebook"
# The kernel's environment under Papermill: no one watches a progress bar there, TensorFlow's C++ INFO/WARNING lines
# and tqdm's "IProgress not found" are noise in a report (the subprocess workers inherit it too).
QUIET_KERNEL_ENV = {"TQDM_DISABLE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore:IProgress not found"}


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
    known = parameter_names(notebooks_dir / f"{name}.ipynb")
    unknown = sorted(set(parameters) - known)
    if unknown:  # Papermill would only warn and inject them: a typo would leave the notebook's smoke value in place
        raise ValueError(f"{path}: unknown parameter(s) {unknown}; {name}'s parameters cell defines {sorted(known)}")
    return parameters


def parameter_names(notebook_path: Path) -> set[str]:
    """The names the notebook's ``parameters``-tagged cell assigns."""
    import nbformat  # Jupyter: deferred

    notebook = nbformat.read(str(notebook_path), as_version=4)
    names: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return names


# How often a running notebook's record is rewritten with the seconds it has run: a run killed mid-notebook leaves
# that time behind (to within one beat), and the run that continues its stores adds it to its own.
HEARTBEAT_SECONDS = 30.0


@contextlib.contextmanager
def _heartbeat(path: Path, running: dict[str, Any], *, earlier: float, started: float):
    """While the block runs, rewrite ``running`` (the record as ``running``) at ``path`` every ``HEARTBEAT_SECONDS``
    with ``elapsed_seconds``: ``earlier`` (unfinished attempts before this one) plus this attempt's time."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            jsonio.dump({**running, "elapsed_seconds": round(earlier + time.perf_counter() - started, 1)}, path)

    thread = threading.Thread(target=beat, name="run-record-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    except BaseException:  # interrupted: leave the time run so far, not the last beat's
        stop.set()
        thread.join()
        jsonio.dump({**running, "elapsed_seconds": round(earlier + time.perf_counter() - started, 1)}, path)
        raise
    finally:
        stop.set()
        thread.join()


def _earlier_seconds(path: Path) -> float:
    """The seconds an unfinished run recorded at ``path`` had run (its last heartbeat), 0 when it recorded none."""
    try:
        seconds = json.loads(path.read_text()).get("elapsed_seconds", 0.0)
    except (OSError, ValueError, AttributeError):
        return 0.0
    return float(seconds) if isinstance(seconds, (int, float)) and seconds >= 0 else 0.0


def run_notebook(name: str, *, profile: str, notebooks_dir: Path, reports_dir: Path,
                 continue_stores: bool = False) -> dict[str, Any]:
    """Execute one notebook into ``reports_dir/name/`` and render it; returns the run record (also saved, first as
    ``running``, so that a killed run leaves its code and profile behind). ``continue_stores`` keeps the folder of an
    unfinished run and sets ``config.resume`` where the profile names it, so its searches continue from their stores
    instead of training again what they had finished; its ``wall_seconds`` then include the time the unfinished
    attempts had run (``earlier_seconds``, from their heartbeats), so the record says what the notebook cost."""
    import papermill  # Jupyter: deferred

    out_dir = reports_dir / name
    earlier = _earlier_seconds(out_dir / index.RUN_FILE) if continue_stores else 0.0
    if out_dir.exists() and not continue_stores:
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (RESULTS_FILE, f"{name}.ipynb", f"{name}.html"):  # outputs of the unfinished run, not its stores
        (out_dir / stale).unlink(missing_ok=True)
    parameters = {**load_parameters(notebooks_dir, name, profile), "output_dir": str(out_dir.resolve())}
    if continue_stores and isinstance(parameters.get("config"), dict) and "resume" in parameters["config"]:
        parameters["config"] = {**parameters["config"], "resume": True}
    executed = out_dir / f"{name}.ipynb"
    record: dict[str, Any] = {"name": name, "profile": profile, "status": "running", "error": "",
                              "commit": index.git_commit(), "date": index.now(), "elapsed_seconds": earlier}
    jsonio.dump(record, out_dir / index.RUN_FILE)
    running = dict(record)
    del record["elapsed_seconds"]
    record["status"] = "done"
    started = time.perf_counter()
    LOG.info("running %s (%s profile)", name, profile)
    try:
        with quiet_environment(), _heartbeat(out_dir / index.RUN_FILE, running, earlier=earlier, started=started):
            papermill.execute_notebook(
                str(notebooks_dir / f"{name}.ipynb"),
                str(executed),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(notebooks_dir),
                progress_bar=True,  # cells done of the notebook's total, on the runner's own stderr
            )
    except Exception as error:  # a failed experiment is reported, and the next one still runs
        record.update(status="failed", error=export.scrub_paths(_error_text(error), [str(index.project_root())]))
        LOG.error("%s failed: %s", name, record["error"])
    record["wall_seconds"] = round(earlier + time.perf_counter() - started, 1)
    if earlier:
        record["earlier_seconds"] = earlier
    record.update(commit=index.git_commit(), date=index.now())
    checkpoint_stores(out_dir)
    if executed.is_file():
        record["html"] = render_html(executed).name
    if record["status"] == "done" and not (out_dir / RESULTS_FILE).is_file():
        record.update(status="failed", error=f"the notebook wrote no {RESULTS_FILE}")
    jsonio.dump(record, out_dir / index.RUN_FILE)
    return record


def render_html(executed: Path) -> Path:
    """The executed notebook as standalone HTML: titled by its first heading, made readable
    (``videonas.report.export``: no stderr, no local paths, tables without index, the conclusion as Markdown), without
    In/Out prompts, with the code cells hidden behind a toggle (markdown and outputs shown), and needing no network
    to display."""
    import nbconvert  # Jupyter: deferred
    import nbformat  # Jupyter: deferred

    notebook = nbformat.read(str(executed), as_version=4)
    results = None
    if (executed.parent / RESULTS_FILE).is_file():
        try:
            results = Results.read(executed.parent / RESULTS_FILE)
        except ValueError as error:  # the index reports a malformed results file; the page still renders
            LOG.warning("%s", error)
    notebook = export.clean_notebook(notebook, roots=export.local_roots(notebook, [index.project_root()]),
                                     results=results)
    notebook.metadata["title"] = notebook_title(notebook, default=executed.stem)
    exporter = nbconvert.HTMLExporter(template_name=NOTEBOOK_TEMPLATE, exclude_input_prompt=True,
                                      exclude_output_prompt=True,
                                      extra_template_basedirs=[str(Path(templates.__file__).parent)])
    body, _ = exporter.from_notebook_node(notebook)
    body = export.without_stderr_style(body)
    path = executed.with_suffix(".html")
    path.write_text(body)
    return path


@contextlib.contextmanager
def quiet_environment():
    """``QUIET_KERNEL_ENV`` set for the kernel Papermill starts (and its workers), the caller's restored after."""
    saved = {key: os.environ.get(key) for key in QUIET_KERNEL_ENV}
    os.environ.update(QUIET_KERNEL_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def notebook_title(notebook: Any, *, default: str) -> str:
    """The text of the notebook's first markdown heading (emphasis and code marks removed), else ``default``."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            heading = re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line)
            if heading:
                return re.sub(r"[*_`]", "", heading.group(1)).strip() or default
    return default


def checkpoint_stores(folder: Path) -> list[Path]:
    """Fold each trial store's write-ahead log into the store file, so that the ``.sqlite`` alone (what the reports
    commit) holds every trial; a notebook kernel that exits without closing its store leaves the log behind. Returns
    the stores checkpointed; a file named ``*.sqlite`` that is not one is logged and skipped."""
    stores = []
    for path in sorted(folder.rglob("*.sqlite")):
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stores.append(path)
        except sqlite3.DatabaseError as error:  # not a store (a stray file): reported, never a stopped reproduce
            LOG.warning("%s is not a SQLite trial store, left as it is: %s", path, error)
        finally:
            connection.close()
    return stores


def run_with_this_code(reports_dir: Path, name: str, *, profile: str) -> dict[str, Any] | None:
    """``name``'s run record when its last run (finished or not) used ``profile`` from a clean tree whose code is
    this clean checkout's (``same_code``: later commits of reports or Markdown alone do not count), else ``None``."""
    path = reports_dir / name / index.RUN_FILE
    commit = index.git_commit()
    if not path.is_file() or commit == "unknown" or commit.endswith("+changes"):
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    recorded = str(record.get("commit", "")) if isinstance(record, dict) else ""
    if not recorded or recorded.endswith("+changes") or record.get("profile") != profile:
        return None
    return record if recorded == commit or same_code(recorded) else None


def finished_with_this_code(reports_dir: Path, name: str, *, profile: str) -> dict[str, Any] | None:
    """``name``'s run record when its last run with this code and ``profile`` finished, else ``None``."""
    record = run_with_this_code(reports_dir, name, profile=profile)
    done = record is not None and record.get("status") == "done" and (reports_dir / name / RESULTS_FILE).is_file()
    return record if done else None


def same_code(commit: str) -> bool:
    """Whether ``commit`` and HEAD differ in nothing but ``reports/`` and Markdown files (a commit of partial results
    or of the README changes no experiment)."""
    try:
        return subprocess.run(["git", "diff", "--quiet", commit, "HEAD", "--", ".", ":!reports", ":!*.md"],
                              cwd=index.project_root(), capture_output=True).returncode == 0
    except OSError:
        return False


def reproduce(
    *,
    profile: str = "default",
    names: Sequence[str] | None = None,
    notebooks_dir: Path | None = None,
    reports_dir: Path | None = None,
    resume: bool = False,
) -> Path:
    """Run the experiment notebooks (all, or ``names``) and rebuild the index. ``resume`` keeps each notebook that
    already finished with this code (``finished_with_this_code``) and continues the stores of one that started with
    this code but did not finish, so a reproduce cut short continues where it stopped, on any machine with the
    committed reports."""
    notebooks_dir = notebooks_dir or index.project_root() / "notebooks"
    reports_dir = reports_dir or index.project_root() / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    available = notebook_names(notebooks_dir)
    chosen = list(names or available)
    for name in chosen:
        if name not in available:
            raise ValueError(f"notebook must be one of {available}, got {name!r}")
    started = time.perf_counter()
    for number, name in enumerate(chosen, 1):
        kept = finished_with_this_code(reports_dir, name, profile=profile) if resume else None
        if kept is not None:
            LOG.info("notebook %d of %d: %s kept: done at %s on %s in %.0f s", number, len(chosen), name,
                     kept.get("commit"), kept.get("date"), kept.get("wall_seconds", 0))
            continue
        unfinished = resume and run_with_this_code(reports_dir, name, profile=profile) is not None
        LOG.info("notebook %d of %d: %s%s (%.0f min so far)", number, len(chosen), name,
                 ", continuing the stores of its unfinished run" if unfinished else "",
                 (time.perf_counter() - started) / 60)
        record = run_notebook(name, profile=profile, notebooks_dir=notebooks_dir, reports_dir=reports_dir,
                              continue_stores=unfinished)
        LOG.info("notebook %d of %d: %s %s in %.0f s", number, len(chosen), name, record["status"],
                 record["wall_seconds"])
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
        parser.add_argument("--resume", action="store_true",
                            help="keep the notebooks that already finished with this code and profile")
    parser.add_argument("--reports-dir", type=Path, default=None, help="default: <project>/reports")
    args = parser.parse_args(rest)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reports_dir = args.reports_dir or index.project_root() / "reports"
    if command == "reproduce":
        path = reproduce(profile=args.profile, names=args.notebook, reports_dir=reports_dir, resume=args.resume)
    else:
        reports_dir.mkdir(parents=True, exist_ok=True)
        path = index.build_index(reports_dir, profile=args.profile)
    print(path)
    return 0


def _error_text(error: BaseException) -> str:
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(error).__name__}: {error}"
    return text[:2000]
