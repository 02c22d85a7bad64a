"""The published-architectures experiment: the published presets counted and timed beside the baselines.

Each preset is built from the authors' released genome by our builder, which lays it out as their released code does:
every row's parameters and multiply-adds are set beside the released code's own (``published.released_counts``,
counted from its layer definitions), and the interpretations that remain are named per family.

Nothing here is compared over seeds: counts are exact, latencies are measurements on this machine. The paper's figures
stand only beside the same quantity: a TVN preset's CPU (or GPU) milliseconds beside ours for the same preset at its
published input. The paper's speed claim ("TVNs run in 37-100 ms on a CPU where prior models need 2000+ ms") sets
networks at their own inputs side by side, so it is judged here (``speed_verdicts``), from each model's timed runs;
the paper names no prior model, so no ratio of ours gets a paper figure.
``run(Config)`` is the published_architectures notebook; a GPU machine's ``gpu_latency.json`` is an optional input
from the ``bench`` folder beside the output folder (``reports/bench/`` beside ``reports/published_architectures/``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import families
from videonas.bench import table
from videonas.checks import check_int, quote
from videonas.experiments import answers, claims, experiment, prose, summaries
from videonas.genome import published

NAME = "published_architectures"
ALL_MODELS = ("TVN-1", "TVN-2", "TVN-3", "TVN-4", "AssembleNet-50", "AssembleNet-101", "EvaNet-A", "EvaNet-B",
              "R(2+1)D-18", "R3D-18", "X3D-XS", "two-stream")
GPU_LATENCY_FILE = "gpu_latency.json"  # written by `python -m videonas.bench.latency` on a GPU machine
PAPER_PARAM_LIMIT = {"TVN-2": 12e6, "TVN-4": 30e6}  # P where the TVN paper states one
PAPER_CPU_MS = {"TVN-1": 37, "TVN-2": 65, "TVN-3": 85, "TVN-4": 402}
PAPER_GPU_MS = {"TVN-1": 10, "TVN-2": 13}
# The speed claim's pair, our interpretation (the paper names no prior model): TVN-1, the 37 ms headline, against
# the (2+1)D ResNet that the paper plots runtime against and AssembleNet-50, the same authors' prior network; each at
# its published input.
SPEED_TVN = "TVN-1"
PRIOR_MODELS = ("R(2+1)D-18", "AssembleNet-50")
# How close a preset must come to the released code's counts to be called "as released" (parameters, multiply-adds).
RELEASED_TOLERANCE = {"params": 0.02, "flops": 0.03}


def released_presets() -> list[dict[str, Any]]:
    """Every published preset at its released input and class count: parameters (M), multiply-adds (G), the released
    code's counts of the same (``released_params_m``, ``released_gflops``) and, where the paper states a parameter
    limit P, whether the released genome keeps it."""
    import keras

    from videonas import measure

    rows = []
    for name in published.names():
        keras.backend.clear_session()
        family = families.of(name)
        model = table.build_named(name, num_classes=family.released_classes)
        frames, size = table.published_input(name)
        params = measure.count_params(model)
        limit = PAPER_PARAM_LIMIT.get(name)
        released = published.released_counts(name)
        rows.append({"model": name, "classes": family.released_classes, "clip": f"{frames}x{size}x{size}",
                     "params_m": params / 1e6, "gflops": measure.count_flops(model) / 1e9,
                     "released_params_m": released["params"] / 1e6, "released_gflops": released["macs"] / 1e9,
                     "paper_p_m": None if limit is None else limit / 1e6,
                     "within_paper_p": None if limit is None else params < limit,
                     "interpretations": family.interpretations})
    return rows


def format_released(rows: Sequence[Mapping[str, Any]]) -> str:
    """``released_presets`` as fixed-width text (checked by the notebook tests), then how many match the released
    code's counts within ``RELEASED_TOLERANCE`` (naming any that do not), then each family's interpretations."""
    lines, off = [], []
    for row in rows:
        frames, size = row["clip"].split("x")[:2]
        limit = row["paper_p_m"]
        flag = "" if limit is None else (f"  within P < {limit:.0f}M" if row["within_paper_p"]
                                         else f"  BREAKS the paper's P < {limit:.0f}M")
        lines.append(f"{row['model']:<16}{frames:>3}x{size:<4}{row['classes']:>5} classes {row['params_m']:9.2f} M "
                     f"params {row['gflops']:8.2f} GFLOPs{flag}")
        params_off = row["params_m"] / row["released_params_m"] - 1
        flops_off = row["gflops"] / row["released_gflops"] - 1
        if abs(params_off) > RELEASED_TOLERANCE["params"] or abs(flops_off) > RELEASED_TOLERANCE["flops"]:
            off.append(f"{row['model']} ({params_off:+.1%} params, {flops_off:+.1%} FLOPs)")
    lines.append(f"released code's counts: {len(rows) - len(off)} of {len(rows)} within "
                 f"{RELEASED_TOLERANCE['params']:.0%} params and {RELEASED_TOLERANCE['flops']:.0%} FLOPs"
                 + (f"; outside: {', '.join(off)}" if off else ""))
    notes = [f"{family.name}: {family.interpretations}" for family in families.registered().values()
             if family.presets and family.interpretations]
    return "\n".join(lines + [""] + notes)


def gpu_latency(path: str | Path | None, *, default: Path) -> dict[str, float]:
    """``{model: median ms}`` at published inputs from a GPU machine's ``gpu_latency.json`` (``path``, else
    ``default`` when it exists); empty when there is none."""
    chosen = Path(path) if path else default
    if path and not chosen.is_file():
        raise ValueError(f"gpu_latency_file must be an existing gpu_latency.json, got {str(path)!r}")
    rows = json.loads(chosen.read_text())["rows"] if chosen.is_file() else []
    return {row["model"]: row["median_ms"] for row in rows if row.get("input_name", "published") == "published"}


def overview(counts: Any, timed: Any, gpu_ms: Mapping[str, float]) -> Any:
    """One table: each model's counts at its published input beside its CPU timing (at the timed clip) and GPU ms."""
    timed = timed.assign(clip=[f"{f}x{s}x{s}" for f, s in zip(timed["frames"], timed["image_size"])])
    table = counts[["model", "family", "frames", "image_size", "params_m", "gflops"]].merge(
        timed[["model", "clip", "gflops", "latency_ms", "latency_cv", "threads"]].rename(
            columns={"clip": "cpu_clip", "gflops": "cpu_clip_gflops", "latency_ms": "cpu_ms", "latency_cv": "cpu_cv"}),
        on="model", how="left")
    return table.assign(gpu_ms=[gpu_ms.get(name) for name in table["model"]])


def findings(counts: Any, timed: Any, gpu_ms: Mapping[str, float], *, same_input: bool
             ) -> tuple[list[dict[str, Any]], str]:
    """The headline rows and the conclusion text. ``same_input``: every model was timed at one reduced clip, so the
    TVN timings are not at the paper's setting and get no paper figure."""
    latency = dict(zip(timed["model"], timed["latency_ms"]))
    clip = {m: f"{f}x{s}x{s}" for m, f, s in zip(timed["model"], timed["frames"], timed["image_size"])}
    tvns = [name for name in PAPER_CPU_MS if name in latency]
    baselines = [name for name in timed["model"] if not name.startswith("TVN")]
    reference = tvns[0] if tvns else None
    headline = [{"label": f"{name} CPU latency at {clip[name]} (ms)", "value": round(latency[name], 1),
                 "paper": "" if same_input else f"{PAPER_CPU_MS[name]} ms (their CPU, published input)"}
                for name in tvns]
    ratios = {name: latency[name] / latency[reference] for name in baselines} if reference else {}
    headline += [{"label": f"{name} / {reference} CPU latency", "value": round(ratio, 1), "paper": ""}
                 for name, ratio in ratios.items()]
    by_model = counts.set_index("model")
    headline += [{"label": f"{name} params (M) / GFLOPs at its published input",
                  "value": f"{by_model.loc[name, 'params_m']:.2f} / {by_model.loc[name, 'gflops']:.2f}", "paper": ""}
                 for name in ("TVN-1", "R(2+1)D-18") if name in by_model.index]
    headline += [{"label": f"{name} GPU latency (ms)", "value": round(ms, 2),
                  "paper": f"{PAPER_GPU_MS[name]} ms" if name in PAPER_GPU_MS else ""} for name, ms in gpu_ms.items()]

    parts = []
    if tvns and same_input:
        parts.append(", ".join(f"{n} {latency[n]:.0f} ms" for n in tvns) + f" here, all at {clip[tvns[0]]}: a reduced "
                     "clip, so the paper's CPU figures (at published inputs) are not set beside them")
    elif tvns:
        parts.append("; ".join(f"{n} {latency[n]:.0f} ms here vs {PAPER_CPU_MS[n]} ms in the paper" for n in tvns)
                     + " (each at its published input, on a different CPU)")
    if ratios:
        slowest, fastest = max(ratios, key=ratios.get), min(ratios, key=ratios.get)
        parts.append(f"{reference} is {ratios[slowest]:.1f}x faster than {slowest} and "
                     + (f"{ratios[fastest]:.1f}x faster than {fastest}" if ratios[fastest] >= 1 else
                        f"{1 / ratios[fastest]:.1f}x slower than {fastest}"))
        parts.append("the paper says prior video models need 2000+ ms per clip on a CPU and TVNs 37-100 ms, without "
                     "naming the models, so no ratio here is set beside a paper figure")
    if "TVN-1" in by_model.index:
        others = counts[counts["family"] != by_model.loc["TVN-1", "family"]].sort_values("gflops")
        if len(others):
            low, high = others.iloc[0], others.iloc[-1]
            parts.append(f"at published inputs TVN-1 needs {by_model.loc['TVN-1', 'gflops']:.1f} GFLOPs, against "
                         f"{low['gflops']:.1f} ({low['model']}) to {high['gflops']:.0f} ({high['model']}) for the others")
    parts.append("GPU: " + (", ".join(f"{n} {ms:.1f} ms" for n, ms in gpu_ms.items()) if gpu_ms
                            else "not measured (no GPU in this run)"))
    return headline, ". ".join(p[0].upper() + p[1:] for p in parts) + "."


def speed_verdicts(timed: Any, *, same_input: bool) -> list[Any]:
    """The ``tvn_speed`` verdicts: each of ``PRIOR_MODELS`` against ``SPEED_TVN``, from each model's timed runs
    (``latency_runs_ms``: the ratio of geometric means with an interval from their run-to-run spread; one run each
    is judged as an exact figure). None at one reduced clip (``same_input``): the claim is about published inputs."""
    if same_input or "latency_runs_ms" not in timed:
        return []
    runs = {model: list(times) for model, times in zip(timed["model"], timed["latency_runs_ms"])
            if isinstance(times, (list, tuple)) and times}
    verdicts = []
    for prior in PRIOR_MODELS:
        if prior not in runs or SPEED_TVN not in runs:
            continue
        slow, fast = runs[prior], runs[SPEED_TVN]
        verdict = (claims.ask_exact("tvn_speed", a=slow, b=fast) if len(slow) > 1 and len(fast) > 1 else
                   claims.ask_exact("tvn_speed", a=float(statistics.median(slow)), b=float(statistics.median(fast))))
        verdicts.append(dataclasses.replace(verdict, question=f"{verdict.question[:-1]} ({prior} against "
                                                              f"{SPEED_TVN}, each at its published input)?"))
    return verdicts


def _models(value: Any, path: str) -> tuple[str, ...]:
    names = table.model_names()
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{path} must be a non-empty list of model names, got {quote(value)}")
    for index, name in enumerate(value):
        if name not in names:
            raise ValueError(f"{path}[{index}] must be one of {names}, got {quote(name)}")
    return tuple(value)


def _clip(value: Any, path: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{path} must be [frames, pixels] or null, got {quote(value)}")
    check_int(f"{path}[0]", value[0], 1, 1024)
    check_int(f"{path}[1]", value[1], 8, 1024)
    return tuple(value)


def _runs(value: Any, path: str) -> int | None:
    if value is not None:
        check_int(path, value, 1, 10_000)
    return value


def _warmup(value: Any, path: str) -> int:
    check_int(path, value, 0, 10_000)
    return value


def _file(value: Any, path: str) -> str | None:
    if value is not None and (not isinstance(value, (str, Path)) or not str(value)):
        raise ValueError(f"{path} must be a file path or null, got {quote(value)}")
    return None if value is None else str(value)


@dataclasses.dataclass(frozen=True)
class Config:
    """Which models are counted (at their published inputs) and timed (at ``latency_input``, or each at its
    published input), how many timed runs (``None``: from the FLOPs) and where GPU timings come from."""

    latency_models: tuple[str, ...]
    latency_input: tuple[int, int] | None
    latency_runs: int | None
    latency_warmup: int
    count_models: tuple[str, ...] = ALL_MODELS
    gpu_latency_file: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "latency_models": _models, "latency_input": _clip, "latency_runs": _runs, "latency_warmup": _warmup,
            "count_models": _models, "gpu_latency_file": _file})


@functools.lru_cache(maxsize=4)
def _counted(names: tuple[str, ...]) -> Any:
    return table.architecture_table(list(names), latency=False)


def counts(config: Config) -> Any:
    """Parameters and FLOPs of ``config.count_models`` at their published inputs (built once per process: the
    notebook's checked cell and ``run`` share them)."""
    return _counted(tuple(config.count_models)).copy()


def counts_text(config: Config) -> str:
    """``counts`` as fixed-width text: what the notebook checks."""

    return table.format_counts(counts(config))


@functools.lru_cache(maxsize=1)
def _released() -> tuple[dict[str, Any], ...]:
    return tuple(released_presets())


def released_text() -> str:
    """``released_presets`` as ``format_released`` text (built once per process, shared with ``run``)."""
    return format_released(list(_released()))


@dataclasses.dataclass
class Details:
    """What ``run`` measured: the counts, the released presets, the timings and the one overview table."""

    counts: Any
    released: list[dict[str, Any]]
    timed: Any
    gpu_ms: dict[str, float]

    def tables(self) -> list[Any]:
        """The overview: counts beside CPU and GPU timings, rounded for reading."""
        return [overview(self.counts, self.timed, self.gpu_ms).round(3)]


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Count every model, time the chosen ones on this machine's CPU, read GPU timings when a GPU machine left them,
    plot runtime against FLOPs and write ``results.json``."""
    import keras  # deferred: heavy start-up
    import matplotlib.pyplot

    from videonas.plots.published import plot_runtime_vs_flops

    folder = summaries.output_folder(NAME, output_dir=output_dir)
    counted, released = counts(config), [dict(row) for row in _released()]
    timed = table.architecture_table(list(config.latency_models), input_override=config.latency_input,
                                     runs=config.latency_runs, warmup=config.latency_warmup)
    gpu_ms = gpu_latency(config.gpu_latency_file,
                         default=Path(folder).resolve().parent / "bench" / GPU_LATENCY_FILE)
    figure = plot_runtime_vs_flops(timed, backend=keras.backend.backend(), same_input=config.latency_input).figure
    headline, conclusion = findings(counted, timed, gpu_ms, same_input=config.latency_input is not None)
    verdicts = speed_verdicts(timed, same_input=config.latency_input is not None)
    if verdicts:
        headline = [*answers.verdict_rows(verdicts), *headline]
        conclusion = prose.conclusion(verdicts, notes=[conclusion])
    result = experiment.finish(
        folder, title="Published architectures: parameters, FLOPs and runtime",
        question="How small and how fast are TVN-1..4 next to AssembleNet, EvaNet and hand-made 3D CNN baselines?",
        headline=headline, conclusion=conclusion, verdicts=verdicts, figures={"runtime_vs_flops.png": figure},
        deterministic="Parameter and FLOP counts repeat exactly on every machine and backend; latencies are timings "
                      "on a machine shared with other jobs and vary from run to run (see the cv column); the speed "
                      "verdicts' intervals come from that spread.",
        extra={"counts": counted.to_dict(orient="records"), "released": released,
               "timed": timed.to_dict(orient="records"), "gpu_ms": gpu_ms,
               "latency_input": None if config.latency_input is None else list(config.latency_input)},
        details=Details(counted, released, timed, gpu_ms))
    matplotlib.pyplot.close(figure)  # shown by result.show(), not again when the cell ends
    return result
