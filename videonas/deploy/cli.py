"""``videonas trials`` (an experiment's trials as a table), ``videonas export`` (a trial or preset to files) and
``videonas predict`` (an export run on a video file).

All three follow the command line's house rules (``videonas.__main__``): bad input is a ``ValueError`` raised before any
work, printed as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import os
from typing import Any, Sequence

from videonas import checks, config, models
from videonas import runtimes as runtime_names
from videonas.deploy import export, predict
from videonas.search import Experiment, TrialStore

COLUMNS = ("index", "status", "fitness", "rung", "epochs", "params", "flops", "latency_ms", "runtime", "parent",
           "rejected_by")


def open_experiment(store: str, name: str):
    """The experiment ``name`` of the store file ``store``, opened read-only (it must exist; it is never written, so a
    store in a read-only folder, or one written by an older videonas, can be read)."""
    if not os.path.isfile(store):
        raise ValueError(f"--store {store} not found")
    return Experiment(name, TrialStore(store, read_only=True))


def trial_rows(experiment) -> list[dict[str, Any]]:
    """One row per trial in ``COLUMNS``; ``runtime`` is where its latency was measured, ``rung`` the highest rung it
    reached in a multi-fidelity search and ``epochs`` the training it received (none for a rejected proposal)."""
    constraints = experiment.trial_options().constraints.to_dict()
    configured = constraints.get("latency_runtime", "keras")
    rows = []
    for trial in experiment.trials():
        setup = trial.metrics.get("latency") or {}
        rows.append({"index": trial.index, "status": trial.status, "fitness": trial.fitness, "params": trial.params,
                     "flops": trial.flops, "latency_ms": trial.latency_ms,
                     "runtime": setup.get("runtime", configured) if trial.latency_ms is not None else None,
                     "parent": trial.parent, "rejected_by": trial.rejected_by, "rung": trial.rung,
                     "epochs": trial.epochs})
    return rows


def format_rows(rows: Sequence[dict[str, Any]], *, kind: str) -> str:
    """``rows`` as CSV or as an aligned text table (``None`` shows as ``-`` in a table, empty in CSV)."""
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({key: "" if row[key] is None else _text(row[key]) for key in COLUMNS} for row in rows)
        return buffer.getvalue()
    cells = [list(COLUMNS)] + [[_cell(row[key]) for key in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(text.rjust(width) for text, width in zip(line, widths)) for line in cells) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(_text(value))


def _text(value: Any) -> Any:
    """Numbers as they are; text from the store with its control characters escaped (a store may be untrusted)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else checks.printable(value)


def trials_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m videonas trials",
                                     description="Print an experiment's trials: index, status, fitness, params, "
                                     "FLOPs, latency and the runtime it was measured on, parent, rejected_by.")
    parser.add_argument("--store", help="the search's SQLite trial store (required)")
    parser.add_argument("--name", help="the experiment's name, the search config's name (required)")
    parser.add_argument("--format", choices=["table", "csv"], default="table")
    args = checks.parse_command(parser, argv, required=("store", "name"))
    experiment = open_experiment(args.store, args.name)
    if args.format == "table" and config.stored_default_evaluate(experiment.config):
        try:
            print(experiment.trial_options().task.open_dataset().load_report()[0])
        except ValueError as error:  # the data moved or changed since the search: the trials still read
            print(f"dataset: not readable here ({checks.printable(str(error))})")
    print(format_rows(trial_rows(experiment), kind=args.format), end="")
    return 0


def export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m videonas export",
        description="Write a network as .keras, .onnx and .tflite (LiteRT) with a manifest of the check against "
        "Keras' logits on the same clips. Either a search's trial (--store, --name, optionally --trial; the best by "
        "default; retrained with the search's recipe when it kept no weights) or a registry model (--preset).")
    parser.add_argument("--store", help="trial store of the search")
    parser.add_argument("--name", help="experiment name in the store")
    parser.add_argument("--trial", type=int, help="trial index (default: the best finished trial)")
    parser.add_argument("--epochs", type=int, help="retraining epochs (default: the search's budget)")
    parser.add_argument("--preset", help="a registry model instead of a trial, e.g. tvn-1 (seeded, untrained)")
    parser.add_argument("--num-classes", type=int, default=10, help="with --preset")
    parser.add_argument("--num-frames", type=int, help="with --preset: input frames (default: published)")
    parser.add_argument("--image-size", type=int, help="with --preset: input size (default: published)")
    parser.add_argument("--width-multiplier", type=float, default=1.0, help="with --preset")
    parser.add_argument("--out", help="output folder (required)")
    parser.add_argument("--latency-runs", type=int, default=10,
                        help="time batch 1 on each runtime over this many runs, into the manifest (0: do not time)")
    parser.add_argument("--threads", type=int, help="runtime threads (default: all cores)")
    return parser


def export_main(argv: Sequence[str]) -> int:
    """Exit 0 when every runtime reproduces Keras' logits within the tolerance, else 1."""
    args = checks.parse_command(export_parser(), argv, required=("out",))
    for field in ("epochs", "latency_runs", "threads", "num_classes", "num_frames", "image_size"):
        value = getattr(args, field)
        if value is not None and value < (0 if field == "latency_runs" else 1):
            raise ValueError(f"--{field.replace('_', '-')} must be positive, got {value}")
    if args.preset is not None:
        if args.store or args.name or args.trial is not None:
            raise ValueError("--preset exports a registry model: give it without --store, --name and --trial")
        _check_preset(args.preset)
        manifest = export.export_preset(args.preset, folder=args.out, num_classes=args.num_classes,
                                        num_frames=args.num_frames, image_size=args.image_size,
                                        width_multiplier=args.width_multiplier, latency_runs=args.latency_runs,
                                        threads=args.threads)
    else:
        if not (args.store and args.name):
            raise ValueError("give --store and --name (a search's trial) or --preset (a registry model)")
        experiment = open_experiment(args.store, args.name)
        manifest = export.export_trial(experiment, folder=args.out, trial=args.trial, epochs=args.epochs,
                                       latency_runs=args.latency_runs, threads=args.threads)
    print(summary(manifest, args.out))
    return 0 if manifest["ok"] else 1


def summary(manifest: dict[str, Any], folder: str) -> str:
    """What was written and how close each runtime came to Keras (one line per runtime)."""
    lines = [f"{manifest['name']}: {manifest['params']:,} params, {manifest['flops']:,} FLOPs -> {folder}"]
    check = manifest["check"]
    for runtime, file_name in manifest["files"].items():
        latency = manifest["latency"].get(runtime)
        timing = (f", {latency['median_ms']:.2f} ms (batch 1, {latency['threads']} threads, median of "
                  f"{latency['runs']})" if latency else "")
        verdict = "ok" if check[runtime]["within_tolerance"] else \
            f"OVER the allowed {check['allowed_max_abs_diff']:.2e}"
        lines.append(f"  {runtime:<12} {file_name:<32} max |logit - keras| {check[runtime]['max_abs_diff']:.2e} "
                     f"on {check['clips']} clips ({verdict}){timing}")
    return "\n".join(lines)


def _check_preset(name: str) -> None:
    """A misspelt preset is one error that names the close matches."""
    known = models.list_models()
    if name.lower() in known:
        return
    try:
        models.model_info(name)
    except ValueError:
        close = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(known)}"
        raise ValueError(f"--preset {name!r} is not a registry model{hint}") from None


def predict_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m videonas predict",
        description="Run an exported network on a video file, decoded and preprocessed as in training (everything "
        "read from the export's manifest), and print the classes by probability.")
    parser.add_argument("export", help="export folder (one *.manifest.json), a manifest, or a .onnx/.tflite/.keras "
                        "file written by videonas export")
    parser.add_argument("video", help="a video file (anything FFmpeg decodes)")
    parser.add_argument("--runtime", choices=list(runtime_names.RUNTIMES),
                        help="default: the model file's, or onnxruntime for a folder or manifest")
    parser.add_argument("--top-k", type=int, default=5, help="classes to print (0: all)")
    parser.add_argument("--threads", type=int, help="runtime threads (default: all cores)")
    parser.add_argument("--format", choices=["table", "json"], default="table",
                        help="json: [[class, probability], ...] at full precision")
    return parser


def predict_main(argv: Sequence[str]) -> int:
    args = checks.parse_command(predict_parser(), argv)
    if args.top_k < 0:
        raise ValueError(f"--top-k must be 0 (all) or positive, got {args.top_k}")
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be positive, got {args.threads}")
    predictor = predict.load(args.export, runtime=args.runtime, threads=args.threads)
    ranked = predictor(args.video, top_k=args.top_k or None)
    if args.format == "json":
        print(json.dumps([[name, probability] for name, probability in ranked]))
        return 0
    print(f"{checks.printable(args.video)}: {checks.printable(predictor.path.name)} on {predictor.runtime}")
    width = max(len(checks.printable(name)) for name, _ in ranked)
    for rank, (name, probability) in enumerate(ranked, start=1):
        print(f"  {rank:>2}  {checks.printable(name):<{width}}  {probability:.6f}")
    return 0
