"""Batch-1 CPU latency of the TVNs and the baselines on both Keras backends, and what share of the machine they use.

The TVN paper's claim is a runtime ratio (TVN-1 37 ms vs prior models 2000+ ms on *their* CPU), so this measures the
same kind of ratio here: each model at its published input, all of them at one common input (16x112x112, the (2+1)D
baselines' clip) and at the embedded dataset's clip (8x64x64). Tensorflow runs in this process; torch runs the same
cases in a subprocess (``KERAS_BACKEND`` is fixed when Keras is imported). The geometric mean of torch/tensorflow
latency decides the default backend. Achieved GFLOP/s is FLOPs / latency, compared with a large float32 numpy matmul
on the same cores (the practical peak of this machine, measured at the same time, under the same load).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy

from videonas import families, genome, jsonio, models
from videonas.bench import deploy, table
from videonas.genome.tvn import TVNGenome

TVNS = ("TVN-1", "TVN-2", "TVN-3", "TVN-4")
FOUND = "found TVN"  # the best network of the last default tvn_search, when its reports are present
FOUND_GENOME = Path("tvn_search") / "found_genome.json"  # under the reports folder, written by that notebook
FOUND_RESULTS = Path("tvn_search") / "results.json"  # its same-input accuracy comparison with the baselines
TVN_MODELS = (*TVNS, FOUND)
BASELINES = ("X3D-XS", "R(2+1)D-18", "R3D-18")
COMMON_INPUT = (16, 112)  # the (2+1)D ResNets' clip: one input for every model
EMBEDDED_INPUT = (8, 64)  # what the searches here train on (``videonas.train.TrainTask`` defaults)
QUICK_INPUT = (4, 32)
# The paper's CPU runtimes (different CPU: only the ratios carry over).
PAPER_MS = {"TVN-1": 37, "TVN-2": 65, "TVN-3": 85, "TVN-4": 402}
PAPER_PRIOR_MS = 2000
_MARKER = "VIDEONAS_BENCH_JSON "
RUNTIMES = ("keras", "onnxruntime", "litert")  # the deploy runtimes are timed in the tensorflow process
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Case:
    """One model at one input: ``input_name`` is "published" (the model's own input), "common", "embedded", "found"
    (the found TVN's input) or "quick".
    ``genome`` is the JSON of a TVN that is not a named model (the found TVN)."""

    model: str
    input_name: str
    num_frames: int
    image_size: int
    genome: str | None = None

    @property
    def clip(self) -> str:
        return f"{self.num_frames}x{self.image_size}x{self.image_size}"


def plan(*, quick: bool = False, found: str | None = None) -> list[Case]:
    """The cases to time: TVNs at published/common/embedded inputs, baselines at common/embedded (X3D-XS also at its
    published 4x160x160), and ``found`` (a TVN genome's JSON) at its own input and at the common and embedded clips.
    ``quick`` is two small models at a tiny clip, for tests."""
    if quick:
        return [Case(name, "quick", *QUICK_INPUT) for name in ("TVN-1", "R(2+1)D-18")]
    cases = [Case(name, "published", *table.published_input(name)) for name in (*TVNS, "X3D-XS")]
    for input_name, clip in (("common", COMMON_INPUT), ("embedded", EMBEDDED_INPUT)):
        cases += [Case(name, input_name, *clip) for name in (*TVNS, *BASELINES)]
    if found is not None:
        tvn = TVNGenome.from_json(found)
        cases.append(Case(FOUND, "published", tvn.num_frames, tvn.image_size, found))
        cases += [Case(FOUND, input_name, *clip, found)
                  for input_name, clip in (("common", COMMON_INPUT), ("embedded", EMBEDDED_INPUT))]
        cases.append(Case("R(2+1)D-18", "found", tvn.num_frames, tvn.image_size))
    return cases


def found_genome(reports_dir: str | Path) -> str | None:
    """The found TVN's genome JSON from ``reports_dir`` (``None`` before a tvn_search run)."""
    path = Path(reports_dir) / FOUND_GENOME
    return path.read_text() if path.is_file() else None


def found_accuracy(reports_dir: str | Path) -> dict[str, float]:
    """Top-1 per model of the last tvn_search's same-input comparison (found TVN retrained, baselines trained with
    the same epochs at its input: the mean test top-1 over seeds); empty before a run."""
    path = Path(reports_dir) / FOUND_RESULTS
    if not path.is_file():
        return {}
    extra = json.loads(path.read_text()).get("extra", {})
    # Mean test top-1 over the retraining seeds; reports written before the test split held one val "top1" each.
    retrained = {row["variant"]: row.get("mean test") for row in extra.get("retrained", [])}
    retrained.update({row["model"]: row.get("top1") for row in extra.get("reference", [])})
    return {model: value for model, value in retrained.items() if value is not None}


def _build(case: Case):
    if case.genome is None:
        return table.build_named(case.model, input_override=(case.num_frames, case.image_size))
    found = genome.decode(case.genome)
    found = families.of(found).with_input(found, num_frames=case.num_frames, image_size=case.image_size)
    return models.build_model(found, num_classes=table.NUM_CLASSES, name=case.model.replace(" ", "_"))


def matmul_peak_gflops(*, sizes: Sequence[int] = (1024, 2048), repeats: int = 10) -> dict[str, float]:
    """Best GFLOP/s of square float32 matmuls in numpy (BLAS) and in the Keras backend (oneDNN/MKL for tensorflow),
    in multiply-adds like every FLOP figure here (``videonas.measure``), so a model's share of the peak is a ratio of
    like units.

    The best of many short runs, because other jobs share the cores: the practical peak is what a quiet moment
    allows. ``peak`` is the larger of the two libraries (a conv net can use the faster one's kernels).
    """
    import keras  # Keras: deferred

    rng = numpy.random.default_rng(0)
    best = {"numpy": 0.0, "backend": 0.0}
    for size in sizes:
        a = rng.standard_normal((size, size), dtype=numpy.float32)
        b = rng.standard_normal((size, size), dtype=numpy.float32)
        ta, tb = keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)
        calls = {"numpy": lambda: a @ b, "backend": lambda: keras.ops.convert_to_numpy(keras.ops.matmul(ta, tb))}
        for library, call in calls.items():
            call()
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                best[library] = max(best[library], size**3 / (time.perf_counter() - start) / 1e9)
    return {**best, "peak": max(best.values())}


def measure_cases(cases: Sequence[Case], *, quick: bool = False,
                  runtimes: Sequence[str] = ("keras",)) -> list[dict[str, Any]]:
    """Time every case on the current Keras backend and on each of ``runtimes`` (``videonas.deploy.runtimes``:
    the model converted to ONNX or LiteRT, on as many threads as Keras uses); one dict per case and runtime."""
    import keras  # Keras: deferred

    from videonas import measure  # Keras: deferred

    rows = []
    for case in cases:
        common = {**dataclasses.asdict(case), "clip": case.clip, "backend": keras.backend.backend(),
                  "runtime": "keras"}
        try:
            model = _build(case)
        except ValueError as error:  # e.g. TVN-2's strides need more than 64 px: recorded, not timed
            rows.append({**common, "median_ms": None, "error": str(error)})
            continue
        flops = measure.count_flops(model)
        runs = 3 if quick else table.runs_for(flops / 1e9)
        timing = measure.measure_latency(model, runs=runs, warmup=1)  # one call traces (tf) or warms caches
        log.info("%s at %s, %s: %.1f ms (%d runs)", case.model, case.clip, common["backend"],
                 timing["median_ms"], runs)
        rows.append(deploy.timed_row(common, timing, params=measure.count_params(model), flops=flops))
        rows += deploy.runtime_rows(model, common, runtimes=[r for r in runtimes if r != "keras"], runs=runs,
                                    threads=timing["threads"], flops=flops)
        del model
        gc.collect()
        keras.backend.clear_session()
    return rows


def measure_in_subprocess(cases: Sequence[Case], *, backend: str = "torch", quick: bool = False,
                          timeout_s: float = 1200) -> list[dict[str, Any]]:
    """``measure_cases`` in a fresh interpreter with ``KERAS_BACKEND=backend``."""
    if backend not in ("tensorflow", "torch", "jax"):
        raise ValueError(f"backend must be tensorflow, torch or jax, got {backend!r}")
    payload = json.dumps({"cases": [dataclasses.asdict(c) for c in cases], "quick": quick})
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    completed = subprocess.run([sys.executable, "-m", "videonas.bench.latency", "--worker", payload], env=env,
                               capture_output=True, text=True, timeout=timeout_s)
    for line in completed.stdout.splitlines():
        if line.startswith(_MARKER):
            return json.loads(line[len(_MARKER):])
    raise RuntimeError(f"{backend} latency worker failed (exit {completed.returncode}): {completed.stderr[-2000:]}")


def timed(rows: Sequence[dict[str, Any]], *, runtime: str | None = "keras") -> list[dict[str, Any]]:
    """The rows that were measured (a case whose model cannot take the input has ``median_ms`` None) on ``runtime``
    (``None``: every runtime)."""
    return [row for row in deploy.measured(rows) if runtime in (None, row.get("runtime", "keras"))]


def find(rows: Sequence[dict[str, Any]], model: str, input_name: str, backend: str,
         runtime: str = "keras") -> dict[str, Any]:
    """The measured row of ``model`` at ``input_name`` on ``backend`` and ``runtime`` (rows without one: Keras)."""
    for row in timed(rows, runtime=runtime):
        if (row["model"], row["input_name"], row["backend"]) == (model, input_name, backend):
            return row
    raise ValueError(f"no latency row for model={model!r} input={input_name!r} backend={backend!r} "
                     f"runtime={runtime!r}")


def ratios(rows: Sequence[dict[str, Any]], *, backend: str) -> list[dict[str, Any]]:
    """baseline / TVN latency for every (baseline, TVN) pair: at the same input, and TVN at its published input."""
    out = []
    baselines = [r for r in timed(rows) if r["backend"] == backend and r["model"] not in TVN_MODELS]
    for base in baselines:
        for tvn in (r for r in timed(rows) if r["backend"] == backend and r["model"] in TVN_MODELS):
            if tvn["input_name"] in (base["input_name"], "published"):
                out.append({"baseline": base["model"], "baseline_input": base["input_name"], "tvn": tvn["model"],
                            "tvn_input": tvn["input_name"], "backend": backend, "baseline_ms": base["median_ms"],
                            "tvn_ms": tvn["median_ms"], "ratio": base["median_ms"] / tvn["median_ms"]})
    return out


def backend_ratio(rows: Sequence[dict[str, Any]], *, other: str = "torch") -> float:
    """Geometric mean over cases of ``other``/tensorflow latency (> 1: tensorflow is faster)."""
    logs = [math.log(find(rows, r["model"], r["input_name"], other)["median_ms"] / r["median_ms"])
            for r in timed(rows) if r["backend"] == "tensorflow"]
    return math.exp(sum(logs) / len(logs))


def run(*, quick: bool = False, other_backend: str = "torch", reports_dir: str | Path | None = None) -> dict[str, Any]:
    """Measure everything and return the section payload (title, headline, conclusion, extra); the found TVN is
    timed when ``reports_dir`` holds a tvn_search run."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    peak_options = {"sizes": (256,) if quick else (1024, 2048), "repeats": 3 if quick else 10}
    before = matmul_peak_gflops(**peak_options)
    cases = plan(quick=quick, found=None if reports_dir is None else found_genome(reports_dir))
    rows = measure_cases(cases, quick=quick, runtimes=RUNTIMES)
    # Measured again after the models: the best of both moments is the least disturbed by other jobs.
    after = matmul_peak_gflops(**peak_options)
    peaks = {key: max(before[key], after[key]) for key in before}
    peak = peaks["peak"]
    rows += measure_in_subprocess(cases, backend=other_backend, quick=quick)
    slower = backend_ratio(rows, other=other_backend)
    default = "tensorflow" if slower >= 1 else other_backend
    for row in timed(rows, runtime=None):
        row["share_of_peak"] = row["gflops_per_s"] / peak
    pairs = ratios(rows, backend=default)
    payload = _summary(rows, pairs, peak=peak, slower=slower, default=default, other=other_backend, quick=quick)
    same_input = deploy.same_input_ratios(rows, tvn_models=TVN_MODELS)
    payload["headline"] += deploy.headline(rows, same_input)
    payload["conclusion"] += " " + deploy.conclusion(same_input)
    payload["title"] = "CPU latency: TVNs vs 3D CNN baselines, tensorflow vs torch, Keras vs ONNX Runtime vs LiteRT"
    if reports_dir is not None and not quick:
        payload["headline"] += _accuracy_rows(found_accuracy(reports_dir))
    payload["extra"].update(rows=rows, ratios=pairs, same_input_ratios=same_input, matmul_peak_gflops=peaks, load_average_before=load_before,
                            load_average_after=os.getloadavg(), cpu_count=os.cpu_count(),
                            wall_seconds=time.perf_counter() - started)
    return payload


def _summary(rows, pairs, *, peak: float, slower: float, default: str, other: str, quick: bool) -> dict[str, Any]:
    def ms(model: str, input_name: str) -> float:
        return find(rows, model, input_name, default)["median_ms"]

    def pair(baseline: str, tvn: str, tvn_input: str) -> dict[str, Any]:
        return next(p for p in pairs if (p["baseline"], p["tvn"], p["tvn_input"]) == (baseline, tvn, tvn_input))

    headline: list[dict[str, Any]] = []
    if quick:
        clip = "x".join(map(str, (QUICK_INPUT[0], QUICK_INPUT[1], QUICK_INPUT[1])))
        headline += [{"label": f"{m} latency at {clip}, {default} (ms)", "value": round(ms(m, "quick"), 3),
                      "paper": ""} for m in ("TVN-1", "R(2+1)D-18")]
        main = pair("R(2+1)D-18", "TVN-1", "quick")
        headline.append({"label": f"R(2+1)D-18 / TVN-1 latency at {clip}, {default}", "value": round(main["ratio"], 3),
                         "paper": ""})
    else:
        for name in TVNS:
            clip = find(rows, name, "published", default)["clip"]
            headline.append({"label": f"{name} latency at its published input {clip}, {default} (ms)",
                             "value": round(ms(name, "published"), 1), "paper": f"{PAPER_MS[name]} ms (their CPU)"})
        for name in BASELINES:
            headline.append({"label": f"{name} latency at 16x112x112, {default} (ms)",
                             "value": round(ms(name, "common"), 1),
                             "paper": f"prior models {PAPER_PRIOR_MS}+ ms (their CPU)" if name != "X3D-XS" else ""})
        main = pair("R(2+1)D-18", "TVN-1", "published")
        same = pair("R(2+1)D-18", "TVN-1", "common")
        headline += [
            {"label": f"R(2+1)D-18 (16x112x112) / TVN-1 (published input) latency, {default}",
             "value": round(main["ratio"], 2),
             "paper": f">= {PAPER_PRIOR_MS / PAPER_MS['TVN-1']:.0f}x (2000+ / 37 ms)"},
            {"label": f"R(2+1)D-18 / TVN-1 latency, both at 16x112x112, {default}", "value": round(same["ratio"], 2),
             "paper": ""},
        ]
        headline += _found_rows(rows, pairs, default)
    measured = [r for r in timed(rows) if r["backend"] == default]
    best = max(measured, key=lambda r: r["share_of_peak"])
    headline += [
        {"label": f"{other} / tensorflow latency (geometric mean over {len(measured)} cases)",
         "value": round(slower, 2), "paper": ""},
        {"label": "float32 matmul peak of this machine (GFLOP/s)", "value": round(peak, 1), "paper": ""},
        {"label": f"best achieved share of that peak ({best['model']} at {best['clip']}, {default})",
         "value": round(best["share_of_peak"], 3), "paper": ""},
    ]
    base_row = find(rows, main["baseline"], main["baseline_input"], default)
    tvn_row = find(rows, main["tvn"], main["tvn_input"], default)
    tvn_share = statistics.median(r["share_of_peak"] for r in measured if r["model"] in TVN_MODELS)
    base_share = statistics.median(r["share_of_peak"] for r in measured if r["model"] not in TVN_MODELS)
    skipped = [f"{r['model']} at {r['clip']}" for r in rows if r.get("median_ms") is None and r["backend"] == default
               and r.get("runtime", "keras") == "keras"]
    conclusion = (
        f"Default backend: {default} ({other} takes {slower:.2f}x the tensorflow latency at batch 1, geometric mean "
        f"over {len(measured)} cases). R(2+1)D-18 at {base_row['clip']} takes {main['baseline_ms']:.0f} ms against "
        f"{main['tvn_ms']:.1f} ms for TVN-1 at {tvn_row['clip']}: {main['ratio']:.1f}x (paper: 2000+ ms vs 37 ms, "
        f">= 54x, on another CPU). Absolute milliseconds are this {os.cpu_count()}-core machine's, shared with other "
        f"jobs (load average {os.getloadavg()[0]:.1f} at the end); ratios are the comparable part. Median cv of the "
        f"runs: tensorflow {_median_cv(rows, 'tensorflow'):.2f}, {other} {_median_cv(rows, other):.2f} (a high cv "
        f"means the threads were starved by other jobs). "
        f"Median share of the {peak:.0f} GFLOP/s matmul peak: TVNs {tvn_share:.1%}, baselines {base_share:.1%}"
        + (" - at batch 1 the TVNs' latency is less bound by arithmetic than the 3D ResNets', so FLOPs understate "
           "their cost." if tvn_share < base_share else ".")
        + (f" Some models exceed the measured matmul peak (best share {best['share_of_peak']:.2f}): the cores were "
           f"busier with other jobs while the peak was measured than during those runs, so shares are rough."
           if best["share_of_peak"] > 1 else "")
        + (f" Not timed (the input is too small for the model's strides): {', '.join(skipped)}." if skipped else ""))
    if quick:
        conclusion = "Quick run (tiny clip, for tests; not meaningful). " + conclusion
    return {"title": "CPU latency: TVNs vs 3D CNN baselines, tensorflow vs torch", "headline": headline,
            "conclusion": conclusion, "extra": {}}


def _found_rows(rows, pairs, default: str) -> list[dict[str, Any]]:
    """Headline rows of the found TVN: its latency and the R(2+1)D-18 ratio (the benchmark's 100x aim)."""
    if not any(r["model"] == FOUND and r["backend"] == default for r in timed(rows)):
        return []
    own = find(rows, FOUND, "published", default)
    out = [{"label": f"found TVN latency at its own input {own['clip']}, {default} (ms)",
            "value": round(own["median_ms"], 2), "paper": "TVN-1: 37 ms CPU"}]
    try:
        base = find(rows, "R(2+1)D-18", "found", default)
        out.append({"label": f"R(2+1)D-18 / found TVN latency, both at the found TVN's input {own['clip']}, {default}",
                    "value": round(base["median_ms"] / own["median_ms"], 1), "paper": "aim: >= 100x at the same input"})
    except ValueError:  # the baseline's strides cannot take that input
        pass
    for tvn_input, text, aim in (("published", "found TVN at its own input", ""),
                                 ("common", "both at 16x112x112", "aim: >= 100x at the same input")):
        for p in pairs:
            if (p["baseline"], p["baseline_input"], p["tvn"], p["tvn_input"]) == ("R(2+1)D-18", "common", FOUND,
                                                                                    tvn_input):
                out.append({"label": f"R(2+1)D-18 (16x112x112) / {text} latency, {default}",
                            "value": round(p["ratio"], 1), "paper": aim})
    return out


def _accuracy_rows(accuracy: dict[str, float]) -> list[dict[str, Any]]:
    """The found TVN's top-1 against each full-width baseline's at the same input (the 3-point aim)."""
    if FOUND not in accuracy:
        return []
    mine = accuracy[FOUND]
    return [{"label": f"top-1 at the found TVN's input, same epochs: found TVN vs {model} (tvn_search report)",
             "value": f"{mine:.3f} vs {top1:.3f} ({100 * (mine - top1):+.1f} points)",
             "paper": "aim: within 3 points of R(2+1)D-18" if model.startswith("R(2+1)D-18") else ""}
            for model, top1 in accuracy.items() if model != FOUND]


def _median_cv(rows: Sequence[dict[str, Any]], backend: str) -> float:
    values = [r["cv"] for r in timed(rows) if r["backend"] == backend]
    return statistics.median(values) if values else float("nan")


def _worker(payload: str) -> None:
    options = json.loads(payload)
    cases = [Case(**case) for case in options["cases"]]
    rows = measure_cases(cases, quick=bool(options.get("quick")))
    print(_MARKER + json.dumps(rows), flush=True)


def _save(path: str, *, quick: bool) -> None:
    """Time ``plan()`` on this process's backend and device (e.g. a GPU machine) and save ``{"rows": [...]}``,
    the format ``videonas.bench.gpu`` reads from ``reports/bench/gpu_latency.json``."""
    rows = measure_cases(plan(quick=quick), quick=quick)
    print(jsonio.dump({"rows": rows}, os.path.abspath(path)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="time the latency cases on this process's Keras backend and device")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--worker", help="JSON {cases: [...], quick: bool}; prints the rows (used by run())")
    group.add_argument("--out", help="write {rows: [...]} for plan() here, e.g. reports/bench/gpu_latency.json")
    parser.add_argument("--quick", action="store_true", help="with --out: the tiny quick cases")
    arguments = parser.parse_args()
    if arguments.worker is not None:
        _worker(arguments.worker)
    else:
        _save(arguments.out, quick=arguments.quick)
