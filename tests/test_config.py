"""The run configuration: one shape from YAML, Python and notebooks; a misspelled key at any depth is one ValueError
naming its dotted path and the allowed keys, raised before any store file exists."""

from __future__ import annotations

import pytest
import yaml

from videonas import config
from videonas.search import TrialStore, run_search

SYNTHETIC = "videonas.search.synthetic:evaluate"
TVN = {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [1, 2], "max_blocks": 2, "filters": [16]}}
BASE = {"name": "same", "space": TVN, "num_trials": 2, "batch_size": 2, "seed": 3,
        "strategy": {"name": "regularized", "options": {"population_size": 2}},
        "task": {"dataset": "embedded:smoke", "batch_size": 8, "max_train_clips": 16},
        "budget": {"epochs": 1}, "constraints": {"max_params": 10}, "executor": "inprocess"}


def _stored(store):
    with TrialStore(store) as opened:
        return opened.experiment_config("same")


def test_yaml_python_and_defaults_store_one_normalised_configuration(tmp_path):
    """Every trial is rejected by P before anything trains, so the three searches cost milliseconds."""
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump({**BASE, "store": str(tmp_path / "yaml.sqlite")}))
    from videonas.__main__ import main

    assert main(["search", "--config", str(path), "--no-progress"]) == 1  # nothing finished: all rejected
    run_search(**{**BASE, "store": tmp_path / "api.sqlite"}, progress=False)
    typed = config.SearchConfig.from_dict({**BASE, "store": str(tmp_path / "typed.sqlite")})
    run_search(typed, progress=False)
    stored = [_stored(tmp_path / f"{kind}.sqlite") for kind in ("yaml", "api", "typed")]
    assert stored[0] == stored[1] == stored[2]
    assert stored[0]["task"]["learning_rate"] == 1e-3  # defaults are written out: the normalised form
    assert stored[0]["space"]["options"]["min_blocks"] == 2
    assert stored[0]["constraints"] == {"max_params": 10, "max_train_memory_mib": 4096}  # the default ceiling too
    assert config.SearchConfig.from_dict(typed.to_dict()) == typed  # the plain form round-trips


def test_workers_receive_typed_options_and_the_stored_form_reads_back():
    typed = config.SearchConfig.from_dict({**BASE, "store": "x.sqlite"})
    options = typed.trial_options()
    assert options.task.batch_size == 8 and options.constraints.limit("max_params") == 10
    assert config.stored_trial_options(typed.stored()) == options
    legacy = {"evaluate_options": {"task": {"batch_size": 8}, "budget": {"epochs": 2}}}  # stores before this shape
    assert config.stored_trial_options(legacy).budget.epochs == 2


@pytest.mark.parametrize("change, path, allowed", [
    ({"nun_trials": 3}, "nun_trials", "num_trials"),
    ({"task": {"batchsize": 8}}, "task.batchsize", "batch_size"),
    ({"budget": {"epoch": 1}}, "budget.epoch", "epochs"),
    ({"space": {"family": "tvn", "options": {"image_size": [32]}}}, "space.options.image_size", "image_sizes"),
    ({"constraints": {"max_param": 10}}, "constraints.max_param", "max_params"),
    ({"strategy": {"name": "regularized", "options": {"populaton_size": 2}}}, "strategy.options.populaton_size",
     "population_size"),
    ({"executor": {"kind": "subprocess", "options": {"max_worker": 2}}}, "executor.options.max_worker",
     "max_workers"),
    ({"evaluate": {"function": SYNTHETIC, "options": {"delay": 1}}, "task": None, "budget": None,
      "constraints": None}, "evaluate.options.delay", "delay_s"),
])
def test_a_misspelled_key_at_any_depth_is_one_error_before_any_store_exists(tmp_path, change, path, allowed):
    store = tmp_path / "typo.sqlite"
    with pytest.raises(ValueError) as raised:
        run_search(**{**BASE, "store": store, **change}, progress=False)
    message = str(raised.value)
    assert path in message and allowed in message, message
    assert not store.exists()


def test_a_search_nested_in_an_experiment_names_its_full_path():
    with pytest.raises(ValueError, match=r"search\.task\.num_frames must be in"):
        config.SearchConfig.from_dict({**BASE, "store": "x", "space": {"family": "evanet"},
                                       "task": {"num_frames": 0}}, path="search")


@pytest.mark.parametrize("change, message", [
    ({"reuse_duplicates": "false"}, "reuse_duplicates must be true or false"),
    ({"name": [1, 2]}, "name must be a non-empty string"),
    ({"store": 5}, "store must be a file path"),
    ({"batch_size": 1_000_000}, "batch_size must be in"),
    ({"task": {"num_frames": 4}}, "task.num_frames: family 'tvn' genomes carry their own input"),
    ({"executor": {"kind": "inprocess", "options": {"timeout_s": 5}}}, "in-process executor takes none"),
    ({"executor": {"kind": "subprocess", "options": {"env": {"KERAS_BACKEND": "troch"}}}},
     r"executor.options.env.KERAS_BACKEND must be one of \['jax', 'tensorflow', 'torch'\], got 'troch'"),
    ({"executor": {"kind": "subprocess", "options": {"env": {"KERAS_BACKEND": "torch"}}},
      "constraints": {"max_latency_ms": 2.0, "latency_runtime": "onnxruntime"}},
     "KERAS_BACKEND 'torch' with constraints.latency_runtime 'onnxruntime': a worker converts each candidate"),
    ({"evaluate": SYNTHETIC}, "task is an option of the default trial function"),
])
def test_values_of_the_wrong_type_are_refused_at_start_up(tmp_path, change, message):
    store = tmp_path / "bad.sqlite"
    with pytest.raises(ValueError, match=message):
        run_search(**{**BASE, "store": store, **change}, progress=False)
    assert not store.exists()


def test_the_readmes_search_configs_are_valid_search_configs(tmp_path):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    text = text.replace("/data/my_actions", str(tmp_path))  # the README's stand-in for the reader's dataset
    blocks = [block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if block.startswith("# tvn-")]
    assert len(blocks) >= 2
    for block in blocks:
        parsed = config.SearchConfig.from_dict(yaml.safe_load(block))
        assert parsed.space.family == "tvn" and parsed.strategy.name == "mutate-best"


def test_patience_is_refused_in_a_search_with_rungs_or_an_epoch_budget():
    plain = config.SearchConfig.from_dict({**BASE, "store": "x.sqlite", "budget": {"epochs": 3, "patience": 1}})
    assert plain.budget.patience == 1 and plain.to_dict()["budget"]["patience"] == 1
    with pytest.raises(ValueError, match="budget.patience 1 with rungs: a rung promotes candidates"):
        config.SearchConfig.from_dict({**BASE, "store": "x.sqlite", "budget": {"patience": 1},
                                       "rungs": {"epochs": [1, 2]}})
    with pytest.raises(ValueError, match="budget.patience 1 with max_epochs 6"):
        config.SearchConfig.from_dict({**BASE, "store": "x.sqlite", "budget": {"epochs": 3, "patience": 1},
                                       "max_epochs": 6})


def test_the_executor_says_which_backend_its_trials_train_on():
    on_torch = config.ExecutorConfig.from_value({"kind": "subprocess", "options": {"env": {"KERAS_BACKEND": "torch"}}})
    assert on_torch.backend == "torch" and config.ExecutorConfig.from_value("subprocess").backend == "tensorflow"
    assert on_torch.build().backend == "torch"
