"""tvn_frames_ablation (TVN paper, arXiv 1910.06961): how do accuracy and runtime change with the number of input
frames, on scene-like and on motion-like classes, and does forcing the search to 16 frames ("TVN-16 frames") pay off?

One fixed TVN is trained at each frame count over seeds, once per class kind (the paper compares two datasets, so each
kind is its own task); then the same search runs twice on all classes, free to pick its frames and forced to 16, with
the same ``search`` fields (P, R and the FLOP cap in ``search.constraints``). The exact ``SearchConfig`` of each
search is ``search_configs``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config as config_module
from videonas.checks import check_choice, quote
from videonas.experiments import answers, experiment, fields, prose, summaries, tvn_common
from videonas.experiments.arms import Arm, arm_config
from videonas.experiments.variants import train_variants, Variant
from videonas.genome.tvn import TVNGenome
from videonas.task import Budget

NAME = "tvn_frames_ablation"
STORE = "search.sqlite"
FORCED_FRAMES = 16  # the paper's "TVN-16 frames"
ARMS = ("free", f"{FORCED_FRAMES}-frames")
SEARCH_SET_HERE = ("name", "store", "seed")  # both arms share search.strategy


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




@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields both searches share (space, strategy, task, budget, constraints,
    candidates, executor); the search's task and executor also train the frame-count variants (``seeds``,
    ``frame_counts``, ``budget``) of ``genome``; ``latency_runtime`` times them."""

    search: Mapping[str, Any]
    search_seeds: tuple[int, ...]
    seeds: tuple[int, ...]
    frame_counts: tuple[int, ...]
    budget: Budget
    genome: Any = None
    class_kinds: Mapping[str, str] | None = None
    latency_runtime: str = "onnxruntime"
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: tvn_common.check_search(value, where, set_here=SEARCH_SET_HERE),
            "search_seeds": fields.parse_seeds, "seeds": fields.parse_seeds, "frame_counts": _frame_counts,
            "budget": lambda value, where: Budget.from_dict(value, path=where),
            "genome": tvn_common.check_genome_choice, "class_kinds": _class_kinds, "latency_runtime": fields.parse_runtime,
            "resume": fields.parse_flag})


def search_configs(config: Config, *, output_dir: str | Path | None) -> dict[tuple[str, int], Any]:
    """``{(arm label, seed): SearchConfig}``: the free and the forced search per seed, in their store."""

    store = tvn_common.folder_of(NAME, output_dir) / STORE
    shared = config_module.SearchConfig.from_dict({"name": "shared", "store": str(store), **config.search},
                                                  path="config.search")
    space = shared.space.to_dict()
    forced = {**space, "options": {**space["options"], "frame_counts": [FORCED_FRAMES]}}
    arms = [Arm(ARMS[0], shared.strategy.name, shared.strategy.options),
            Arm(ARMS[1], shared.strategy.name, shared.strategy.options, space=forced)]
    return {(arm.label, seed): arm_config(config.search, arm, seed=seed, store=store)
            for arm in arms for seed in config.search_seeds}


def first_rounds(config: Config) -> str:
    """The first genomes of both searches with the first search seed: the text the notebook checks."""
    configs = search_configs(config, output_dir=None)
    return tvn_common.first_rounds({key: chosen for key, chosen in configs.items()
                                    if key[1] == config.search_seeds[0]})


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
    ``config.frame_counts`` and one task per class kind of the search's data."""
    shared = next(iter(search_configs(config, output_dir=output_dir).values()))
    dataset = shared.task.open_dataset()
    base, source = tvn_common.base_genome(config.genome, default=tvn_common.FRAMES_TVN,
                                          folder=tvn_common.folder_of(NAME, output_dir))
    tasks = tasks_by_kind(shared.task.to_dict(), class_kinds=config.class_kinds or dataset.class_kinds)
    return Plan(shared.task, dataset, base, source, frame_variants(base, config.frame_counts), tasks)


def costs_text(config: Config, *, output_dir: str | Path | None = None) -> str:
    """The base TVN, the tasks, and each frame count's parameters and FLOPs (deterministic): the text the notebook
    checks."""
    chosen = plan(config, output_dir=output_dir)
    rows = tvn_common.costs(chosen.variants, num_classes=len(chosen.dataset.class_names))
    return (f"base TVN: {chosen.source}; tasks: {', '.join(chosen.tasks)}; {len(chosen.dataset.class_names)} classes "
            f"in all\n{tvn_common.costs_text(rows)}")


def frames_verdicts(runs: Any, *, tasks: Sequence[str], frame_counts: Sequence[int]) -> list[Any]:
    """The frames questions on a ``VariantRuns`` of ``frame_variants``: most against fewest frames, scene classes
    (flat?) and motion classes (rising?), for the kinds the data has."""
    few, many = f"{frame_counts[0]} frames", f"{frame_counts[-1]} frames"
    questions = {"scene": "tvn_frames_scene_flat", "motion": "tvn_frames_motion_rising"}
    return [runs.verdict(questions[kind], a=(many, kind), b=(few, kind)) for kind in questions if kind in tasks]


def motion_note(searches: Any, *, labels: Mapping[str, str]) -> str:
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


def answers_of(runs: Any, searches: Any, *, tasks: Sequence[str], frame_counts: Sequence[int],
               latency: Sequence[Mapping[str, Any]], runtime: str, num_classes: int) -> tuple[list[Any], str]:
    """The verdicts (``frames_verdicts``, then arm ``"free"`` against arm ``"16-frames"``) and the conclusion, with
    the latency at the fewest and the most frames."""
    verdicts = [*frames_verdicts(runs, tasks=tasks, frame_counts=frame_counts),
                searches.verdict("tvn_frames_forced16", a=ARMS[0], b=ARMS[1])]
    notes = [summaries.chance_note(searches.top_score(ARMS[0]), num_classes=num_classes),
             f"Latency on {runtime}: {tvn_common.latency_text(latency[0])} at {frame_counts[0]} frame(s), "
             f"{tvn_common.latency_text(latency[-1])} at {frame_counts[-1]}.",
             motion_note(searches, labels={ARMS[0]: "free", ARMS[1]: f"forced to {FORCED_FRAMES}"})]
    return verdicts, prose.conclusion(verdicts, notes=notes)


@dataclasses.dataclass
class Details:
    """What ``run`` computed: the frame-count runs, their latency and the two searches."""

    runs: Any
    latency: list[dict[str, Any]]
    searches: Any

    def tables(self) -> list[Any]:
        """The frame-count runs and the searches' summary, as tables rounded for reading."""
        import pandas  # deferred: heavy start-up

        return [pandas.DataFrame(self.runs.table()).round(3), pandas.DataFrame(self.searches.summary()).round(3)]


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Train the frame-count variants, time them, run both searches (resumed when ``config.resume``), judge, plot and
    write ``results.json`` in the output folder."""
    import matplotlib.pyplot  # deferred: heavy start-up

    from videonas.data import DatasetSpec
    from videonas.data.embedded import scene_ceiling
    from videonas.plots.ablation import plot_frames_ablation

    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    configs = search_configs(config, output_dir=folder)
    chosen = plan(config, output_dir=folder)
    executor = next(iter(configs.values())).executor
    class_names = chosen.dataset.class_names
    latency = tvn_common.costs(chosen.variants, num_classes=len(class_names), runtime=config.latency_runtime,
                               threads=chosen.task.threads)
    runs = train_variants(chosen.variants, tasks=chosen.tasks, seeds=config.seeds, budget=config.budget.to_dict(),
                          executor=executor.kind, executor_options=executor.options)
    searches = tvn_common.run_searches(configs)
    verdicts, conclusion = answers_of(runs, searches, tasks=list(chosen.tasks), frame_counts=config.frame_counts,
                                      latency=latency, runtime=config.latency_runtime, num_classes=len(class_names))
    embedded = DatasetSpec.from_value(chosen.task.dataset).format == "embedded"
    figure = plot_frames_ablation(
        runs, frame_counts=config.frame_counts, tasks=list(chosen.tasks),
        latency_ms=[row["latency_ms"] for row in latency], runtime=config.latency_runtime,
        chance={kind: 1 / len(task.get("classes") or class_names) for kind, task in chosen.tasks.items()},
        ceiling={"scene": scene_ceiling()} if embedded else None)
    result = experiment.finish(
        folder, title="TVN: frames ablation", question="How do accuracy and runtime depend on the number of frames, "
        "for scene-like and motion-like classes, and does forcing 16 frames help?",
        headline=answers.verdict_rows(verdicts), conclusion=conclusion, verdicts=verdicts,
        figures={"frames_ablation.png": figure},
        deterministic="Deterministic: parameter and FLOP counts and the searches' first-round genomes (checked "
        "above). Accuracies are seeded but not bit-exact (multi-threaded float reduction order); latencies vary with "
        "the machine.",
        extra={"genome": chosen.base.to_dict(), "source": chosen.source, "ablation": runs.table(), "latency": latency,
               "searches": searches.summary()},
        outputs={"store": folder / STORE}, dataset=chosen.dataset, details=Details(runs, latency, searches))
    matplotlib.pyplot.close(figure)  # shown by result.show(), not again when the cell ends
    return result
