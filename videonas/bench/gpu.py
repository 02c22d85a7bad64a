"""GPU latency: reported from ``reports/bench/gpu_latency.json`` when a GPU machine produced it, else "not measured".

This machine has no GPU; the figures come from a run of ``videonas.bench.latency`` on a lent GPU machine, saved as
``gpu_latency.json`` with the same row fields as the CPU section (``model``, ``clip``, ``median_ms``, ...) plus
``device``. The paper's GPU runtimes: TVN-1 10 ms, TVN-2 13 ms; prior models 500+ ms.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from videonas import report

PAPER_GPU_MS = {"TVN-1": 10, "TVN-2": 13}
PAPER_PRIOR_GPU_MS = 500
SOURCE = "gpu_latency.json"


def run(*, quick: bool = False, reports_dir: Path | None = None) -> dict[str, Any]:
    """The section payload; ``quick`` changes nothing (reading a file is already instant)."""
    if reports_dir is None:
        reports_dir = report.project_root() / "reports"
    path = Path(reports_dir) / "bench" / SOURCE
    title = "GPU latency (batch 1)"
    if not path.is_file():
        return {"title": title, "headline": [{"label": "GPU latency", "value": "not measured (no GPU in this run)",
                                              "paper": "TVN-1 10 ms, TVN-2 13 ms; prior models 500+ ms"}],
                "conclusion": f"No GPU was available to this run, so nothing was measured ({path.name} is absent).",
                "extra": {"source": None}}
    data = json.loads(path.read_text())
    rows = data.get("rows", data) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValueError(f"{path} must hold a list of rows or {{'rows': [...]}}, got {type(rows).__name__}")
    headline = []
    for row in rows:
        for key in ("model", "median_ms"):
            if key not in row:
                raise ValueError(f"{path}: every row needs {key!r}, got {row!r}")
        paper = PAPER_GPU_MS.get(row["model"]) if row.get("input_name", "published") == "published" else None
        headline.append({"label": f"{row['model']} at {row.get('clip', '?')}, {row.get('backend', '?')} (ms)",
                         "value": round(float(row["median_ms"]), 2),
                         "paper": f"{paper} ms (their GPU)" if paper else ""})
    device = next((row.get("device") for row in rows if row.get("device")), "unknown GPU")
    tvn = [r for r in rows if str(r["model"]).startswith("TVN")]
    conclusion = (f"Measured on {device}: {len(rows)} cases. TVNs took "
                  f"{min(float(r['median_ms']) for r in tvn):.1f}-{max(float(r['median_ms']) for r in tvn):.1f} ms "
                  f"(paper: about 10 ms on their GPU)." if tvn else f"Measured on {device}: {len(rows)} cases.")
    return {"title": title, "headline": headline, "conclusion": conclusion,
            "extra": {"source": str(path), "rows": rows}}
