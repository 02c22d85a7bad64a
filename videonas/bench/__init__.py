"""Benchmarks (``make bench``): CPU latency and backends, search efficiency, throughput and scale-out, memory, GPU.

Each section is a module with ``run(*, quick) -> {"title", "headline", "conclusion", "extra"}``; ``main`` writes it to
``reports/bench/<section>.json`` and rebuilds ``reports/index.html``, whose bench section shows the headlines.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import logging
import time
from pathlib import Path
from typing import Any, Sequence

from videonas import report

# ``data`` (decoding and clip-cache throughput) is the data layer's own module; it runs when present.
SECTIONS = ("latency", "search", "throughput", "memory", "data", "gpu", "rungs", "aims")  # aims reads the others: last
LOG = logging.getLogger(__name__)


def available_sections() -> list[str]:
    """The sections whose module exists and has ``run``, in ``SECTIONS`` order."""
    found = []
    for section in SECTIONS:
        if importlib.util.find_spec(f"videonas.bench.{section}") is None:
            continue
        if callable(getattr(importlib.import_module(f"videonas.bench.{section}"), "run", None)):
            found.append(section)
    return found


def write_section(reports_dir: Path, section: str, payload: dict[str, Any]) -> Path:
    """``reports_dir/bench/<section>.json`` in the report's results schema (``videonas.report.Results``)."""
    try:
        results = report.Results.from_dict(payload)
    except (TypeError, ValueError) as error:
        raise ValueError(f"bench section {section!r}: {error}") from None
    return results.write(Path(reports_dir) / "bench", file_name=f"{section}.json")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m videonas bench [--only SECTION] [--quick] [--reports-dir DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m videonas bench",
        description="Run the benchmarks (all sections, or those named with --only) on this machine, write each to "
        "reports/bench/<section>.json and rebuild reports/index.html, whose bench section shows their headlines. "
        "Sections: latency (CPU latency of the published and found networks on Keras, ONNX Runtime and LiteRT), "
        "search (evolution against random search, scale-out), throughput (candidates per hour by executor), memory "
        "(a driver and its workers over many candidates), data (clip decoding), gpu (GPU latency, on a GPU "
        "machine), aims (the measured targets, met or missed).")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section (repeatable)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds, for tests); figures not meaningful")
    parser.add_argument("--reports-dir", type=Path, default=None, help="default: <project>/reports")
    parser.add_argument("--profile", default="default", help="profile shown in the index header")
    args = parser.parse_args(None if argv is None else list(argv))
    reports_dir = args.reports_dir or report.project_root() / "reports"
    available = available_sections()
    for section in args.only or available:
        if section not in available:
            raise ValueError(f"--only must name an available section {available}, got {section!r}")
        started = time.perf_counter()
        LOG.info("bench %s%s", section, " (quick)" if args.quick else "")
        run = importlib.import_module(f"videonas.bench.{section}").run
        options = {"reports_dir": reports_dir} if "reports_dir" in inspect.signature(run).parameters else {}
        payload = run(quick=args.quick, **options)
        payload["extra"].setdefault("wall_seconds", time.perf_counter() - started)
        path = write_section(reports_dir, section, payload)
        LOG.info("bench %s: %.0f s -> %s", section, time.perf_counter() - started, path)
    print(report.build_index(reports_dir, profile=args.profile))
    return 0

