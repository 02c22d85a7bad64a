"""What the TVN experiments share: the hand-picked base networks, the choice of a base network (a declared input
when it is the one tvn_search found), the checks of their configurations, the cost of a network (parameters, FLOPs
and latency on the runtime it would ship on), and searches run as arms from their exact ``SearchConfig``s."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import families
from videonas.checks import check_int, quote
from videonas.deploy import runtimes
from videonas.experiments import fields
from videonas.experiments.arms import ArmRuns
from videonas.experiments.experiment import input_path
from videonas.experiments.variants import Variant
from videonas.genome import published
from videonas.genome.tvn import TVNBlock, TVNGenome
from videonas.search import run_search

# Hand-picked for the frames ablation: three cheap blocks at 32 px, each with a temporal conv, so that extra frames
# CAN be used.
FRAMES_TVN = TVNGenome(image_size=32, num_frames=1, frame_stride=1, blocks=(
    TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_kernel=3, filters=16, expand=2),
    TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_kernel=3, temporal_stride=2, filters=32, expand=2,
             squeeze=0.25, skip=True),
    TVNBlock(spatial_type="depth", spatial_kernel=3, spatial_stride=2, temporal_kernel=3, temporal_stride=2,
             filters=48, expand=2, context_gate=True),
))
# Hand-picked for the scaling ablation: two cheap blocks at 32 px, so every scaled variant stays at or under the
# embedded 64 px frames.
SCALING_TVN = TVNGenome(image_size=32, num_frames=2, frame_stride=2, blocks=(
    TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_kernel=2, filters=16, expand=2),
    TVNBlock(spatial_type="depth", spatial_kernel=3, spatial_stride=2, filters=32, expand=2, squeeze=0.25,
             context_gate=True, skip=True),
))
# The fields of a search that the experiment sets for each arm and seed, not the shared ``search`` mapping.
SET_PER_SEARCH = ("name", "store", "seed", "strategy")


def check_search(value: Any, path: str, *, set_here: Sequence[str] = SET_PER_SEARCH) -> dict[str, Any]:
    """The ``SearchConfig`` fields every TVN search of an experiment shares (``fields.parse_search``); the searches
    are always compared (free vs forced frames, evolution vs random), so ``max_epochs`` is required."""
    return fields.parse_search(value, path, family="tvn", set_here=set_here, compared=True)
FOUND_GENOME = "found_genome.json"  # what tvn_search writes and the scaling ablation may start from


def check_genome_choice(value: Any, path: str) -> Any:
    """``None``, ``"found"``, a published TVN name or a TVN genome mapping (see ``base_genome``)."""

    if value is None or value == "found":
        return value
    if isinstance(value, str):
        if value not in published.names() or families.of(value).name != "tvn":
            tvns = [name for name in published.names() if families.of(name).name == "tvn"]
            raise ValueError(f"{path} must be None, 'found', a published TVN ({', '.join(tvns)}) or a genome "
                             f"mapping, got {quote(value)}")
        return value
    if isinstance(value, Mapping):
        try:
            TVNGenome.from_dict({**value, "family": "tvn"})
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"{path}: {error}") from None
        return dict(value)
    raise ValueError(f"{path} must be None, 'found', a published TVN name or a genome mapping, got {quote(value)}")


def base_genome(choice: Any, *, default: TVNGenome, folder: str | Path | None = None) -> tuple[TVNGenome, str]:
    """``(genome, where it came from)``: ``None`` -> ``default``; ``"found"`` -> the genome tvn_search wrote, a
    declared input beside ``folder`` (an error saying to run tvn_search first when absent); a published name
    (``"TVN-1"``); or a genome mapping."""

    if choice is None:
        return default, "hand-picked"
    if choice == "found":
        if folder is None:
            raise ValueError("genome 'found' is tvn_search's result: it needs the experiment's output folder")
        path = input_path(folder, "tvn_search", FOUND_GENOME)
        return TVNGenome.from_json(path.read_text()), f"found by tvn_search ({path.parent.name})"
    if isinstance(choice, str):
        return published.load(choice), choice
    if isinstance(choice, Mapping):
        return TVNGenome.from_dict({**choice, "family": "tvn"}), "given"
    raise ValueError(f"genome must be None, 'found', a published TVN name or a genome mapping, got {choice!r}")


def folder_of(name: str, output_dir: str | Path | None) -> Path:
    """Where experiment ``name`` writes (``output_dir``, or ``runs/<name>`` under the project root), not created."""
    if output_dir is not None:
        return Path(output_dir)
    from videonas.report.index import project_root

    return project_root() / "runs" / name


def at_input(genome: TVNGenome, *, image_size: int) -> TVNGenome:
    """``genome`` at the smallest image size >= ``image_size`` (steps of 16) that its spatial strides allow: a
    published TVN timed at the embedded data's input."""
    for size in range(image_size, 321, 16):
        try:
            return dataclasses.replace(genome, image_size=size)
        except ValueError:
            continue
    raise ValueError(f"image_size: no size from {image_size} to 320 px fits the strides of {genome.key}")


def costs(variants: Sequence[Variant], *, num_classes: int, runtime: str | None = None, runs: int = 10,
          threads: int | None = None, num_frames: int | None = None, image_size: int | None = None,
          repeats: int = 1) -> list[dict[str, Any]]:
    """Parameters and FLOPs (deterministic) of each variant, and its batch-1 latency on ``runtime`` (median of
    ``runs``; ``None``: no timing; a model too large to convert for a deploy runtime gets ``None`` and a note). A
    genome brings its own input; a named model is built at ``num_frames`` x ``image_size``. With ``repeats`` > 1 the
    model is timed in that many fresh sessions of one conversion (``runtimes.measure_sessions``;
    ``latency_repeats_ms``: their medians, so a ratio of latencies can carry its run-to-run spread), and
    ``latency_ms`` is the median of those."""
    import keras

    check_int("repeats", repeats, 1, 1000)

    from videonas import measure, models

    rows = []
    for variant in variants:
        keras.backend.clear_session()
        if variant.genome is not None:
            model = models.build_model(variant.genome, num_classes=num_classes)
        else:
            model = models.create_model(variant.model, num_classes=num_classes, num_frames=num_frames,
                                        image_size=image_size, **dict(variant.model_options))
        shape = model.inputs[0].shape
        row: dict[str, Any] = {"variant": variant.label, "input": f"{shape[1]}x{shape[2]}px",
                               "params": measure.count_params(model), "MFLOPs": measure.count_flops(model) / 1e6}
        too_large = None if runtime in (None, "keras") else runtimes.too_large_to_convert(model)
        if too_large:  # a row without a figure, saying why, rather than a kernel killed for memory
            row.update(latency_ms=None, runtime=runtime, note=too_large)
        elif runtime is not None:
            medians = [float(timing["median_ms"]) for timing in runtimes.measure_sessions(
                model, sessions=repeats, runs=runs, runtime=runtime, threads=threads)]
            row.update(latency_ms=statistics.median(medians), runtime=runtime)
            if repeats > 1:
                row["latency_repeats_ms"] = medians
        rows.append(row)
    keras.backend.clear_session()
    return rows


def costs_text(rows: Sequence[Mapping[str, Any]]) -> str:
    """``costs`` rows as fixed-width text, two decimals (what a notebook's checked cell prints)."""
    import pandas  # deferred: heavy start-up

    return pandas.DataFrame(rows).round(2).to_string(index=False)


def shape(genome: TVNGenome) -> str:
    """A TVN's input and depth in a few characters (``"4x32px/3 blocks"``), for first-round listings."""
    return f"{genome.num_frames}x{genome.image_size}px/{len(genome.blocks)} blocks"


def latency_text(row: Mapping[str, Any]) -> str:
    """A cost row's latency for prose (``"2.43 ms"``, or ``"not measured"``)."""
    value = row.get("latency_ms")
    return "not measured" if value is None else f"{value:.2f} ms"


def first_rounds(configs: Mapping[tuple[str, int], Any]) -> str:
    """One line per search (``"<label> seed <seed>: key (shape), ..."``): the genomes each ``SearchConfig`` proposes
    first, fixed by its seed alone (no training), which a notebook checks to show that a run repeats."""
    lines = []
    for (label, seed), chosen in configs.items():
        shown = [f"{genome.key} ({shape(genome)})" for genome in chosen.build_strategy().ask()]
        lines.append(f"{label} seed {seed}: {', '.join(shown)}")
    return "\n".join(lines)


def run_searches(configs: Mapping[tuple[str, int], Any], *, progress: bool = True) -> Any:
    """Run (or resume) every search of ``configs`` (``{(arm label, seed): SearchConfig}``) on one executor built from
    the first one's configuration and closed at the end; returns their ``ArmRuns``."""

    if not configs:
        raise ValueError("configs must hold at least one search, got none")
    runner = next(iter(configs.values())).executor.build()
    try:
        return ArmRuns({key: run_search(chosen, executor=runner, progress=progress)
                        for key, chosen in configs.items()})
    finally:
        runner.close()
