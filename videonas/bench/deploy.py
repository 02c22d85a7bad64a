"""The latency table's deploy runtimes: each model also timed on ONNX Runtime and LiteRT, and the same-input ratio
R(2+1)D-18 / TVN on every runtime, judged against the aim (the found TVN >= 100x faster at the same input).

A tiny TVN's Keras latency is mostly framework dispatch, so a ratio measured in Keras undersells it against a 3D
ResNet whose time is arithmetic; the deploy runtimes show what a shipped model would see.

``videonas.bench.latency`` builds the table and calls this module; this module imports nothing of it (which TVNs
count is an argument), so the dependency runs one way.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from videonas.deploy import runtimes as deploy_runtimes

BASELINE = "R(2+1)D-18"
AIM_RATIO = 100.0
log = logging.getLogger(__name__)


def timed_row(common: dict[str, Any], timing: dict[str, Any], *, params: int, flops: int) -> dict[str, Any]:
    """A latency row: the case, the figure and how it was measured (runs, warm-up, threads, batch size)."""
    median = float(timing["median_ms"])
    return {**common, "params": int(params), "flops": int(flops), "runs": timing["runs"],
            "warmup": timing.get("warmup"), "batch_size": timing.get("batch_size", 1), "median_ms": median,
            "cv": float(timing["cv"]), "threads": timing.get("threads"), "device": timing.get("device"),
            "gflops_per_s": flops / 1e9 / (median / 1e3)}


def runtime_rows(model, common: dict[str, Any], *, runtimes: Sequence[str], runs: int, threads: int,
                 flops: int) -> list[dict[str, Any]]:
    """``model`` timed on each deploy runtime with Keras' thread count; a model that does not convert (or is too
    large to convert here, ``deploy.runtimes.MAX_CONVERT_PARAMS``) is a row with its reason and no figure."""
    from videonas import measure  # Keras: deferred

    rows = []
    params = measure.count_params(model)
    too_large = deploy_runtimes.too_large_to_convert(model)
    for runtime in runtimes:
        row = {**common, "runtime": runtime}
        if too_large:
            rows.append({**row, "median_ms": None, "error": too_large})
            continue
        try:
            timing = deploy_runtimes.measure_latency(model, runs=runs, warmup=3, runtime=runtime, threads=threads)
        except Exception as error:  # noqa: BLE001 - a converter's failure is a finding of the table, not a crash
            rows.append({**row, "median_ms": None, "error": f"{type(error).__name__}: {error}"[:500]})
            continue
        log.info("%s at %s, %s: %.2f ms", common["model"], common["clip"], runtime, timing["median_ms"])
        rows.append(timed_row(row, timing, params=params, flops=flops))
    return rows


def measured(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with a figure, on every runtime (a model that cannot take an input or convert has none)."""
    return [row for row in rows if row.get("median_ms") is not None]


def same_input_ratios(rows: Sequence[dict[str, Any]], *, tvn_models: Sequence[str]) -> list[dict[str, Any]]:
    """``BASELINE`` / TVN latency for every row of ``tvn_models`` with a baseline row at the same clip, backend and
    runtime."""
    timed = measured(rows)
    out = []
    for tvn in (r for r in timed if r["model"] in tvn_models):
        for base in timed:
            same = all(base.get(key, "keras") == tvn.get(key, "keras") for key in ("clip", "backend", "runtime"))
            if base["model"] == BASELINE and same:
                out.append({"tvn": tvn["model"], "tvn_input": tvn["input_name"], "clip": tvn["clip"],
                            "backend": tvn["backend"], "runtime": tvn.get("runtime", "keras"),
                            "baseline_ms": base["median_ms"], "tvn_ms": tvn["median_ms"],
                            "ratio": base["median_ms"] / tvn["median_ms"]})
    return out


def headline(rows: Sequence[dict[str, Any]], ratios: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model and clip, its latency on each runtime (tensorflow process); then each same-input ratio per runtime,
    with the aim met or missed for the found TVN."""
    out = []
    for row in measured(rows):
        if row["backend"] == "tensorflow" and row.get("runtime", "keras") != "keras":
            out.append({"label": f"{row['model']} latency at {row['clip']}, {row['runtime']} (ms, {row['threads']} "
                        f"threads)", "value": round(row["median_ms"], 3), "paper": ""})
    for pair in ratios:
        if pair["backend"] != "tensorflow":
            continue
        aim = ""
        if pair["tvn"] == "found TVN" and pair["tvn_input"] == "published":
            aim = f"aim >= {AIM_RATIO:.0f}x: {'met' if pair['ratio'] >= AIM_RATIO else 'missed'}"
        out.append({"label": f"{BASELINE} / {pair['tvn']} latency, both at {pair['clip']}, {pair['runtime']}",
                    "value": round(pair["ratio"], 2), "paper": aim})
    return out


def conclusion(ratios: Sequence[dict[str, Any]]) -> str:
    """One sentence per runtime on the found TVN's same-input ratio (or TVN-1's when there is no found TVN)."""
    chosen = [p for p in ratios if p["tvn"] == "found TVN" and p["tvn_input"] == "published"] or \
        [p for p in ratios if p["tvn"] == "TVN-1"]
    if not chosen:
        return ""
    parts = [f"{p['runtime']} {p['ratio']:.1f}x ({p['baseline_ms']:.2f} vs {p['tvn_ms']:.2f} ms)" for p in chosen
             if p["backend"] == "tensorflow"]
    return (f"{BASELINE} / {chosen[0]['tvn']} at the same input {chosen[0]['clip']}, per runtime: "
            + "; ".join(parts) + ".")
