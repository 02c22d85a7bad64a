"""tvn_search (TVN paper, arXiv 1910.06961): evolution under a runtime limit R and a parameter limit P finds a TVN;
how does it compare with hand-made networks? Whether evolution beats random search is the tabulated benchmark's
question (``search_strategies``, hundreds of seeds); an optional ``random`` arm here sets random search beside
evolution, judged only when its seeds can decide.

Every arm searches with the same ``search`` fields (space, task, budget, constraints, candidates), once per seed; the
exact ``SearchConfig`` of each search is ``search_configs``. The best evolution candidate on validation is the found
TVN (``found_genome.json``, the scaling ablation's declared input). It and the hand-made baselines are then compared by
``videonas.experiments.hand_made``: each with its learning rate chosen on validation, trained over
``comparison_seeds`` with ``baseline_budget``, at the found TVN's input and at ``common_input``, and timed
``latency_repeats`` times on the runtime R is measured on.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import checks, config as config_module, families, models
from videonas.checks import check_float, check_int, check_keys, quote
from videonas.experiments import answers, experiment, fields, hand_made as hand_made_module, protocol, prose
from videonas.experiments import summaries, tvn_common
from videonas.experiments.arms import Arm, arm_config
from videonas.genome import published
from videonas.genome.tvn import TVNGenome
from videonas.task import Budget

NAME = "tvn_search"
STORE = "search.sqlite"
EVOLUTION, RANDOM = "evolution", "random"  # the arm whose best is the found TVN; the optional arm set beside it
SOURCE_FPS = 16  # the embedded videos' frame rate, for the found TVN's drawing


def _search(value: Any, path: str) -> dict[str, Any]:
    search = tvn_common.check_search(value, path)
    if (search.get("constraints") or {}).get("max_latency_ms") is None:
        raise ValueError(f"{path}.constraints.max_latency_ms is R, which a TVN search needs, got "
                         f"{quote(search.get('constraints'))}")
    return search


def _arms(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or EVOLUTION not in value:
        raise ValueError(f"{path} must map arm labels to strategies, with {EVOLUTION} (the arm whose best is the found "
                         f"TVN; {RANDOM}, when present, is set beside it), got {quote(value)}")
    for label, strategy in value.items():
        if not isinstance(label, str) or not label or "/" in label:
            raise ValueError(f"{path}: an arm label must be a non-empty name without '/', got {quote(label)}")
        fields.parse_strategy(strategy, f"{path}.{label}")
    return dict(value)


def _presets(value: Any, path: str) -> tuple[str, ...]:
    tvns = [name for name in published.names() if families.of(name).name == "tvn"]
    if isinstance(value, str) or not isinstance(value, Sequence) or any(name not in tvns for name in value):
        raise ValueError(f"{path} must be a list of published TVNs ({', '.join(tvns)}), got {quote(value)}")
    return tuple(value)


def _baselines(value: Any, path: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{path} must be a non-empty list of model names, got {quote(value)}")
    for index, name in enumerate(value):
        try:
            models.model_info(name)
        except (ValueError, KeyError) as error:
            raise ValueError(f"{path}[{index}]: {error}") from None
    return tuple(value)


def _positive(value: Any, path: str) -> float:
    check_float(path, value, 1e-6, 64.0)
    return float(value)


def _image_size(value: Any, path: str) -> int:
    check_int(path, value, 8, 1024)
    return value


def _rates(value: Any, path: str) -> tuple[float, ...]:
    """The learning-rate grid each network's rate is chosen from (on validation, once per network): required here,
    since every network of the comparison gets its own rate."""
    if value is None or (isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and not value):
        raise ValueError(f"{path} must be a non-empty list of learning rates, got {quote(value)}")
    return fields.parse_learning_rates(value, path)


def _seed(value: Any, path: str) -> int:
    check_int(path, value, 0, 2**32 - 1)
    return value


def _common_input(value: Any, path: str) -> dict[str, int] | None:
    """``None`` (compare at the found TVN's input only) or ``{num_frames, image_size, frame_stride}``."""
    if value is None:
        return None
    check_keys(path, value, ("num_frames", "image_size", "frame_stride"))
    check_int(f"{path}.num_frames", value["num_frames"], 1, checks.MAX_FRAMES)
    check_int(f"{path}.image_size", value["image_size"], checks.MIN_IMAGE_SIZE, checks.MAX_IMAGE_SIZE)
    check_int(f"{path}.frame_stride", value["frame_stride"], 1, 64)
    return dict(value)


def _clips(value: Any, path: str) -> int | None:
    if value is not None:
        check_int(path, value, 1, 10**9)
    return value


def _repeats(value: Any, path: str) -> int:
    check_int(path, value, 1, 100)
    return value


COMMON_INPUT = {"num_frames": 8, "image_size": 64, "frame_stride": 2}  # 8 frames span 1 s of the 16-fps videos


@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields every arm shares (P and R in ``constraints``); ``arms``: label ->
    strategy; ``seeds``: one search per arm and seed. The rest is the comparison with hand-made networks: the found
    TVN and each of ``baselines`` (at ``baseline_width``) get a learning rate chosen from ``learning_rates`` on
    validation (one training each with ``selection_seed``), then train over ``comparison_seeds`` with
    ``baseline_budget`` (``patience``: until validation stops improving) at the found TVN's input and at
    ``common_input`` (``None``: only the former); every network is timed ``latency_repeats`` times.
    ``comparison_train_clips``: the comparison trains every network on this many training clips (the task's fixed
    subset, ``max_train_clips``) instead of the search's, so that ten seeds of each network fit the time; validation
    and test stay whole."""

    search: Mapping[str, Any]
    arms: Mapping[str, Any]
    seeds: tuple[int, ...]
    presets: tuple[str, ...]
    baselines: tuple[str, ...]
    baseline_width: float
    baseline_budget: Budget
    comparison_seeds: tuple[int, ...]
    learning_rates: tuple[float, ...] = protocol.RATES
    selection_seed: int = 0
    common_input: Mapping[str, int] | None = dataclasses.field(default_factory=lambda: dict(COMMON_INPUT))
    latency_repeats: int = 5
    preset_image_size: int = 64
    comparison_train_clips: int | None = None
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "search": _search, "arms": _arms, "seeds": fields.parse_seeds, "presets": _presets,
            "baselines": _baselines, "baseline_width": _positive,
            "baseline_budget": lambda value, where: Budget.from_dict(value, path=where),
            "comparison_seeds": fields.parse_seeds, "learning_rates": _rates, "selection_seed": _seed,
            "common_input": _common_input, "latency_repeats": _repeats, "preset_image_size": _image_size,
            "comparison_train_clips": _clips, "resume": fields.parse_flag})


def search_configs(config: Config, *, output_dir: str | Path | None) -> dict[tuple[str, int], Any]:
    """``{(arm label, seed): SearchConfig}``: every search ``run`` starts, in its store under ``output_dir``."""

    store = tvn_common.folder_of(NAME, output_dir) / STORE
    configs = {}
    for label, value in config.arms.items():
        strategy = config_module.StrategyConfig.from_value(value, path=f"config.arms.{label}")
        arm = Arm(label, strategy.name, strategy.options)
        for seed in config.seeds:
            configs[label, seed] = arm_config(config.search, arm, seed=seed, store=store)
    return configs


def first_rounds(config: Config) -> str:
    """Each search's first genomes (fixed by its seed): the text the notebook checks."""
    return tvn_common.first_rounds(search_configs(config, output_dir=None))


def answers_of(searches: Any, hand_made: Any, *, found: tuple[int, Any, TVNGenome], runtime: str,
               num_classes: int, max_params: int | None = None) -> tuple[list[Any], str]:
    """The verdicts (arm ``"evolution"`` against arm ``"random"`` where there is one and its seeds can decide, then
    the found TVN against the hand-made networks at each input) and the conclusion; ``found`` is
    ``ArmRuns.overall_best("evolution")``, ``hand_made`` a ``hand_made.HandMade`` and ``max_params`` is P."""
    _, trial, genome = found
    arms = searches.verdict("tvn_evolution_vs_random", a=EVOLUTION, b=RANDOM) if RANDOM in searches.labels else None
    # Too few seeds to decide is no evidence either way: a description, and the question goes to the table.
    verdicts = [arms, *hand_made.verdicts()] if arms is not None and arms.can_decide else hand_made.verdicts()
    if arms is None:
        described = ["Evolution against random search is the tabulated benchmark's question (search_strategies, "
                     "hundreds of seeds): this run searches with evolution only."]
    elif not arms.can_decide:
        described = [f"Evolution against random search, described rather than judged: {prose.short_result(arms)}; so "
                     f"few paired seeds cannot decide at any effect size, so the tabulated benchmark decides it "
                     f"(search_strategies, hundreds of seeds)."]
    else:
        described = []
    own = hand_made.cost(hand_made.tvn_label, hand_made.inputs[0])
    notes = [*described, summaries.chance_note(searches.top_score("evolution"), num_classes=num_classes),
             f"The found TVN has {trial.params:,} parameters and takes {tvn_common.latency_text(own)} on {runtime} "
             f"({genome.num_frames} frames at {genome.image_size} px).",
             *hand_made.conclusion_notes(max_params=max_params), *hand_made.speed_notes(runtime=runtime)]
    return verdicts, prose.conclusion(verdicts, notes=notes)


def save_genome(genome: TVNGenome, path: str | Path) -> Path:
    """Write a genome as its JSON (what ``tvn_common.base_genome("found", ...)`` reads back)."""
    path = Path(path)
    path.write_text(json.dumps(genome.to_dict(), indent=1))
    return path


@dataclasses.dataclass
class Details:
    """What ``run`` computed, for further analysis: the searches, the found TVN and the hand-made comparison."""

    searches: Any
    found: tuple[int, Any, TVNGenome]
    hand_made: Any  # hand_made.HandMade

    def tables(self) -> list[Any]:
        """The searches' summary and the hand-made comparison, as tables rounded for reading."""
        import pandas  # deferred: heavy start-up

        return [pandas.DataFrame(self.searches.summary()).round(3), self.hand_made.table().round(3)]


def _figures(config: Config, searches: Any, found: tuple[int, Any, TVNGenome], hand_made: Any,
             limits: Mapping[str, Any]) -> dict[str, Any]:
    from videonas.plots.curves import plot_best_so_far
    from videonas.plots.pareto import plot_pareto
    from videonas.plots.tvn import draw_tvn

    seed, trial, genome = found
    p = "" if limits.get("max_params") is None else f"P={limits['max_params']:,} params, "
    title = f"TVN search under {p}R={limits['max_latency_ms']:g} ms ({limits['latency_runtime']})"
    best = plot_best_so_far({label: searches.curves(label) for label in config.arms}, title=title)
    drawn = draw_tvn(genome, source_fps=SOURCE_FPS, title=f"found TVN (evolution seed {seed}, trial {trial.index}): "
                     f"val top-1 {trial.fitness:.3f}, {trial.params:,} params")
    front = plot_pareto(searches.points(), references=hand_made.references(), runtime=limits["latency_runtime"],
                        limit_ms=limits["max_latency_ms"],
                        title="accuracy (val for trials) vs latency: every trial of every search, and the Pareto front")
    return {"best_so_far.png": best.figure, "found_tvn.png": drawn.figure, "runtime_accuracy.png": front.figure,
            "inputs.png": hand_made.figure(runtime=limits["latency_runtime"])}


def comparison_task(config: Config, shared: Any) -> dict[str, Any]:
    """The task (plain form) every network of the comparison trains on: the searches' (``shared``, a
    ``SearchConfig``), on ``config.comparison_train_clips`` training clips when set."""
    task = shared.task.to_dict()
    if config.comparison_train_clips is not None:
        task["max_train_clips"] = config.comparison_train_clips
    return task


def compare(config: Config, found: TVNGenome, shared: Any, *, num_classes: int, folder: Path) -> Any:
    """``hand_made.against_hand_made`` of ``found`` with ``config``'s comparison fields, on one executor built from
    the searches' configuration (``shared``, one of their ``SearchConfig``s), its finished trainings kept in
    ``folder`` (``summaries.stored_trainings``), closed at the end."""
    task = comparison_task(config, shared)
    limits = shared.constraints.to_dict()
    runner = summaries.stored_trainings(shared.executor.build(), folder)
    try:
        return hand_made_module.against_hand_made(
            found, task=task, inputs=hand_made_module.inputs_of(found, config.common_input, task=task),
            seeds=config.comparison_seeds, budget=config.baseline_budget.to_dict(), rates=config.learning_rates,
            selection_seed=config.selection_seed, baselines=config.baselines, width=config.baseline_width,
            presets=config.presets, preset_image_size=config.preset_image_size, num_classes=num_classes,
            runtime=limits["latency_runtime"], runs=limits["latency_runs"], repeats=config.latency_repeats,
            threads=shared.task.threads, executor=runner)
    finally:
        runner.close()


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Run the searches (resumed when ``config.resume``), save the found TVN, compare it with the baselines at its
    input and at the common input (``compare``: every baseline's budget checked to allow at least the steps the found
    TVN trained), judge, plot and write ``results.json`` in the output folder."""
    import matplotlib.pyplot  # deferred: heavy start-up

    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    configs = search_configs(config, output_dir=folder)
    shared = next(iter(configs.values()))
    dataset = shared.task.open_dataset()
    summaries.require_test_split(dataset, experiment=NAME)
    num_classes = len(dataset.class_names)
    searches = tvn_common.run_searches(configs)
    limits = shared.constraints.to_dict()
    found = searches.overall_best(EVOLUTION)  # (seed, trial, genome), chosen on validation
    genome_path = save_genome(found[2], folder / tvn_common.FOUND_GENOME)
    hand_made = compare(config, found[2], shared, num_classes=num_classes, folder=folder)
    verdicts, conclusion = answers_of(searches, hand_made, found=found, runtime=limits["latency_runtime"],
                                      num_classes=num_classes, max_params=limits.get("max_params"))
    figures = _figures(config, searches, found, hand_made, limits)
    result = experiment.finish(
        folder, title="TVN: a search under R and P, and the found TVN against large networks",
        question="Does evolution under a runtime limit R and a parameter limit P find a TVN about as accurate as "
        "large video networks at its input and at a common one?",
        headline=answers.verdict_rows(verdicts), conclusion=conclusion, verdicts=verdicts, figures=figures,
        deterministic="Deterministic for a fixed seed: the first round's genomes (checked above), parameter counts "
        "and P rejections. Not exactly repeatable: latencies (and so R rejections) and accuracies (multi-threaded CPU "
        "kernels), and the later evolution rounds that follow from them.",
        extra={"found_genome": found[2].to_dict(), "found_seed": found[0], "summary": searches.summary(),
               "comparison_seeds": list(config.comparison_seeds), **hand_made.extra()},
        outputs={"found_genome": genome_path, "store": folder / STORE}, dataset=searches.dataset(),
        details=Details(searches, found, hand_made))
    for figure in figures.values():  # shown by result.show(), not again when the cell ends
        matplotlib.pyplot.close(figure)
    return result
