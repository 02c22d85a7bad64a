"""Command line: ``python -m videonas COMMAND [options]``; ``python -m videonas COMMAND --help`` for each command.

A search config is YAML in the shape of ``videonas.config.SearchConfig`` (the Python API and the notebooks' parameter
files use the same keys), e.g.::

    name: tvn-smoke
    store: runs/tvn-smoke.sqlite
    space: {family: tvn}
    strategy: mutate-best
    num_trials: 8
    batch_size: 2
    task: {dataset: "embedded:smoke"}
    budget: {epochs: 1}
    executor: {kind: subprocess, options: {max_workers: 2, timeout_s: 600}}

Running the same command again resumes the experiment where it stopped.

Errors a user can fix (a bad option, a missing or malformed config file) print one line ``videonas: error: ...`` and
exit 2; a search that finished no trial, or whose store another driver is running, exits 1. ``--debug`` shows the
full traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
from typing import Any, Sequence

from videonas import native_stderr

COMMANDS = {
    "search": "run or resume a search from a YAML config",
    "reproduce": "run the experiment notebooks with a profile's parameters and build reports/index.html",
    "report": "rebuild reports/index.html from the notebooks' results",
    "bench": "run the benchmarks and add them to the report",
    "trials": "print an experiment's trials (status, fitness, params, FLOPs, latency, parent) as a table or CSV",
    "export": "write a trial or preset as .keras, ONNX and LiteRT, checked against Keras on the same clips",
    "predict": "run an exported network on a video file (decoded and preprocessed as its manifest says)",
    "space": "list a family's search-space options and their values (the default space, or --paper's)",
    "table": "build, export or check the tabulated TVN benchmark (videonas.table)",
}


def load_search_config(path: str, args: argparse.Namespace | None = None):
    """The ``SearchConfig`` of a YAML file, with the command line's overrides applied before it is checked."""
    from videonas import config, examples

    path = examples.resolve(path)
    if not os.path.isfile(path):
        raise ValueError(f"config file {path} not found (nor a shipped example: {', '.join(examples.names())})")
    data = config.load_yaml(path)
    if args is not None:
        if args.num_trials is not None:
            data["num_trials"] = args.num_trials
        if args.executor is not None or args.max_workers is not None:
            executor = config.named("executor", data.get("executor", "subprocess"), "kind")
            if args.executor is not None and args.executor != executor["kind"]:
                executor = {"kind": args.executor, "options": {}}
            if args.max_workers is not None:
                executor["options"] = {**executor["options"], "max_workers": args.max_workers}
            data["executor"] = executor
    try:
        return config.SearchConfig.from_dict(data)
    except ValueError as error:
        raise ValueError(f"config {path}: {error}") from None


def search_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m videonas search", description=COMMANDS["search"].capitalize()
                                     + "; running it again resumes where it stopped.")
    parser.add_argument("--config", help="YAML file in the shape of videonas.config.SearchConfig, or the name of a "
                        "shipped example (videonas/examples: smoke, deploy, folder) (required)")
    parser.add_argument("--num-trials", type=int, help="override num_trials (may grow between runs)")
    parser.add_argument("--executor", choices=["inprocess", "subprocess", "ray"], help="override the executor")
    parser.add_argument("--max-workers", type=int, help="override executor.options.max_workers")
    parser.add_argument("--force", action="store_true",
                        help="resume even if the stored configuration differs, or take over the lease of a driver "
                        "on another host that is gone")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    parser.add_argument("--debug", action="store_true", help="full tracebacks on errors")
    return parser


def search_main(argv: Sequence[str]) -> int:
    """Run the search; exit status 1 when no trial finished successfully (the cause on one line)."""
    from videonas import checks

    args = checks.parse_command(search_parser(), argv, required=("config",))
    config = load_search_config(args.config, args)
    from videonas.search import run_search

    name = config.name
    if config.evaluate.default:  # what the reader found, once, before any trial: a skipped file is never a surprise
        print(config.task.open_dataset().load_report()[0])
    experiment = run_search(config, force=args.force, progress=not args.no_progress)
    trials = experiment.trials()
    counts = {status: sum(t.status == status for t in trials) for status in ("done", "failed", "rejected")}
    best = experiment.best(1)
    summary = f"best fitness {best[0].fitness:.4f} (trial {best[0].index})" if best else "no finished trial"
    spent = sum(t.epochs or 0 for t in trials if "reused_from" not in t.metrics)
    trained = f"; {spent} training epochs" if spent else ""
    print(f"{name}: {counts['done']} done, {counts['failed']} failed, {counts['rejected']} rejected{trained}; "
          f"{summary}; store {experiment.store.path}")
    if best:
        return 0
    first = next((t for t in trials if t.status in ("failed", "rejected")), None)
    cause = f"; first {first.status} trial {first.index}: {_one_line(first.error or '')}" if first else ""
    print(f"videonas: error: {name}: no trial finished successfully ({counts['failed']} failed, "
          f"{counts['rejected']} rejected of {len(trials)}){cause}", file=sys.stderr)
    return 1


def space_main(argv: Sequence[str]) -> int:
    """Print a family's search-space options: what ``space.options`` of a search config may set, with the values
    of the default space (or the paper's, where the family states them)."""
    from videonas import checks, families

    parser = argparse.ArgumentParser(prog="python -m videonas space", description=COMMANDS["space"].capitalize()
                                     + "; set them under space.options in a search config.")
    parser.add_argument("family", help="a registered family: " + ", ".join(sorted(families.registered())))
    parser.add_argument("--paper", action="store_true", help="the paper's ranges instead of the default space")
    args = checks.parse_command(parser, argv)
    family = families.get(args.family)
    if args.paper and not hasattr(family.space_type, "paper"):
        raise ValueError(f"family {family.name!r} states no paper ranges")
    space = family.space_type.paper() if args.paper else family.space()
    options = {key: value for key, value in space.to_dict().items() if key != "family"}
    summary = (family.space_type.__doc__ or "").strip().splitlines()[:1]
    print(f"{family.name} ({'paper' if args.paper else 'default'} space){': ' + summary[0] if summary else ''}")
    width = max(map(len, options), default=0)
    for key, value in options.items():
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        print(f"  {key:<{width}}  {shown}")
    return 0


def top_parser() -> argparse.ArgumentParser:
    width = max(map(len, COMMANDS))
    parser = argparse.ArgumentParser(
        prog="python -m videonas", usage="python -m videonas [--debug] COMMAND [options]",
        description="Video neural architecture search: EvaNet, AssembleNet and TVN with one evolution loop.",
        epilog="commands:\n" + "\n".join(f"  {name:<{width}}  {text}" for name, text in COMMANDS.items())
        + "\n\nRun 'python -m videonas COMMAND --help' for the options of a command.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="full tracebacks on errors")
    parser.add_argument("command", choices=list(COMMANDS), metavar="COMMAND", help="one of: " + ", ".join(COMMANDS))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Options before the command are ours; everything after it belongs to the command's own parser.
    split = next((i + 1 for i, arg in enumerate(argv) if not arg.startswith("-")), len(argv))
    args = top_parser().parse_args(argv[:split])
    rest = argv[split:]
    debug = args.debug or "--debug" in rest
    if args.command != "search":
        rest = [arg for arg in rest if arg != "--debug"]
    # TensorFlow's C++ start-up lines (oneDNN, CPU features) and absl's INFO lines are noise on a command line; set
    # before anything imports TensorFlow. A user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # SIGTERM unwinds like Ctrl-C would, so workers are stopped, temporary folders removed and the lease released.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm  # log lines above the progress bar, not into it

        # TF_CPP_MIN_LOG_LEVEL no longer hides absl's start-up lines; the filter covers the kernels and workers a
        # command starts too, since they inherit its stderr.
        with native_stderr.filtered(), logging_redirect_tqdm():
            return _dispatch(args.command, rest)
    except KeyboardInterrupt:
        if debug:
            raise
        print("videonas: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the one place that turns errors into an exit status
        if debug:
            raise
        return _report_error(error)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(command: str, rest: list[str]) -> int:
    if command == "search":
        return search_main(rest)
    if command == "space":
        return space_main(rest)
    if command == "table":
        return importlib.import_module("videonas.table.cli").main(rest) or 0
    if command == "bench":
        return importlib.import_module("videonas.bench").main(rest) or 0
    if command in ("trials", "export", "predict"):
        return getattr(importlib.import_module("videonas.deploy.cli"), f"{command}_main")(rest)
    # reproduce and report live in videonas.report, whose parser takes the command name first.
    return importlib.import_module("videonas.report").main([command, *rest]) or 0


def _report_error(error: Exception) -> int:
    """One line on stderr; 2 for errors a user can fix (options, config files), else 1."""
    import yaml

    from videonas.search.lease import LeaseHeldError

    if isinstance(error, (ValueError, OSError, yaml.YAMLError)):
        print(f"videonas: error: {_one_line(error)}", file=sys.stderr)
        return 2
    if isinstance(error, LeaseHeldError):
        print(f"videonas: error: {_one_line(error)}", file=sys.stderr)
        return 1
    print(f"videonas: error: {type(error).__name__}: {_one_line(error)} (run with --debug for the traceback)",
          file=sys.stderr)
    return 1


def _one_line(error: BaseException | str, limit: int = 1000) -> str:
    from videonas import checks

    text = checks.printable(" ".join(str(error).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
