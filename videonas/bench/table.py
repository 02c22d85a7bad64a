"""One table of the published architectures and the baselines: parameters, FLOPs and measured latency.

This is the TVN paper's runtime comparison as a function: every model is built at its published input (or at one
common ``input_override``) with a 400-class head, counted with ``videonas.measure`` and, on request, timed at batch 1.
Names, families and published inputs come from the named-model registry (``videonas.models.model_info``).
"""

from __future__ import annotations

import gc
from typing import Any, Sequence

from videonas import models

NUM_CLASSES = 400  # a Kinetics-400 head for every model, so the classifier layer never decides a comparison
COLUMNS = ("model", "family", "frames", "image_size", "params_m", "gflops", "latency_ms", "latency_cv", "threads",
           "device", "latency_runs_ms")


def model_names() -> list[str]:
    """Every name ``architecture_table`` accepts (display names): the published presets, then the baselines."""
    return [models.model_info(name).display_name for name in models.list_models()]


def family_of(name: str) -> str:
    """``"tvn"``, ``"assemblenet"``, ``"evanet"`` or ``"baseline"``."""
    return models.model_info(_check_name(name)).family


def published_input(name: str) -> tuple[int, int]:
    """``(num_frames, image_size)`` the paper (or the released code) runs ``name`` at."""
    return models.model_info(_check_name(name)).published_input


def build_named(name: str, *, input_override: tuple[int, int] | None = None, num_classes: int = NUM_CLASSES,
                width_multiplier: float = 1.0):
    """The keras model of ``name`` at its published input or at ``input_override = (num_frames, image_size)``."""
    num_frames, image_size = _check_input(input_override) if input_override is not None else published_input(name)
    return models.create_model(_check_name(name), num_classes=num_classes, num_frames=num_frames,
                               image_size=image_size, width_multiplier=width_multiplier)


def architecture_table(names: Sequence[str], *, input_override: tuple[int, int] | None = None, latency: bool = True,
                       runs: int | None = None, warmup: int = 2):
    """A ``pandas.DataFrame`` with one row per model and the columns in ``COLUMNS``.

    ``latency=False`` leaves the latency columns empty (NaN / None): counting is deterministic, timing is not.
    ``runs=None`` picks the number of timed runs from the FLOPs (20 for small models, 3 for 40-GFLOP ones).
    Each model is built, measured and dropped before the next, so memory holds one model at a time.
    """
    import pandas  # pandas: deferred

    from videonas import measure  # Keras: deferred

    if isinstance(names, str) or not names:
        raise ValueError(f"names must be a non-empty list of model names, got {names!r}")
    for name in names:
        _check_name(name)
    rows: list[dict[str, Any]] = []
    for name in names:
        num_frames, image_size = (_check_input(input_override) if input_override is not None
                                  else published_input(name))
        model = build_named(name, input_override=(num_frames, image_size))
        row: dict[str, Any] = {
            "model": name, "family": family_of(name), "frames": num_frames, "image_size": image_size,
            "params_m": measure.count_params(model) / 1e6, "gflops": measure.count_flops(model) / 1e9,
            "latency_ms": float("nan"), "latency_cv": float("nan"), "threads": None, "device": None,
            "latency_runs_ms": None,
        }
        if latency:
            timed_runs = runs if runs is not None else runs_for(row["gflops"])
            timing = measure.measure_latency(model, runs=timed_runs, warmup=warmup)
            row.update(latency_ms=float(timing["median_ms"]), latency_cv=float(timing["cv"]),
                       latency_runs_ms=[float(ms) for ms in timing["times_ms"]],
                       threads=timing.get("threads"), device=timing.get("device"))
        rows.append(row)
        del model
        gc.collect()
    return pandas.DataFrame(rows, columns=list(COLUMNS))


def runs_for(gflops: float) -> int:
    """Timed runs for a model of ``gflops`` (multiply-adds): about 20 s of compute at 0.5 GFLOPs per run, between 3
    and 20 runs."""
    return int(min(20, max(3, round(10 / max(gflops, 1e-3)))))


def format_counts(table) -> str:
    """Plain text, fixed formatting, counts only: the deterministic part of a table (notebooks check it)."""
    lines = [f"{'model':<16}{'family':<12}{'input':>12}{'params (M)':>12}{'GFLOPs':>10}"]
    for row in table.itertuples(index=False):
        clip = f"{row.frames}x{row.image_size}x{row.image_size}"
        lines.append(f"{row.model:<16}{row.family:<12}{clip:>12}{row.params_m:>12.2f}{row.gflops:>10.2f}")
    return "\n".join(lines)


def _check_name(name: str) -> str:
    allowed = model_names()
    if name not in allowed:
        raise ValueError(f"name must be one of {allowed}, got {name!r}")
    return name


def _check_input(value: Any) -> tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"input_override must be (num_frames, image_size) of positive ints, got {value!r}")
    return int(value[0]), int(value[1])
