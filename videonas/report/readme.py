"""The README's generated blocks: the verdict table and the default run's timings, each rendered from the committed
``reports/`` and written between its markers, so that the README cannot disagree with the runs it describes.

``refresh()`` rewrites both after a run (``tests/test_readme.py`` checks that the committed README holds what they
render). The verdict table is ``videonas.report.index.readme_table``; the timings come from each notebook's
``run.json`` (its wall time, commit and date), which is what "measured" means for ``make reproduce``.
"""

from __future__ import annotations

import os
from pathlib import Path

from videonas.report import index

VERDICTS_START = ("<!-- verdict table: generated from reports/*/results.json by videonas.report.readme.refresh(); "
                  "do not edit by hand -->")
VERDICTS_END = "<!-- end of the generated verdict table -->"
TIMINGS_START = ("<!-- reproduce timings: generated from reports/*/run.json by videonas.report.readme.refresh(); "
                 "do not edit by hand -->")
TIMINGS_END = "<!-- end of the generated reproduce timings -->"


def timings_table(reports_dir: str | os.PathLike) -> str:
    """One row per notebook with a run record, in the index's order: status, wall time (a resumed run's includes its
    unfinished attempts', said beside it; a running one's so far), commit and date; then the sum over the finished
    ones and the commits and days they span (a run resumed over sessions, or notebooks rerun after a change, span
    several)."""
    lines = ["| notebook | status | wall time | commit | date |", "| --- | --- | --- | --- | --- |"]
    finished, commits, days = 0.0, [], []
    for entry in index.load_experiments(Path(reports_dir)):
        run = entry["run"]
        seconds = run.get("wall_seconds")
        status = str(run.get("status", "unknown"))
        commit, date = str(run.get("commit", "?")), str(run.get("date", "?"))
        took = _duration(seconds)
        if status == "running":
            took = f"{_duration(run.get('elapsed_seconds'))} so far"
        elif isinstance(run.get("earlier_seconds"), (int, float)):
            took += f" (of which {_duration(run['earlier_seconds'])} before a resume)"
        lines.append(f"| `{entry['name']}` | {status} | {took} | {commit} | {date} |")
        if status == "done" and isinstance(seconds, (int, float)):
            finished += float(seconds)
            commits += [commit] if commit not in commits else []
            days += [date[:10]] if date[:10] not in days else []
    lines.append(f"| **sum of the finished notebooks** | | **{_duration(finished)}** | {', '.join(commits) or '-'} | "
                 f"{', '.join(sorted(days)) or '-'} |")
    return "\n".join(lines)


def _duration(seconds: object) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    minutes, rest = divmod(round(float(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def block_in(text: str, start: str, end: str) -> str:
    """What ``text`` holds between the markers ``start`` and ``end`` ("" when either is missing)."""
    if start not in text or end not in text:
        return ""
    return text.split(start)[1].split(end)[0].strip("\n")


def _replace(text: str, start: str, end: str, body: str, *, readme: Path) -> str:
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f"{readme} must hold the markers once each: {start!r} and {end!r}")
    head, rest = text.split(start)
    _, tail = rest.split(end)
    # Blank lines around the block: Markdown then reads the markers as HTML blocks of their own.
    return f"{head}{start}\n\n{body}\n\n{end}{tail}"


def refresh(readme: str | os.PathLike | None = None, reports_dir: str | os.PathLike | None = None) -> Path:
    """Rewrite the README's verdict table and reproduce timings from ``reports_dir``."""
    readme = Path(readme or index.project_root() / "README.md")
    reports_dir = Path(reports_dir or index.project_root() / "reports")
    text = _replace(readme.read_text(), VERDICTS_START, VERDICTS_END, index.readme_table(reports_dir), readme=readme)
    readme.write_text(_replace(text, TIMINGS_START, TIMINGS_END, timings_table(reports_dir), readme=readme))
    return readme
