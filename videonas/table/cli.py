"""``python -m videonas table build|export|check|validate|cost``: the tabulated TVN benchmark from the command line."""

from __future__ import annotations

import argparse
import json
from typing import Sequence

from videonas import checks
from videonas.bench import rungs as rung_bench
from videonas.genome import tvn
from videonas.table import build as build_module, cost, provenance, tables, validate

ACTIONS = {
    "build": "train (or continue training) every genome of the sub-space, time them, and write the table",
    "export": "write the table of what the build's store holds now (a partial build too), without training",
    "check": "exit 1 when a table no longer matches the embedded dataset or the TVN builder (stale)",
    "validate": "train genomes drawn from a table with a new seed and write Kendall tau against the table beside it",
    "cost": "predict a build's wall time from the cost model fitted to measured trainings",
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
    checking = actions.add_parser("validate", help=ACTIONS["validate"],
                                  description=ACTIONS["validate"][0].upper() + ACTIONS["validate"][1:] + ".")
    checking.add_argument("table", nargs="?", default=str(build_module.TABLE), help="default %(default)s")
    checking.add_argument("--store", default=str(build_module.STORE),
                          help="the trial store its trainings go to (default %(default)s: the build's)")
    checking.add_argument("--genomes", type=int, default=20, help="distinct networks drawn (default 20)")
    checking.add_argument("--seed", type=int, default=7,
                          help="draws the genomes and seeds their training; not a replicate's seed (default 7)")
    checking.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    checking.add_argument("--executor", choices=["subprocess", "inprocess"], default="subprocess")
    checking.add_argument("--no-progress", action="store_true")
    costing = actions.add_parser("cost", help=ACTIONS["cost"], description=ACTIONS["cost"].capitalize() + ".")
    costing.add_argument("--menu", help="the sub-space's menu as JSON (default: the default menu)")
    costing.add_argument("--replicates", type=int, default=2, help="training seeds per genome (default 2)")
    costing.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    costing.add_argument("--fit", metavar="STORE", help="refit the model to the timed trainings of this store's "
                         "experiment replicate-0 (e.g. reports/bench/rungs/search.sqlite) instead of the stored fit")
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
    if args.action == "validate":
        executor = ("inprocess" if args.executor == "inprocess" else
                    {"kind": "subprocess", "options": {"max_workers": args.workers}})
        result = validate.validate(args.table, store=args.store, genomes=args.genomes, seed=args.seed,
                                   executor=executor, progress=not args.no_progress)
        print(f"{validate.validation_path(args.table)}: {validate_text(result)}")
        return 0
    if args.action == "cost":
        return cost_command(args)
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
    print(f"{args.out}: {tables.coverage_text(table)}")
    return 0


def validate_text(result: dict) -> str:
    """The validation's tau (and the table's own ceiling), in one line."""
    def tau(entry: dict | None) -> str:
        return "n/a" if not entry else f"{entry['tau']:.2f} ({entry['interval'][0]:.2f} to {entry['interval'][1]:.2f})"

    return (f"{result['trained']} of {result['drawn']} drawn genomes trained with seed {result['seed']}; Kendall tau "
            f"against the table's replicate mean {tau(result.get('tau'))}, the table's replicates against each other "
            f"{tau(result.get('ceiling'))}")


def cost_command(args: argparse.Namespace) -> int:
    try:
        menu = json.loads(args.menu) if args.menu else True
    except ValueError as error:
        raise ValueError(f"--menu must be a JSON object: {error}") from None
    coefficients = cost.COEFFICIENTS
    if args.fit:
        fitted = cost.fit(args.fit)
        coefficients = fitted.coefficients
        print(f"fitted to {fitted.trainings} trainings: seconds = {coefficients[0]:.1f} + {coefficients[1]:.3g} x "
              f"MMACs + {coefficients[2]:.3g} x MMACs x M activations; leave-one-out median error "
              f"{fitted.median_error:.0%}, sum of predictions {fitted.sum_ratio:.2f} of the measured sum")
    prediction = cost.predicted_build(menu, replicates=args.replicates, workers=args.workers,
                                      coefficients=coefficients)
    print(cost.hours_text(prediction))
    return 0


__all__ = ["ACTIONS", "cost_command", "main", "options", "parser", "validate_text"]
