"""Command line: real help for every command, user errors as one line (exit 2), a failed search exits 1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from videonas.__main__ import COMMANDS, main
from videonas.search import TrialStore

TOY_SPACE = {"family": "toy", "options": {"length": 4, "choices": 3}}


def _config(tmp_path, **overrides):
    config = {"name": "cli", "store": str(tmp_path / "cli.sqlite"), "space": TOY_SPACE, "num_trials": 4,
              "batch_size": 2, "strategy": "random", "evaluate": "videonas.search.synthetic:evaluate",
              "executor": "inprocess", **overrides}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _exit_code(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def test_top_level_help_lists_every_command_with_one_line():
    result = subprocess.run([sys.executable, "-m", "videonas", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent, timeout=120)
    assert result.returncode == 0
    for name, text in COMMANDS.items():
        assert f"  {name}" in result.stdout and text in result.stdout


def test_each_command_has_its_own_help(capsys):
    assert _exit_code(["search", "--help"]) == 0
    assert "--config" in capsys.readouterr().out
    assert _exit_code(["reproduce", "--help"]) == 0
    reproduce = capsys.readouterr().out
    assert "--profile" in reproduce and "--notebook" in reproduce and "videonas reproduce" in reproduce
    assert _exit_code(["report", "--help"]) == 0
    report = capsys.readouterr().out
    assert "--reports-dir" in report and "--notebook" not in report and "videonas report" in report
    assert _exit_code(["bench", "--help"]) == 0
    assert "--only" in capsys.readouterr().out


def test_no_or_unknown_command_is_a_usage_error(capsys):
    assert _exit_code([]) == 2
    assert _exit_code(["serch"]) == 2
    assert "invalid choice: 'serch'" in capsys.readouterr().err


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("videonas: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_user_errors_are_one_line_and_exit_2(tmp_path, capsys):
    assert main(["search", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml not found" in _one_error_line(capsys)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\nstore: x\n")
    assert main(["search", "--config", str(bad)]) == 2
    assert "bad.yaml is not valid YAML" in _one_error_line(capsys)
    assert main(["search", "--config", _config(tmp_path, budgt=3)]) == 2
    assert "unknown key budgt at the top of the configuration" in _one_error_line(capsys)
    assert main(["search", "--config", _config(tmp_path, num_trials=0)]) == 2
    assert "num_trials must be in" in _one_error_line(capsys)
    typo = _config(tmp_path, evaluate="videonas.train:evaluate_trial", task={"batchsize": 8})
    assert main(["search", "--config", typo]) == 2
    assert "task has unknown keys ['batchsize'] (task.batchsize)" in _one_error_line(capsys)
    assert not Path(tmp_path / "cli.sqlite").exists()


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="num_trials"):
        main(["--debug", "search", "--config", _config(tmp_path, num_trials=0)])
    with pytest.raises(ValueError, match="num_trials"):
        main(["search", "--config", _config(tmp_path, num_trials=0), "--debug"])


def test_search_exits_1_when_no_trial_finished(tmp_path, capsys):
    failing = {"evaluate": {"function": "videonas.search.synthetic:evaluate",
                            "options": {"failures": {"0": "raise", "1": "raise", "2": "raise"}}}}
    assert main(["search", "--no-progress", "--config", _config(tmp_path, **failing)]) == 1
    line = _one_error_line(capsys)
    assert "cli: no trial finished successfully (4 failed, 0 rejected of 4)" in line
    assert "RuntimeError: synthetic failure" in line


def test_search_succeeds_with_exit_0(tmp_path, capsys):
    assert main(["search", "--no-progress", "--config", _config(tmp_path)]) == 0
    assert "cli: 4 done, 0 failed, 0 rejected; best fitness" in capsys.readouterr().out


def test_changed_config_names_force_and_a_held_store_names_its_holder(tmp_path, capsys):
    assert main(["search", "--no-progress", "--config", _config(tmp_path)]) == 0
    assert main(["search", "--no-progress", "--config", _config(tmp_path, seed=9)]) == 2
    assert "--force" in _one_error_line(capsys)
    store = TrialStore(tmp_path / "cli.sqlite")
    store.acquire_lease("cli")
    with store._conn:
        store._conn.execute("UPDATE leases SET host = 'elsewhere', pid = 4242, heartbeat = ?", (time.time(),))
    assert main(["search", "--no-progress", "--num-trials", "6", "--config", _config(tmp_path)]) == 1
    assert "being run by another driver (host elsewhere, pid 4242, since" in _one_error_line(capsys)
    assert store.count("cli") == 4


def test_sigterm_unwinds_instead_of_killing(monkeypatch):
    import signal

    from videonas import __main__ as cli

    monkeypatch.setattr(cli, "_dispatch", lambda command, rest: os.kill(os.getpid(), signal.SIGTERM) or 0)
    assert _exit_code(["search"]) == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is not cli._terminate  # restored afterwards


def test_a_misspelled_option_is_named_not_reported_as_a_missing_one(capsys):
    for argv, named in ((["search", "--confg", "x.yaml"], "unrecognized arguments: --confg"),
                        (["trials", "--nme", "x", "--store", "y"], "unrecognized arguments: --nme"),
                        (["search"], "the following arguments are required: --config")):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2 and named in capsys.readouterr().err


def test_space_lists_a_familys_options_and_names_a_typo(capsys):
    assert main(["space", "tvn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tvn (default space)") and "frame_counts" in out and "1, 2, 4, 8, 16" in out
    assert main(["space", "evanet", "--paper"]) == 0 and "conv_types" in capsys.readouterr().out
    assert main(["space", "tvm"]) == 2
    assert "family must be one of" in capsys.readouterr().err


def test_bench_help_is_user_text(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = capsys.readouterr().out
    assert "reports/bench/<section>.json" in out and "``" not in out and "run(*," not in out


def test_search_prints_what_the_data_reader_found_once_before_the_trials(tmp_path, capsys):
    """A real task: the load report (classes, videos per split) comes first; P rejects every candidate, so nothing
    trains and the search exits 1 naming the rejection."""
    path = tmp_path / "real.yaml"
    path.write_text(yaml.safe_dump({
        "name": "real", "store": str(tmp_path / "real.sqlite"), "num_trials": 2, "batch_size": 2,
        "space": {"family": "tvn", "options": {"image_sizes": [32], "frame_counts": [1], "max_blocks": 2}},
        "task": {"dataset": "embedded:smoke"}, "constraints": {"max_params": 10}, "executor": "inprocess"}))
    assert main(["search", "--no-progress", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("dataset 'synthetic_actions") and out.count("dataset '") == 1
    assert "train: 208 videos, 16-16 per class" in out and "real: 0 done, 0 failed, 2 rejected" in out
