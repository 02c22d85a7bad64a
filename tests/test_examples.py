"""The search configurations shipped in videonas/examples: valid, found by name by ``videonas search --config``,
and sized as their comments say (the walk's test runs ``folder``, which is ``smoke`` on a folder dataset)."""

from __future__ import annotations

import pytest

from videonas import config, examples
from videonas.__main__ import load_search_config, main


def test_the_examples_are_shipped_and_found_by_name_or_path(tmp_path, monkeypatch):
    assert examples.names() == ["deploy", "folder", "smoke"]
    (tmp_path / "my_actions" / "jump").mkdir(parents=True)  # the folder example's dataset, relative to the cwd
    monkeypatch.chdir(tmp_path)
    for name in examples.names():
        path = examples.resolve(name)
        assert path == str(examples.FOLDER / f"{name}.yaml") == examples.resolve(f"{name}.yaml")
        assert load_search_config(name).name == name == load_search_config(path).name
    (tmp_path / "smoke").write_text("a file of that name wins over the example")
    assert examples.resolve("smoke") == "smoke"
    assert examples.resolve("nested/smoke") == "nested/smoke"


def test_an_unknown_config_names_the_examples(tmp_path, capsys):
    assert main(["search", "--config", str(tmp_path / "nothing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nothing.yaml not found (nor a shipped example: deploy, folder, smoke)" in err


def test_the_deploy_example_measures_r_on_onnx_runtime_and_keeps_weights():
    deploy = load_search_config("deploy")
    assert deploy.constraints.limit("max_latency_ms") == 1.0
    assert deploy.constraints.to_dict()["latency_runtime"] == "onnxruntime"
    assert deploy.save_weights and deploy.task.dataset == "embedded:smoke"


def test_the_folder_example_is_the_smoke_search_on_a_folder(tmp_path, monkeypatch):
    (tmp_path / "my_actions" / "jump").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    smoke = load_search_config("smoke").to_dict()
    folder = load_search_config("folder").to_dict()
    assert folder["task"]["dataset"] == "my_actions" and folder["save_weights"]
    differing = {key for key in smoke if smoke[key] != folder[key]}
    assert differing == {"name", "store", "task", "save_weights"}
    assert {key for key in smoke["task"] if smoke["task"][key] != folder["task"][key]} == {"dataset"}


def test_the_folder_example_names_a_missing_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="task.dataset: .*'my_actions': no such folder"):
        load_search_config("folder")
    assert isinstance(config.load_yaml(examples.resolve("folder")), dict)
