"""The TVN and published-architectures notebooks have the experiment shape: a parameters cell with exactly
``output_dir`` and ``config`` (a Config its module parses), at most 30 counted lines of non-plotting code, a run call,
its figures and its conclusion, and no literal ``reports/`` path."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from videonas.experiments import published, search_strategies, tvn_frames_ablation, tvn_scaling_ablation, tvn_search

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MODULES = {"tvn_search": tvn_search, "tvn_frames_ablation": tvn_frames_ablation,
           "tvn_scaling_ablation": tvn_scaling_ablation, "published_architectures": published,
           "search_strategies": search_strategies}
PRESENTATION = ("plt.", "plot", "fig", "ax.", "axes", "display(", "show(")
MAX_LINES = 30


def _cells(name: str) -> list[dict]:
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _is_parameters(cell: dict) -> bool:
    return "parameters" in cell.get("metadata", {}).get("tags", [])


def counted_lines(cells: list[dict]) -> list[str]:
    """Code lines outside the parameters cell: not blank, not comments, not plotting or display."""
    return [line for cell in cells if cell["cell_type"] == "code" and not _is_parameters(cell)
            for line in _source(cell).splitlines()
            if line.strip() and not line.strip().startswith("#") and not any(k in line for k in PRESENTATION)]


def test_counting_follows_the_rule():
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["x = 1\n"]},
             {"cell_type": "code", "metadata": {}, "source": ["import a\n", "\n", "# note\n", "plt.show()\n",
                                                              "b = a.run()\n", "display(b)\n"]},
             {"cell_type": "markdown", "metadata": {}, "source": ["text"]}]
    assert counted_lines(cells) == ["import a", "b = a.run()"]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_notebook_has_the_experiment_shape(name):
    cells = _cells(name)
    parameters = [cell for cell in cells if _is_parameters(cell)]
    assert len(parameters) == 1
    tree = ast.parse(_source(parameters[0]))
    names = [target.id for node in tree.body for target in node.targets]
    assert names == ["output_dir", "config"]
    namespace: dict = {}
    exec(_source(parameters[0]), namespace)  # the smoke profile parses as the module's Config
    MODULES[name].Config.from_dict(namespace["config"])
    assert len(counted_lines(cells)) <= MAX_LINES, counted_lines(cells)
    code = [_source(cell) for cell in cells if cell["cell_type"] == "code"]
    module = MODULES[name].__name__.rsplit(".", 1)[1]
    assert any(f"result = {module}.run(" in source for source in code)
    assert code[-1].strip() == "result"  # the conclusion, rendered as Markdown
    assert any("result.show()" in source for source in code)
    assert not any("reports/" in source for source in code)


@pytest.mark.parametrize("name", sorted(MODULES))
@pytest.mark.parametrize("profile", ["default", "paper"])
def test_profile_files_hold_one_config_with_the_smoke_profiles_keys(name, profile):
    import yaml

    data = yaml.safe_load((NOTEBOOKS / "params" / profile / f"{name}.yaml").read_text())
    assert list(data) == ["config"]
    namespace: dict = {}
    exec(_source(next(cell for cell in _cells(name) if _is_parameters(cell))), namespace)
    assert set(data["config"]) == set(namespace["config"])  # every key given, none the smoke profile lacks
