"""``python -m videonas table build|export|check``: the tabulated TVN benchmark from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from videonas import checks
from videonas.bench import rungs as rung_bench
from videonas.genome import tvn
from videonas.table import build as build_module, provenance, tables

ACTIONS = {
    "build": "train (or continue training) every genome of the sub-space, time them, and write the table",
    "export": "write the table of what the build's store holds now (a partial build too), without training",
    "check": "exit 1 when a table no longer matches the embedded dataset or the TVN builder (stale)",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m videonas table", description="The tabulated TVN benchmark.")
    actions = top.add_subparsers(dest="action", required=True, metavar="ACTION",
                                 help="; ".join(f"{name}: {text}" for name, text in ACTIONS.items()))
    for name in ("build", "export"):
        command = actions.add_parser(name, help=ACTIONS[name], description=ACTIONS[name].capitalize() + ".")
        command.add_argument("--out", default=str(build_module.TABLE), help="the table file (default %(default)s)")
        command.add_argument("--store", default=str(build_module.STORE),
                             help="the build's trial store (default %(default)s); the latency file sits beside it")
        command.add_argument("--replicates", type=int, default=2, help="training seeds per genome (default 2)")
        command.add_argument("--menu", help="the sub-space's menu as JSON, e.g. '{\"frame_counts\": [1, 8]}' "
                             "(default: videonas.genome.tvn_table_space.DEFAULTS)")
        command.add_argument("--dataset", default=rung_bench.TASK["dataset"], help="default %(default)s")
        command.add_argument("--max-train-clips", type=int, help="a fixed subset of the training clips (default all)")
        command.add_argument("--max-val-clips", type=int, default=rung_bench.TASK["max_val_clips"],
                             help="default %(default)s")
        command.add_argument("--rungs", default=",".join(map(str, rung_bench.RUNG_EPOCHS)),
                             help="rung epochs, increasing; the last is the training budget (default %(default)s)")
    build = actions.choices["build"]
    build.add_argument("--genomes", type=int, help="train only the first N genomes (index order); default all")
    build.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    build.add_argument("--executor", choices=["subprocess", "inprocess"], default="subprocess")
    build.add_argument("--no-latency", action="store_true", help="skip the latency pass")
    build.add_argument("--latency-runs", type=int, default=build_module.LATENCY["runs"])
    build.add_argument("--no-progress", action="store_true")
    check = actions.add_parser("check", help=ACTIONS["check"], description=ACTIONS["check"].capitalize() + ".")
    check.add_argument("table", nargs="?", default=str(build_module.TABLE), help="default %(default)s")
    return top


def options(args: argparse.Namespace) -> dict:
    """The menu, task and rungs the command line asks for."""
    try:
        menu = json.loads(args.menu) if args.menu else {}
        epochs = tuple(int(part) for part in args.rungs.split(","))
    except ValueError as error:
        raise ValueError(f"--menu must be a JSON object and --rungs comma-separated epochs: {error}") from None
    task = {**rung_bench.TASK, "dataset": args.dataset, "max_val_clips": args.max_val_clips}
    if args.max_train_clips is not None:
        task["max_train_clips"] = args.max_train_clips
    checks.check_int("--replicates", args.replicates, 1, 100)
    return {"menu": menu, "task": task, "rung_epochs": epochs, "replicates": args.replicates}


def main(argv: Sequence[str]) -> int:
    args = checks.parse_command(parser(), argv)
    if args.action == "check":
        reasons = provenance.stale_reasons(tables.load_table(args.table))
        for reason in reasons:
            print(f"stale: {reason}")
        print(f"{args.table}: {'stale' if reasons else 'matches this checkout'}")
        return 1 if reasons else 0
    chosen = options(args)
    if args.action == "export":
        menu = tvn.TVNSpace(table=chosen["menu"]).menu
        table = build_module.export(store=args.store, out=args.out, menu=menu, replicates=chosen["replicates"],
                                    task=chosen["task"], rung_epochs=chosen["rung_epochs"],
                                    latency_file=build_module.latency_path(args.store))
    else:
        executor = ("inprocess" if args.executor == "inprocess" else
                    {"kind": "subprocess", "options": {"max_workers": args.workers}})
        table = build_module.build(out=args.out, store=args.store, genomes=args.genomes, executor=executor,
                                   latency=not args.no_latency, progress=not args.no_progress,
                                   latency_setup={**build_module.LATENCY, "runs": args.latency_runs}, **chosen)
    done = sum(bool(row.done()) for row in table.rows)
    print(f"{args.out}: {len(table)} of {len(table.space())} genomes, {done} trained to the top rung "
          f"({'complete' if table.complete() else 'partial'})")
    return 0


__all__ = ["ACTIONS", "main", "options", "parser"]
