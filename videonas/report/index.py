"""Render ``reports/index.html`` from every experiment folder's run record and results, and the bench sections.

The index opens with the answers: one row per verdict (question, the paper's claim, our result with its interval,
the verdict, the verdict adjusted for multiplicity, a link to the evidence), one "measurements, no comparison" row per
experiment whose results carry no verdicts, and one "no verdict yet" row per experiment without results. It reads
``run.json`` and ``results.json`` files, never notebook text.

Multiplicity: the adjustment needs every question of a paper at once, so it is made here, from the p-values each
verdict stores (``Verdict.decision_p_value``: the larger of the exact and the t test's). Within each paper's questions
(TVN, EvaNet, AssembleNet) the p-values are Holm-adjusted; a decisive verdict keeps its word only when its adjusted p
stays below its one-sided level, else its adjusted verdict is inconclusive. A question with an interval but no p-value
(a file written before p-values were stored for every verdict) counts in the family as p = 1; exact figures have no
noise and are neither counted nor adjusted. The rows, adjusted p-values included, are also written to
``answers.json`` beside the index, and the README's verdict table is rendered from the same rows (``readme_table``,
written by ``videonas.report.readme.refresh``), so the two cannot disagree.

Bench sections are shown apart from the answers; where the bench timed a "found TVN" that is not the experiments'
found network, the bench section says so and names its network (``bench_network``). A malformed file is shown as that
experiment's error, naming the file, and the rest of the index still renders. Links are built only from folder and
file names that are plain relative names, so an odd folder name cannot become a ``javascript:`` link.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import jinja2

from videonas import jsonio
from videonas.experiments import prose, stats
from videonas.report.results import RESULTS_FILE, Results

RUN_FILE = "run.json"
ANSWERS_FILE = "answers.json"
# Which paper an experiment's questions belong to, for results written before verdicts named their paper.
PAPER_OF_EXPERIMENT = (("tvn_", "TVN"), ("evanet_", "EvaNet"), ("assemblenet_", "AssembleNet"))
# The order in which the experiments are run and listed; notebooks not named here follow alphabetically.
ORDER = (
    "published_architectures",
    "evanet_search",
    "evanet_ensembles",
    "assemblenet_search",
    "tvn_search",
    "tvn_frames_ablation",
    "tvn_scaling_ablation",
    "search_strategies",
)
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


def project_root() -> Path:
    """The checkout this package runs from (notebooks/ and reports/ live there)."""
    return Path(__file__).resolve().parents[2]


def git_commit() -> str:
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


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def metadata(profile: str) -> dict[str, Any]:
    """Where and how the index was built: enough to tell two runs apart (each experiment also records its own)."""
    return {
        "commit": git_commit(),
        "date": now(),
        "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_memory_gib()} GiB, Python {platform.python_version()}",
        "profile": profile,
    }


def safe_link(*parts: str) -> str | None:
    """``a/b`` from plain relative names, or ``None`` when any part could escape the folder or carry a scheme."""
    if not parts or not all(isinstance(part, str) and _SAFE_NAME.match(part) for part in parts):
        return None
    return "/".join(parts)


def load_experiment(folder: Path) -> dict[str, Any]:
    """One experiment's run record and results; a malformed file becomes the experiment's error."""
    name = folder.name
    entry: dict[str, Any] = {"name": name, "anchor": re.sub(r"[^A-Za-z0-9_-]", "-", name), "run": {},
                             "results": {}}
    try:
        record = json.loads((folder / RUN_FILE).read_text())
        if not isinstance(record, dict):
            raise ValueError(f"must be a JSON object, got {type(record).__name__}")
        entry["run"] = record
    except (OSError, ValueError) as error:
        entry["run"] = {"status": "failed", "error": f"{folder / RUN_FILE}: {error}"}
    entry["run"] = clean_record(entry["run"], folder / RUN_FILE)
    if (folder / RESULTS_FILE).is_file():
        try:
            entry["results"] = Results.read(folder / RESULTS_FILE)
        except ValueError as error:
            entry["run"].update(status="failed", error=str(error))
    html = entry["run"].get("html")
    entry["links"] = {
        "html": safe_link(name, html) if isinstance(html, str) else None,
        "ipynb": safe_link(name, f"{name}.ipynb"),
        "figures": [(figure, safe_link(name, figure)) for figure in getattr(entry["results"], "figures", [])],
    }
    entry.update(section_text(entry["results"]))
    return entry


def section_text(results: Any) -> dict[str, Any]:
    """What an experiment's section adds to the answers table, so that each verdict shows once on the page: the
    measures that are not a verdict's question, whether any has a paper figure, and the conclusion's notes (the
    conclusion without the verdicts it restates)."""
    if not isinstance(results, Results):
        return {"measures": [], "measures_have_paper": False, "notes": ""}
    questions = {verdict.question for verdict in results.verdicts}
    measures = [row for row in results.headline if row["label"] not in questions]
    return {"measures": measures, "measures_have_paper": any(row.get("paper") for row in measures),
            "notes": prose.notes_of(results.conclusion, results.verdicts)}


RECORD_TEXT = ("status", "error", "profile", "commit", "date")


def clean_record(record: dict[str, Any], path: Path) -> dict[str, Any]:
    """A run record the template can always render: text fields as text, ``wall_seconds`` a finite number >= 0; a
    malformed value is replaced and named in the record's error, so one bad file never stops the index."""
    record = dict(record)
    problems = []
    seconds = record.get("wall_seconds", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < float("inf"):
        problems.append(f"wall_seconds {str(seconds)[:40]!r} is not a number of seconds")
        seconds = 0
    record["wall_seconds"] = float(seconds)
    for key in RECORD_TEXT:
        if key in record and not isinstance(record[key], str):
            problems.append(f"{key} {str(record[key])[:40]!r} is not text")
            record[key] = str(record[key])
    record.setdefault("status", "failed")
    if problems:
        record.update(status="failed", error="; ".join([f"{path}: " + ", ".join(problems)]
                                                        + ([record["error"]] if record.get("error") else [])))
    return record


def build_index(reports_dir: Path, *, profile: str) -> Path:
    """Render ``reports_dir/index.html`` (and ``answers.json``) from every experiment folder that has a run
    record."""
    experiments = load_experiments(reports_dir)
    bench = _load_bench(Path(reports_dir) / "bench")
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("videonas", "templates"), autoescape=jinja2.select_autoescape(["html"])
    ).get_template("index.html")
    meta = metadata(profile)
    meta["total_minutes"] = round(sum(float(e["run"].get("wall_seconds") or 0) for e in experiments) / 60, 1)
    answers = answer_rows(experiments)
    jsonio.dump({"rows": answers}, Path(reports_dir) / ANSWERS_FILE)
    path = Path(reports_dir) / "index.html"
    path.write_text(template.render(answers=answers, experiments=experiments, meta=meta, bench=bench,
                                    bench_network=bench_network(reports_dir)))
    return path


def load_experiments(reports_dir: Path) -> list[dict[str, Any]]:
    """Every experiment folder with a run record, in ``ORDER``."""
    folders = [path.parent for path in sorted(Path(reports_dir).glob(f"*/{RUN_FILE}"))]
    folders.sort(key=lambda f: (ORDER.index(f.name) if f.name in ORDER else len(ORDER), f.name))
    return [load_experiment(folder) for folder in folders]


def answer_rows(experiments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The index's first table: a row per verdict, in experiment order, with its Holm-adjusted verdict within its
    paper's questions; an experiment whose results have no verdicts gets one "measurements, no comparison" row, and
    one without results (not run yet, failed) a "no verdict yet" row."""
    rows = []
    for entry in experiments:
        results = entry["results"] if isinstance(entry["results"], Results) else None
        base = {"experiment": (results and results.title) or entry["name"], "section": f"#{entry['anchor']}",
                "notebook": entry["links"]["html"]}
        for verdict in results.verdicts if results else []:
            # The paper's figure beside its claim where the paper gives one; nothing where it does not.
            figure = prose.paper_figure_text(verdict)
            rows.append({**base, "paper": verdict.paper or paper_of(entry["name"]), "question": verdict.question,
                         "claim": f"{verdict.claim} (paper: {figure})" if figure else verdict.claim,
                         "minimum_effect": prose.minimum_effect_text(verdict),
                         "result": prose.result_text(verdict), "short_result": prose.short_result(verdict),
                         "verdict": verdict.verdict, "reason": prose.inconclusive_text(verdict),
                         "_verdict": verdict})
        if not results or not results.verdicts:
            # Results without verdicts are measurements (published_architectures): nothing there is compared.
            rows.append({**base, "paper": paper_of(entry["name"]),
                         "question": (results and results.question) or entry["name"], "claim": "",
                         "minimum_effect": "", "result": "", "short_result": "",
                         "verdict": "measurements, no comparison" if results else "no verdict yet", "reason": "",
                         "adjusted_p": None, "adjusted_verdict": "", "adjusted_reason": ""})
    _adjust(rows)
    return rows


def paper_of(experiment: str) -> str:
    """The paper an experiment folder's questions belong to ("" when its name says none)."""
    return next((paper for prefix, paper in PAPER_OF_EXPERIMENT if experiment.startswith(prefix)), "")


def _adjust(rows: list[dict[str, Any]]) -> None:
    """Holm within each paper's questions (see the module docstring); fills the ``adjusted_*`` fields in place."""
    families: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        verdict = row.pop("_verdict", None)
        if verdict is None:
            continue
        row.update(adjusted_p=None, adjusted_verdict=verdict.verdict, adjusted_reason="exact figures")
        if verdict.method != "exact":
            families.setdefault(row["paper"], []).append((row, verdict))
    for paper, members in families.items():
        p_values = [1.0 if v.decision_p_value is None else v.decision_p_value for _, v in members]
        for (row, verdict), adjusted in zip(members, stats.holm(p_values)):
            level = (1 - verdict.confidence) / 2
            keeps = verdict.verdict != "inconclusive" and adjusted < level
            row.update(adjusted_p=adjusted, adjusted_verdict=verdict.verdict if keeps else "inconclusive",
                       adjusted_reason=f"Holm over {len(members)} {paper or 'unassigned'} "
                                       f"{'question' if len(members) == 1 else 'questions'}: p = {adjusted:.2g}"
                                       + ("" if keeps or verdict.verdict == "inconclusive"
                                          else f", not below {level:.2g}"))


def readme_table(reports_dir: Path) -> str:
    """The README's verdict table: the index's answers rows as Markdown (question, our result with its interval
    and p-values, the verdict, the verdict adjusted within the paper's questions)."""
    lines = ["| question | ours (95% interval) | verdict | adjusted (Holm, per paper) |", "| --- | --- | --- | --- |"]
    for row in answer_rows(load_experiments(reports_dir)):
        question = f"{row['paper']}: {row['question']}" if row["paper"] else row["question"]
        if row["minimum_effect"]:
            question += f" ({row['minimum_effect']})"
        adjusted = row["adjusted_verdict"]
        if row["adjusted_p"] is not None:
            adjusted += f" (p = {row['adjusted_p']:.2g})"
        cells = [question, row["short_result"], row["verdict"], adjusted]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def bench_network(reports_dir: Path) -> dict[str, Any] | None:
    """The network the bench timed as "found TVN" (from ``bench/latency.json``) against the experiments' found TVN
    (``tvn_search/found_genome.json``): ``{"clip", "params", "same", "text"}``, ``None`` when the bench timed none.
    ``same`` is ``None`` when there is no experiment's network to compare with."""
    try:
        latency = json.loads((Path(reports_dir) / "bench" / "latency.json").read_text())
        rows = [row for row in (latency.get("extra") or {}).get("rows", []) if row.get("model") == "found TVN"
                and row.get("input_name") == "published" and isinstance(row.get("genome"), str)]
        bench = json.loads(rows[0]["genome"]) if rows else None
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(bench, dict):
        return None
    clip = f"{bench.get('num_frames')}x{bench.get('image_size')}x{bench.get('image_size')}"
    params = rows[0].get("params")
    named = f"{clip}, {params:,} parameters" if isinstance(params, int) else clip
    try:
        found = json.loads((Path(reports_dir) / "tvn_search" / "found_genome.json").read_text())
    except (OSError, ValueError):
        return {"clip": clip, "params": params, "same": None,
                "text": f"The bench's \"found TVN\" is a network of its own ({named})."}
    if found == bench:
        return {"clip": clip, "params": params, "same": True,
                "text": f"The bench's \"found TVN\" is the found TVN of the TVN search above ({named})."}
    found_clip = f"{found.get('num_frames')}x{found.get('image_size')}x{found.get('image_size')}"
    return {"clip": clip, "params": params, "same": False,
            "text": f"The bench's \"found TVN\" is another network ({named}, from an earlier TVN search) than the "
                    f"found TVN of the experiments above ({found_clip}): its aims and figures are about that "
                    f"network and bear on none of the verdicts."}


def _load_bench(bench_dir: Path) -> list[Any]:
    sections = []
    for path in sorted(bench_dir.glob("*.json")) if bench_dir.is_dir() else []:
        try:
            sections.append(Results.read(path))
        except ValueError as error:
            sections.append(Results(title=path.stem, headline=[], conclusion=f"unreadable: {error}"))
    return sections


def _memory_gib() -> int:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError, AttributeError):
        return 0
