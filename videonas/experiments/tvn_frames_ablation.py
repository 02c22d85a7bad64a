"""tvn_frames_ablation (TVN paper, arXiv 1910.06961): how do accuracy and runtime change with the number of input
frames, on scene-like and on motion-like classes? A description, without verdicts.

One fixed TVN is trained at each frame count over seeds, once per class kind (the paper compares two datasets, so each
kind is its own task), and timed. That more frames help the motion classes and not the scene ones is how the embedded
data set is built, so no verdict rests on it. The paper's own frames claims are about what the *search* picks (few
frames on scene data, more on motion data; "TVN-16 frames" hardly more accurate): those are answered on the tabulated
benchmark by ``search_strategies`` (``videonas.experiments.table_frames``, which judges the forced search only where
its winners learn motion). The real free and forced-16 searches this experiment ran before learned no motion at their
budget.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config as config_module
from videonas.checks import check_choice, quote
from videonas.experiments import experiment, fields, prose, summaries, tvn_common
from videonas.experiments.variants import train_variants, Variant
from videonas.genome.tvn import TVNGenome
from videonas.task import Budget, TrainTask

NAME = "tvn_frames_ablation"


def _frame_counts(value: Any, path: str) -> tuple[int, ...]:
    counts = fields.parse_seeds(value, path)
    if 0 in counts or list(counts) != sorted(counts):
        raise ValueError(f"{path} must be increasing and distinct positive frame counts, got {quote(value)}")
    return counts


def _class_kinds(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{path} must map class names to 'scene' or 'motion', got {quote(value)}")
    for name, kind in value.items():
        check_choice(f"{path}.{name}", kind, ("scene", "motion"))
    return dict(value)


def _task(value: Any, path: str) -> TrainTask:
    return TrainTask.from_dict(value, path=path)


def _executor(value: Any, path: str) -> Any:
    return config_module.ExecutorConfig.from_value(value, path=path)


@dataclasses.dataclass(frozen=True)
class Config:
    """``task`` (a ``TrainTask``: data set and recipe) and ``executor`` train the frame-count variants (``seeds``,
    ``frame_counts``, ``budget``) of ``genome``; ``latency_runtime`` times them; ``resume`` keeps the finished
    trainings of an unfinished earlier run."""

    task: TrainTask
    seeds: tuple[int, ...]
    frame_counts: tuple[int, ...]
    budget: Budget
    executor: Any = None
    genome: Any = None
    class_kinds: Mapping[str, str] | None = None
    latency_runtime: str = "onnxruntime"
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        parsed = experiment.parse_config(cls, data, path=path, parsers={
            "task": _task, "executor": _executor, "seeds": fields.parse_seeds, "frame_counts": _frame_counts,
            "budget": lambda value, where: Budget.from_dict(value, path=where),
            "genome": tvn_common.check_genome_choice, "class_kinds": _class_kinds, "latency_runtime": fields.parse_runtime,
            "resume": fields.parse_flag})
        return parsed if parsed.executor is not None else dataclasses.replace(
            parsed, executor=config_module.ExecutorConfig.from_value("subprocess", path=f"{path}.executor"))


def frame_variants(base: TVNGenome, frame_counts: Sequence[int]) -> list[Variant]:
    """The same blocks at each frame count (labels ``"<n> frames"``)."""
    if not frame_counts or sorted(set(frame_counts)) != list(frame_counts):
        raise ValueError(f"frame_counts must be increasing and distinct, got {list(frame_counts)}")
    return [Variant(f"{count} frames", genome=dataclasses.replace(base, num_frames=count)) for count in frame_counts]


def tasks_by_kind(task: Mapping[str, Any], *, class_kinds: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """One task per class kind (``{"scene": task restricted to the scene classes, ...}``), as the paper compares a
    scene-like dataset with a motion-like one; without kinds, one task ``"all"``."""
    kinds = sorted(set(class_kinds.values()))
    if not kinds:
        return {"all": dict(task)}
    return {kind: {**task, "classes": sorted(name for name, k in class_kinds.items() if k == kind)} for kind in kinds}


@dataclasses.dataclass
class Plan:
    """What the configuration fixes before anything trains: the base TVN, its frame-count variants, the tasks."""

    task: Any
    dataset: Any
    base: TVNGenome
    source: str
    variants: list[Variant]
    tasks: dict[str, dict[str, Any]]


def plan(config: Config, *, output_dir: str | Path | None = None) -> Plan:
    """The base TVN (``config.genome``; ``"found"`` is tvn_search's, beside the output folder), its variants at
    ``config.frame_counts`` and one task per class kind of the task's data."""
    dataset = config.task.open_dataset()
    base, source = tvn_common.base_genome(config.genome, default=tvn_common.FRAMES_TVN,
                                          folder=tvn_common.folder_of(NAME, output_dir))
    tasks = tasks_by_kind(config.task.to_dict(), class_kinds=config.class_kinds or dataset.class_kinds)
    return Plan(config.task, dataset, base, source, frame_variants(base, config.frame_counts), tasks)


def costs_text(config: Config, *, output_dir: str | Path | None = None) -> str:
    """The base TVN, the tasks, and each frame count's parameters and FLOPs (deterministic): the text the notebook
    checks."""
    chosen = plan(config, output_dir=output_dir)
    rows = tvn_common.costs(chosen.variants, num_classes=len(chosen.dataset.class_names))
    return (f"base TVN: {chosen.source}; tasks: {', '.join(chosen.tasks)}; {len(chosen.dataset.class_names)} classes "
            f"in all\n{tvn_common.costs_text(rows)}")


def description(runs: Any, *, tasks: Sequence[str], frame_counts: Sequence[int],
                latency: Sequence[Mapping[str, Any]], runtime: str) -> str:
    """The conclusion: each kind's mean test top-1 at the fewest and the most frames, the latency at both, and
    where the paper's frames claims are answered."""
    few, many = f"{frame_counts[0]} frames", f"{frame_counts[-1]} frames"
    means = {row["variant"] + "/" + row["task"]: row["mean test"] for row in runs.table()}
    parts = [f"{kind}: {means.get(few + '/' + kind, float('nan')):.2f} at {few}, "
             f"{means.get(many + '/' + kind, float('nan')):.2f} at {many}" for kind in tasks]
    notes = [f"Mean test top-1 over seeds, {'; '.join(parts)}.",
             f"Latency on {runtime}: {tvn_common.latency_text(latency[0])} at {frame_counts[0]} frame(s), "
             f"{tvn_common.latency_text(latency[-1])} at {frame_counts[-1]}.",
             "A description, not a verdict: the embedded data set is built so that only the motion classes need "
             "more than one frame. The paper's claims, that the search picks more frames on motion data and that "
             "forcing many frames hardly helps, are answered on the tabulated benchmark (search_strategies)."]
    return prose.conclusion([], notes=notes)


@dataclasses.dataclass
class Details:
    """What ``run`` computed: the frame-count runs and their latency."""

    runs: Any
    latency: list[dict[str, Any]]

    def tables(self) -> list[Any]:
        """The frame-count runs, as a table rounded for reading."""
        import pandas  # deferred: heavy start-up

        return [pandas.DataFrame(self.runs.table()).round(3)]


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Train the frame-count variants, time them, describe, plot and write ``results.json`` in the output folder."""
    import matplotlib.pyplot  # deferred: heavy start-up

    from videonas.data import DatasetSpec
    from videonas.data.embedded import scene_ceiling
    from videonas.plots.ablation import plot_frames_ablation

    folder = summaries.output_folder(NAME, output_dir=output_dir, resume=config.resume)
    chosen = plan(config, output_dir=folder)
    class_names = chosen.dataset.class_names
    latency = tvn_common.costs(chosen.variants, num_classes=len(class_names), runtime=config.latency_runtime,
                               threads=chosen.task.threads)
    runs = train_variants(chosen.variants, tasks=chosen.tasks, seeds=config.seeds, budget=config.budget.to_dict(),
                          executor=summaries.stored_trainings(config.executor.build(), folder))
    conclusion = description(runs, tasks=list(chosen.tasks), frame_counts=config.frame_counts, latency=latency,
                             runtime=config.latency_runtime)
    embedded = DatasetSpec.from_value(chosen.task.dataset).format == "embedded"
    figure = plot_frames_ablation(
        runs, frame_counts=config.frame_counts, tasks=list(chosen.tasks),
        latency_ms=[row["latency_ms"] for row in latency], runtime=config.latency_runtime,
        chance={kind: 1 / len(task.get("classes") or class_names) for kind, task in chosen.tasks.items()},
        ceiling={"scene": scene_ceiling()} if embedded else None)
    result = experiment.finish(
        folder, title="TVN: frames ablation", question="How do accuracy and runtime depend on the number of frames, "
        "for scene-like and motion-like classes?",
        headline=[], conclusion=conclusion, verdicts=[], figures={"frames_ablation.png": figure},
        deterministic="Deterministic: parameter and FLOP counts (checked above). Accuracies are seeded but not "
        "bit-exact (multi-threaded float reduction order); latencies vary with the machine.",
        extra={"genome": chosen.base.to_dict(), "source": chosen.source, "ablation": runs.table(), "latency": latency},
        dataset=chosen.dataset, details=Details(runs, latency))
    matplotlib.pyplot.close(figure)  # shown by result.show(), not again when the cell ends
    return result
