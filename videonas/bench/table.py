"""One table of the published architectures and the baselines: parameters, FLOPs and measured latency.

This is the TVN paper's runtime comparison as a function: every model is built at its published input (or at one
common ``input_override``) with a 400-class head, counted with ``videonas.measure`` and, on request, timed at batch 1.

Published inputs (interpretations where the papers leave it open):
- TVN-1..4: the genome's own ``num_frames`` x ``image_size`` (released JSON);
- AssembleNet-50/101 and EvaNet-A/B: 32 frames at 224 px, the ``videonas.models.create_model`` defaults (224 px crops
  as trained; the released AssembleNet run script feeds 64 frames at 256 px, about 2.6x these FLOPs); EvaNet is the
  RGB network of each pair (the flow twin costs the same);
- R(2+1)D-18 and R3D-18: 16 frames at 112 px (Tran et al. 2018, the torchvision video models);
- X3D-XS: 4 frames at 160 px (Feichtenhofer 2020);
- two-stream: RGB + flow late fusion at 16 frames, 112 px (the same clip as the (2+1)D baseline).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

NUM_CLASSES = 400  # a Kinetics-400 head for every model, so the classifier layer never decides a comparison
BASELINES = ("R(2+1)D-18", "R3D-18", "X3D-XS", "two-stream")
# name -> (num_frames, image_size) for the models whose genome does not carry its input.
PUBLISHED_INPUTS: dict[str, tuple[int, int]] = {
    "AssembleNet-50": (32, 224),
    "AssembleNet-101": (32, 224),
    "EvaNet-A": (32, 224),
    "EvaNet-B": (32, 224),
    "R(2+1)D-18": (16, 112),
    "R3D-18": (16, 112),
    "X3D-XS": (4, 160),
    "two-stream": (16, 112),
}
_REGISTRY_NAMES = {"R(2+1)D-18": "r2plus1d-18"}  # display name -> ``videonas.models.create_model`` name
COLUMNS = ("model", "family", "frames", "image_size", "params_m", "gflops", "latency_ms", "latency_cv", "threads",
           "device")


def model_names() -> list[str]:
    """Every name ``architecture_table`` accepts: the published genomes, then the baselines."""
    from videonas.genome import published

    return [*published.names(), *BASELINES]


def family_of(name: str) -> str:
    """``"tvn"``, ``"assemblenet"``, ``"evanet"`` or ``"baseline"``."""
    if name in BASELINES:
        return "baseline"
    from videonas.genome import published

    return published.family_of(name)


def published_input(name: str) -> tuple[int, int]:
    """``(num_frames, image_size)`` the paper (or the released code) runs ``name`` at."""
    _check_name(name)
    if family_of(name) == "tvn":
        from videonas.genome import published

        genome = published.load(name)
        return genome.num_frames, genome.image_size
    return PUBLISHED_INPUTS[name]


def build_named(name: str, *, input_override: tuple[int, int] | None = None, num_classes: int = NUM_CLASSES,
                width_multiplier: float = 1.0):
    """The keras model of ``name`` at its published input or at ``input_override = (num_frames, image_size)``."""
    _check_name(name)
    num_frames, image_size = _check_input(input_override) if input_override is not None else published_input(name)
    from videonas import models

    if family_of(name) != "tvn":
        return models.create_model(_REGISTRY_NAMES.get(name, name), num_classes=num_classes, num_frames=num_frames,
                                  image_size=image_size, width_multiplier=width_multiplier)
    from videonas.genome import published

    # A TVN genome carries its input: another clip is the same blocks with another num_frames / image_size.
    genome = dataclasses.replace(published.load(name), num_frames=num_frames, image_size=image_size)
    return models.build_model(genome, num_classes=num_classes, width_multiplier=width_multiplier,
                             name=_model_name(name))


def architecture_table(names: Sequence[str], *, input_override: tuple[int, int] | None = None, latency: bool = True,
                       runs: int | None = None, warmup: int = 2):
    """A ``pandas.DataFrame`` with one row per model and the columns in ``COLUMNS``.

    ``latency=False`` leaves the latency columns empty (NaN / None): counting is deterministic, timing is not.
    ``runs=None`` picks the number of timed runs from the FLOPs (20 for small models, 3 for 40-GFLOP ones).
    Each model is built, measured and dropped before the next, so memory holds one model at a time.
    """
    import gc

    import pandas

    from videonas import measure

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
        }
        if latency:
            timed_runs = runs if runs is not None else runs_for(row["gflops"])
            timing = measure.measure_latency(model, runs=timed_runs, warmup=warmup)
            row.update(latency_ms=float(timing["median_ms"]), latency_cv=float(timing["cv"]),
                       threads=timing.get("threads"), device=timing.get("device"))
        rows.append(row)
        del model
        gc.collect()
    return pandas.DataFrame(rows, columns=list(COLUMNS))


def runs_for(gflops: float) -> int:
    """Timed runs for a model of ``gflops``: about 20 s of compute at 1 GFLOP per run, between 3 and 20 runs."""
    return int(min(20, max(3, round(20 / max(gflops, 1e-3)))))


def format_counts(table) -> str:
    """Plain text, fixed formatting, counts only: the deterministic part of a table (notebooks check it)."""
    lines = [f"{'model':<16}{'family':<12}{'input':>12}{'params (M)':>12}{'GFLOPs':>10}"]
    for row in table.itertuples(index=False):
        clip = f"{row.frames}x{row.image_size}x{row.image_size}"
        lines.append(f"{row.model:<16}{row.family:<12}{clip:>12}{row.params_m:>12.2f}{row.gflops:>10.2f}")
    return "\n".join(lines)


def _model_name(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())


def _check_name(name: str) -> None:
    allowed = model_names()
    if name not in allowed:
        raise ValueError(f"name must be one of {allowed}, got {name!r}")


def _check_input(value: Any) -> tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"input_override must be (num_frames, image_size) of positive ints, got {value!r}")
    return int(value[0]), int(value[1])
