"""What the TVN notebooks share: the base network, its frame-count and scaling variants, per-kind tasks, the cost of
each variant (parameters, FLOPs and latency on the runtime it would ship on) and the found TVN against hand-made
networks at its own input."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas.experiments.prose import conclusion
from videonas.experiments.summaries import chance_note
from videonas.experiments.variants import Variant
from videonas.genome.tvn import TVNBlock, TVNGenome

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


def base_genome(choice: Any, *, default: TVNGenome, found: str | Path | None = None) -> tuple[TVNGenome, str]:
    """``(genome, where it came from)``: ``None`` -> ``default``; ``"found"`` -> the genome file ``found`` (what
    tvn_search wrote; ``default`` when absent); a published name (``"TVN-1"``); or a genome mapping."""
    from videonas.genome import published

    if choice is None:
        return default, "hand-picked"
    if choice == "found":
        path = Path(found) if found is not None else None
        if path is not None and path.is_file():
            return TVNGenome.from_json(path.read_text()), f"found by tvn_search ({path.parent.name})"
        return default, f"hand-picked ({path} not found)"
    if isinstance(choice, str):
        return published.load(choice), choice
    if isinstance(choice, Mapping):
        return TVNGenome.from_dict({**choice, "family": "tvn"}), "given"
    raise ValueError(f"genome must be None, 'found', a published TVN name or a genome mapping, got {choice!r}")


def tasks_by_kind(task: Mapping[str, Any], *, class_kinds: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """One task per class kind (``{"scene": task restricted to the scene classes, ...}``), as the paper compares a
    scene-like dataset with a motion-like one; without kinds, one task ``"all"``."""
    kinds = sorted(set(class_kinds.values()))
    if not kinds:
        return {"all": dict(task)}
    return {kind: {**task, "classes": sorted(name for name, k in class_kinds.items() if k == kind)} for kind in kinds}


def frame_variants(base: TVNGenome, frame_counts: Sequence[int]) -> list[Variant]:
    """The same blocks at each frame count (labels ``"<n> frames"``)."""
    if not frame_counts or sorted(set(frame_counts)) != list(frame_counts):
        raise ValueError(f"frame_counts must be increasing and distinct, got {list(frame_counts)}")
    return [Variant(f"{count} frames", genome=dataclasses.replace(base, num_frames=count)) for count in frame_counts]


def scaled_variants(base: TVNGenome, phis: Sequence[float]) -> tuple[list[Variant], list[dict[str, Any]]]:
    """The base and, per ``phi``, its resolution-, width-, depth-only and compound variants at matched nominal FLOP
    growth (``videonas.scale.scaling_variants``); returns the variants and their factors (labels ``"width phi=2"``)."""
    from videonas.scale import scaling_variants

    variants, factors = [Variant("base", genome=base)], [{"variant": "base", "resolution": 1.0, "width": 1.0,
                                                           "depth": 1.0}]
    for phi in phis:
        for label, (scale, genome) in scaling_variants(base, phi=phi).items():
            if label != "base":
                variants.append(Variant(f"{label} phi={phi:g}", genome=genome))
                factors.append({"variant": f"{label} phi={phi:g}", **{k: round(v, 4) for k, v in scale.items()}})
    return variants, factors


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
          threads: int | None = None, num_frames: int | None = None, image_size: int | None = None
          ) -> list[dict[str, Any]]:
    """Parameters and FLOPs (deterministic) of each variant, and its batch-1 latency on ``runtime`` (median of
    ``runs``; ``None``: no timing; a model too large to convert for a deploy runtime gets ``None`` and a note). A
    genome brings its own input; a named model is built at ``num_frames`` x ``image_size``."""
    import keras

    from videonas import measure, models
    from videonas.deploy import runtimes

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
            timing = runtimes.measure_latency(model, runs=runs, runtime=runtime, threads=threads)
            row.update(latency_ms=float(timing["median_ms"]), runtime=runtime)
        rows.append(row)
    keras.backend.clear_session()
    return rows


def against_baselines(runs: Any, latency: Sequence[Mapping[str, Any]], *, tvn_label: str, baselines: Sequence[str],
                      task: str) -> list[Any]:
    """Per baseline, at the same input: is the TVN about as accurate (test scores paired by seed) and how much faster
    (latency ratio on the deploy runtime, one measurement)? Each verdict's question names the baseline."""
    from videonas.experiments import claims

    ms = {row["variant"]: row["latency_ms"] for row in latency}
    verdicts = []
    for name in baselines:
        for verdict in (runs.verdict("tvn_accuracy_vs_big", a=(tvn_label, task), b=(name, task)),
                        claims.ask_exact("tvn_speed", a=ms[name], b=ms[tvn_label])):
            verdicts.append(dataclasses.replace(verdict, question=f"{verdict.question[:-1]} ({name}, same input)?"))
    return verdicts


@dataclasses.dataclass
class HandMade:
    """The found TVN and hand-made baselines retrained over seeds at the found TVN's input (``runs``), and the cost
    of each (``latency``: those networks at that input, then the published presets at the embedded input)."""

    runs: Any
    latency: list[dict[str, Any]]
    tvn_label: str
    baselines: list[str]
    presets: list[str]

    def table(self) -> Any:
        """Cost and mean test accuracy of each network, one row each (presets are timed, not trained)."""
        import pandas

        return pandas.DataFrame(self.latency).merge(pandas.DataFrame(self.runs.table()), on="variant", how="left",
                                                    suffixes=("", " trained"))

    def references(self) -> list[dict[str, Any]]:
        """The networks as labelled points of an accuracy-latency plot (``plots.pareto.plot_pareto``)."""
        scores = {row["variant"]: row["mean test"] for row in self.runs.table()}
        return [{"label": row["variant"], "latency_ms": row["latency_ms"], "accuracy": scores.get(row["variant"]),
                 "group": "TVN presets" if row["variant"] in self.presets else "retrained, mean test"}
                for row in self.latency if row.get("latency_ms") is not None]

    def verdicts(self, *, task: str = "same input") -> list[Any]:
        return against_baselines(self.runs, self.latency, tvn_label=self.tvn_label, baselines=self.baselines,
                                 task=task)


def against_hand_made(found: TVNGenome, *, task: Mapping[str, Any], seeds: Sequence[int], budget: Mapping[str, Any],
                      baselines: Sequence[str], width: float, presets: Sequence[str], preset_image_size: int,
                      num_classes: int, runtime: str, runs: int, threads: int | None, executor: Any = "subprocess",
                      executor_options: Mapping[str, Any] | None = None) -> HandMade:
    """Same input, same recipe: ``found`` and each baseline (at ``width``) trained over ``seeds`` at the found TVN's
    input with ``budget``, timed on ``runtime`` at that input; the ``presets`` timed at ``preset_image_size``."""
    from videonas.experiments.variants import train_variants
    from videonas.genome import published

    same_input = {**task, "num_frames": found.num_frames, "image_size": found.image_size,
                  "frame_stride": found.frame_stride}
    contenders = [Variant("found TVN", genome=found),
                  *[Variant(f"{name} x{width:g}", model=name, model_options={"width_multiplier": width})
                    for name in baselines]]
    trained = train_variants(contenders, tasks={"same input": same_input}, seeds=seeds, budget=budget,
                             executor=executor, executor_options=executor_options)
    latency = costs(contenders, num_classes=num_classes, runtime=runtime, runs=runs, threads=threads,
                    num_frames=found.num_frames, image_size=found.image_size)
    latency += costs([Variant(name, genome=at_input(published.load(name), image_size=preset_image_size))
                      for name in presets], num_classes=num_classes, runtime=runtime, runs=runs, threads=threads)
    return HandMade(runs=trained, latency=latency, tvn_label=contenders[0].label,
                    baselines=[variant.label for variant in contenders[1:]], presets=list(presets))


def shape(genome: TVNGenome) -> str:
    """A TVN's input and depth in a few characters (``"4x32px/3 blocks"``), for first-round listings."""
    return f"{genome.num_frames}x{genome.image_size}px/{len(genome.blocks)} blocks"


def _ms(row: Mapping[str, Any]) -> str:
    value = row.get("latency_ms")
    return "not measured" if value is None else f"{value:.2f} ms"


def search_answers(searches: Any, hand_made: HandMade, *, found: tuple[int, Any, TVNGenome], runtime: str,
                   num_classes: int) -> tuple[list[Any], str]:
    """``tvn_search``'s verdicts (arm ``"evolution"`` against arm ``"random"``, then the found TVN against the
    hand-made networks) and its conclusion; ``found`` is ``ArmRuns.overall_best("evolution")``."""
    _, trial, genome = found
    verdicts = [searches.verdict("tvn_evolution_vs_random", a="evolution", b="random"), *hand_made.verdicts()]
    notes = [chance_note(searches.top_score("evolution"), num_classes=num_classes),
             f"The found TVN has {trial.params:,} parameters and takes {_ms(hand_made.latency[0])} on {runtime} "
             f"({genome.num_frames} frames at {genome.image_size} px)."]
    return verdicts, conclusion(verdicts, notes=notes)


def frames_answers(runs: Any, searches: Any, *, tasks: Sequence[str], frame_counts: Sequence[int],
                   latency: Sequence[Mapping[str, Any]], runtime: str, num_classes: int) -> tuple[list[Any], str]:
    """``tvn_frames_ablation``'s verdicts (``frames_verdicts``, then arm ``"free"`` against arm ``"16-frames"``) and
    its conclusion, with the latency at the fewest and the most frames."""
    verdicts = [*frames_verdicts(runs, tasks=tasks, frame_counts=frame_counts),
                searches.verdict("tvn_frames_forced16", a="free", b="16-frames")]
    notes = [chance_note(searches.top_score("free"), num_classes=num_classes),
             f"Latency on {runtime}: {_ms(latency[0])} at {frame_counts[0]} frame(s), {_ms(latency[-1])} at "
             f"{frame_counts[-1]}.", _motion_note(searches, labels={"free": "free", "16-frames": "forced to 16"})]
    return verdicts, conclusion(verdicts, notes=notes)


def _motion_note(searches: Any, *, labels: Mapping[str, str]) -> str:
    """How the searches' winners do on the motion classes (test top-1, mean over seeds): a comparison of frame
    counts says little if neither search learned motion."""
    means = {}
    for label, name in labels.items():
        motion = searches.scores_by_kind(label).get("motion") or {}
        if motion:
            means[name] = sum(motion.values()) / len(motion)
    if not means:
        return ""
    shown = ", ".join(f"{value:.2f} ({name})" for name, value in means.items())
    return f"On the motion classes the searches' winners reach test top-1 {shown}, mean over seeds."


def frames_verdicts(runs: Any, *, tasks: Sequence[str], frame_counts: Sequence[int]) -> list[Any]:
    """The frames questions on a ``VariantRuns`` of ``frame_variants``: most against fewest frames, scene classes
    (flat?) and motion classes (rising?), for the kinds the data has."""
    few, many = f"{frame_counts[0]} frames", f"{frame_counts[-1]} frames"
    questions = {"scene": "tvn_frames_scene_flat", "motion": "tvn_frames_motion_rising"}
    return [runs.verdict(questions[kind], a=(many, kind), b=(few, kind)) for kind in questions if kind in tasks]


DIMENSIONS = ("resolution", "width", "depth", "compound")


def scaling_chains(phis: Sequence[float]) -> dict[str, list[str]]:
    """The variant labels of each scaling dimension, by increasing ``phi`` (for ``plots.ablation.plot_scaling``)."""
    return {dimension: [f"{dimension} phi={phi:g}" for phi in phis] for dimension in DIMENSIONS}


def scaling_verdicts(runs: Any, *, phi: float, task: str = "all") -> list[Any]:
    """The scaling questions at ``phi``: width against depth, and compound against each seed's best single dimension."""
    label = {dimension: f"{dimension} phi={phi:g}" for dimension in DIMENSIONS}
    singles = runs.best_of([label["resolution"], label["width"], label["depth"]], task)
    return [runs.verdict("tvn_scaling_width_vs_depth", a=(label["width"], task), b=(label["depth"], task)),
            runs.verdict("tvn_scaling_compound", a=(label["compound"], task), b=singles)]


def scaling_answers(runs: Any, variants: Sequence[Variant], *, phi: float, source: str,
                    num_classes: int) -> tuple[list[Any], str]:
    """``tvn_scaling_ablation``'s verdicts (``scaling_verdicts`` at ``phi``) and its conclusion, which names the base
    TVN and warns when a variant's input is larger than the embedded 64-px frames (it only interpolates them)."""
    verdicts = scaling_verdicts(runs, phi=phi)
    top = max((row["mean test"] or 0.0 for row in runs.table()), default=0.0)
    notes = [f"Base TVN: {source}.", chance_note(top, num_classes=num_classes),
             "The embedded frames are 64 px, so inputs above 64 px only interpolate."
             if max(variant.genome.image_size for variant in variants) > 64 else ""]
    return verdicts, conclusion(verdicts, notes=notes)


def save_genome(genome: TVNGenome, path: str | Path) -> Path:
    """Write a genome as its JSON (what ``base_genome(..., found=path)`` reads back)."""
    path = Path(path)
    path.write_text(json.dumps(genome.to_dict(), indent=1))
    return path
