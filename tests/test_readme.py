"""The README's promises are kept by tests it names: every named test exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_the_readme_names_exists():
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", readme))
    assert len(named) >= 10
    defined = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), re.M))
    assert named <= defined, sorted(named - defined)


def test_the_readmes_python_search_is_a_valid_configuration():
    import ast

    from videonas import config

    readme = (ROOT / "README.md").read_text()
    blocks = [block for block in re.findall(r"```python\n(.*?)```", readme, re.S) if "run_search(" in block]
    assert blocks
    for block in blocks:
        call = next(node for node in ast.walk(ast.parse(block))
                    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "run_search")
        fields = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        parsed = config.SearchConfig.from_dict({"name": ast.literal_eval(call.args[0]), **fields})
        assert parsed.space.family == "tvn" and parsed.constraints.limit("max_params") == 200_000


def test_the_readme_verdict_table_is_the_generated_one():
    """One source of each figure: the README's verdict table is the index's answers, rendered from the committed
    results (refresh it with ``videonas.report.readme.refresh()`` after a run)."""
    from videonas.report import index, readme

    table = readme.block_in((ROOT / "README.md").read_text(), readme.VERDICTS_START, readme.VERDICTS_END)
    assert table.startswith("| question |")
    assert table == index.readme_table(ROOT / "reports")


def test_the_readme_reproduce_timings_are_the_committed_run_records():
    """The README's reproduce time is the committed run records' (``videonas.report.readme.refresh()``)."""
    from videonas.report import readme

    timings = readme.block_in((ROOT / "README.md").read_text(), readme.TIMINGS_START, readme.TIMINGS_END)
    assert timings.startswith("| notebook | status |")
    assert timings == readme.timings_table(ROOT / "reports")
