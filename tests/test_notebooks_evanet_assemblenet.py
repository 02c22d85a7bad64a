"""The EvaNet and AssembleNet notebooks have the experiment shape: two parameters (``output_dir`` and ``config``, the
smoke profile, which parses as the experiment's ``Config``), at most 30 lines of non-plotting code, no literal path to
another experiment's output, and profile files that hold one ``config`` of the same shape."""

from __future__ import annotations

import ast
import copy
import importlib
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("evanet_search", "evanet_ensembles", "assemblenet_search")
PLOTTING = ("plt.", "plot", "fig", "ax.", "axes", "display(", "show(")
MAX_LINES = 30


def cells(name: str) -> list:
    return nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4).cells


def parameters_cell(name: str):
    (cell,) = [c for c in cells(name) if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    return cell


def code_lines(name: str) -> list[str]:
    """Code lines outside the parameters cell that are neither blank nor comments."""
    return [line for cell in cells(name)
            if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", [])
            for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]


def counted_lines(name: str) -> list[str]:
    """The issue's measure: ``code_lines`` less those with a plotting word (which also skips any line that says
    ``config``, as "fig" is in it)."""
    return [line for line in code_lines(name) if not any(word in line for word in PLOTTING)]


def smoke_config(name: str) -> dict:
    namespace: dict = {}
    exec(compile(parameters_cell(name).source, name, "exec"), namespace)  # literals only: checked below
    return namespace["config"]


def test_the_counter_counts_code_and_skips_plotting():
    assert counted_lines("evanet_search")[0] == "from videonas.experiments import evanet_search"
    assert not any("show(" in line for line in counted_lines("assemblenet_search"))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_at_most_thirty_counted_lines(name):
    assert 0 < len(counted_lines(name)) <= len(code_lines(name)) <= MAX_LINES


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exactly_two_parameters_as_literals(name):
    tree = ast.parse(parameters_cell(name).source)
    assigned = [target.id for node in tree.body for target in node.targets]
    assert assigned == ["output_dir", "config"]
    for node in tree.body:
        ast.literal_eval(node.value)  # plain values, as Papermill replaces them


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_smoke_profile_parses_and_the_run_cell_calls_run(name):
    module = importlib.import_module(f"videonas.experiments.{name}")
    config = module.Config.from_dict(smoke_config(name))
    assert config.seeds == (0, 1) and config.search["task"]["dataset"] == "embedded:smoke"
    source = "\n".join(cell.source for cell in cells(name) if cell.cell_type == "code")
    assert f"experiment_config = {name}.Config.from_dict(config)" in source
    assert f"result = {name}.run(experiment_config, output_dir=output_dir)" in source
    assert "reports/" not in source and "write_results" not in source


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_checked_output_cells_come_before_the_run(name):
    sources = [cell.source for cell in cells(name) if cell.cell_type == "code"]
    checked = [i for i, source in enumerate(sources) if source.startswith("# NBVAL_CHECK_OUTPUT")]
    run = [i for i, source in enumerate(sources) if f"{name}.run(" in source]
    assert checked and len(run) == 1 and max(checked) < run[0]


@pytest.mark.parametrize("profile", ("default", "paper"))
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_profiles_hold_one_config_of_the_experiment_s_shape(name, profile):
    with open(ROOT / "notebooks" / "params" / profile / f"{name}.yaml", encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert list(data) == ["config"]
    config = copy.deepcopy(data["config"])
    if profile == "paper":  # a cluster's data set, absent here: every other field is checked
        assert config["search"]["task"]["dataset"].startswith("/data/")
        config["search"]["task"]["dataset"] = "embedded:smoke"
    parsed = importlib.import_module(f"videonas.experiments.{name}").Config.from_dict(config)
    assert parsed.seeds == (0, 1, 2, 3, 4, 5)
