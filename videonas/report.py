"""From notebooks to ``reports/``: run each experiment with Papermill, render it, and index the results.

Each notebook writes ``results.json`` (via ``write_results``) next to its executed copy; the index reads those files,
never notebook text, so a report is only as good as what the experiment chose to state. A failed notebook is recorded
with its error and the others still run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Sequence

import jinja2
import yaml

LOG = logging.getLogger(__name__)

# The order in which the experiments are run and listed; notebooks not named here follow alphabetically.
ORDER = (
    "published_architectures",
    "evanet_search",
    "evanet_ensembles",
    "assemblenet_search",
    "tvn_search",
    "tvn_frames_ablation",
    "tvn_scaling_ablation",
)
PROFILES = ("smoke", "default", "paper")
KERNEL_NAME = "videonas"
RESULTS_FILE = "results.json"
RUN_FILE = "run.json"

# Input cells stay in the rendered notebook but are hidden until the reader asks for them.
_HIDE_CODE = """
<style>body:not(.show-code) .jp-Cell-inputWrapper, body:not(.show-code) .jp-InputArea { display: none; }
#toggle-code { position: fixed; top: 8px; right: 8px; z-index: 10; }</style>
<button id="toggle-code" onclick="document.body.classList.toggle('show-code')">show / hide code</button>
"""


def project_root() -> Path:
    """The checkout this package runs from (notebooks/ and reports/ live there)."""
    return Path(__file__).resolve().parent.parent


def write_results(
    output_dir: str | os.PathLike,
    *,
    title: str,
    question: str,
    headline: Sequence[dict[str, Any]],
    conclusion: str,
    figures: Sequence[str] = (),
    deterministic: str = "",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write the machine-readable outcome of one experiment.

    ``headline`` rows are ``{"label", "value", "paper"}`` (``paper`` is the published figure it compares with, or "");
    ``figures`` are file names inside ``output_dir``; ``deterministic`` says which numbers repeat exactly.
    """
    for index, row in enumerate(headline):
        missing = {"label", "value"} - set(row)
        if missing:
            raise ValueError(f"headline[{index}] is missing {sorted(missing)}: {row!r}")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    for figure in figures:
        if not (output_dir / figure).is_file():
            raise ValueError(f"figures lists {figure!r}, which is not a file in {output_dir}")
    payload = {
        "title": title,
        "question": question,
        "headline": [dict(row) for row in headline],
        "conclusion": conclusion,
        "figures": list(figures),
        "deterministic": deterministic,
        "extra": extra or {},
    }
    path = output_dir / RESULTS_FILE
    path.write_text(json.dumps(payload, indent=2, default=_json_default))
    return path


def notebook_names(notebooks_dir: Path) -> list[str]:
    found = {p.stem for p in notebooks_dir.glob("*.ipynb")}
    ordered = [name for name in ORDER if name in found]
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
    record.update(commit=_git_commit(), date=_now())
    checkpoint_stores(out_dir)
    if executed.is_file():
        record["html"] = render_html(executed).name
    if record["status"] == "done" and not (out_dir / RESULTS_FILE).is_file():
        record.update(status="failed", error=f"the notebook wrote no {RESULTS_FILE}")
    (out_dir / RUN_FILE).write_text(json.dumps(record, indent=2))
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


def _git_commit() -> str:
    """The checkout's short commit, with "+changes" when the code in the working tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_root(), capture_output=True,
                                text=True, check=True).stdout.strip()
        # reports/ is what a run writes, so it does not count as a change to the code that made it.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports"],
                               cwd=project_root(), capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+changes" if dirty else commit


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def metadata(profile: str) -> dict[str, Any]:
    """Where and how the index was built: enough to tell two runs apart (each experiment also records its own)."""
    return {
        "commit": _git_commit(),
        "date": _now(),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_memory_gib()} GiB, Python {platform.python_version()}",
        "profile": profile,
    }


def build_index(reports_dir: Path, *, profile: str) -> Path:
    """Render ``reports_dir/index.html`` from every experiment folder that has a run record."""
    experiments = []
    names = [p.parent.name for p in sorted(reports_dir.glob(f"*/{RUN_FILE}"))]
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        folder = reports_dir / name
        record = json.loads((folder / RUN_FILE).read_text())
        results_path = folder / RESULTS_FILE
        results = json.loads(results_path.read_text()) if results_path.is_file() else {}
        experiments.append({"name": name, "run": record, "results": results})
    bench = _load_bench(reports_dir / "bench")
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("videonas", "templates"), autoescape=jinja2.select_autoescape(["html"])
    ).get_template("index.html")
    meta = metadata(profile)
    meta["total_minutes"] = round(sum(e["run"].get("wall_seconds", 0) for e in experiments) / 60, 1)
    path = reports_dir / "index.html"
    path.write_text(template.render(experiments=experiments, meta=meta, bench=bench))
    return path


def reproduce(
    *,
    profile: str = "default",
    names: Sequence[str] | None = None,
    notebooks_dir: Path | None = None,
    reports_dir: Path | None = None,
) -> Path:
    """Run the experiment notebooks (all, or ``names``) and rebuild the index."""
    notebooks_dir = notebooks_dir or project_root() / "notebooks"
    reports_dir = reports_dir or project_root() / "reports"
    reports_dir.mkdir(parents=True, exist_ok=True)
    available = notebook_names(notebooks_dir)
    for name in names or available:
        if name not in available:
            raise ValueError(f"notebook must be one of {available}, got {name!r}")
        run_notebook(name, profile=profile, notebooks_dir=notebooks_dir, reports_dir=reports_dir)
    return build_index(reports_dir, profile=profile)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videonas", description=__doc__)
    parser.add_argument("command", choices=["reproduce", "report"])
    parser.add_argument("--profile", default="default", choices=PROFILES)
    parser.add_argument("--notebook", action="append", help="run only this notebook (repeatable)")
    parser.add_argument("--reports-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reports_dir = args.reports_dir or project_root() / "reports"
    if args.command == "reproduce":
        path = reproduce(profile=args.profile, names=args.notebook, reports_dir=reports_dir)
    else:
        reports_dir.mkdir(parents=True, exist_ok=True)
        path = build_index(reports_dir, profile=args.profile)
    print(path)
    return 0


def _load_bench(bench_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(bench_dir.glob("*.json"))] if bench_dir.is_dir() else []


def _error_text(error: BaseException) -> str:
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(error).__name__}: {error}"
    return text[:2000]


def _memory_gib() -> int:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return 0


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays in results become plain JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
