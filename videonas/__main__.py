"""Command line: ``python -m videonas search --config cfg.yaml`` and the ``reproduce``, ``report``, ``bench`` commands.

A search config is YAML whose keys are ``run_search``'s arguments, e.g.::

    name: tvn-smoke
    store: runs/tvn-smoke.sqlite
    space: {family: tvn}
    strategy: tvn
    num_trials: 8
    batch_size: 2
    evaluate_options: {task: {dataset: "embedded:smoke"}, budget: {epochs: 1}}
    executor: subprocess
    executor_options: {max_workers: 2, timeout_s: 600}

Running the same command again resumes the experiment where it stopped.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any, Sequence

SEARCH_KEYS = ("name", "space", "store", "num_trials", "strategy", "strategy_options", "batch_size", "seed",
               "evaluate", "evaluate_options", "executor", "executor_options", "reuse_duplicates")


def load_search_config(path: str) -> dict[str, Any]:
    import yaml

    with open(path, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    if not isinstance(config, dict):
        raise ValueError(f"config {path} must be a YAML mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(SEARCH_KEYS))
    if unknown:
        raise ValueError(f"config {path} has unknown keys {unknown}; allowed: {list(SEARCH_KEYS)}")
    for key in ("name", "space", "store", "num_trials"):
        if key not in config:
            raise ValueError(f"config {path} is missing {key!r}")
    return config


def search_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m videonas search", description="Run or resume a search.")
    parser.add_argument("--config", required=True, help="YAML file with run_search arguments")
    parser.add_argument("--num-trials", type=int, help="override num_trials (may grow between runs)")
    parser.add_argument("--executor", choices=["inprocess", "subprocess", "ray"], help="override the executor")
    parser.add_argument("--max-workers", type=int, help="override executor_options.max_workers")
    parser.add_argument("--force", action="store_true", help="resume even if the stored configuration differs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    args = parser.parse_args(argv)
    config = load_search_config(args.config)
    if args.num_trials is not None:
        config["num_trials"] = args.num_trials
    if args.executor is not None:
        config["executor"] = args.executor
    if args.max_workers is not None:
        config["executor_options"] = {**(config.get("executor_options") or {}), "max_workers": args.max_workers}
    from videonas.search import run_search

    name = config.pop("name")
    experiment = run_search(name, **config, force=args.force, progress=not args.no_progress)
    counts = {status: len(experiment.trials(status)) for status in ("done", "failed", "rejected")}
    best = experiment.best(1)
    summary = f"best fitness {best[0].fitness:.4f} (trial {best[0].index})" if best else "no finished trial"
    print(f"{name}: {counts}; {summary}; store {experiment.store.path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("search", "reproduce", "report", "bench")
    if not argv or argv[0] not in commands:
        print(f"usage: python -m videonas {{{','.join(commands)}}} [options]  (got {argv[:1]})", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    command, rest = argv[0], argv[1:]
    if command == "search":
        return search_main(rest)
    if command == "bench":
        return importlib.import_module("videonas.bench").main(rest) or 0
    # reproduce and report live in videonas.report, whose parser takes the command name first.
    return importlib.import_module("videonas.report").main([command, *rest]) or 0


if __name__ == "__main__":
    sys.exit(main())
