"""tvn_search (TVN paper, arXiv 1910.06961): does evolution under a runtime limit R and a parameter limit P find fast,
accurate video networks more efficiently than random search, and how does the found TVN compare with hand-made
networks at its own input?

Every arm searches with the same ``search`` fields (space, task, budget, constraints, candidates), once per seed; the
exact ``SearchConfig`` of each search is ``search_configs``. The best evolution candidate on validation is the found
TVN (``found_genome.json``, the scaling ablation's declared input); it and the hand-made baselines are retrained over
the seeds at its input and timed on the runtime R is measured on.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config as config_module, families, models
from videonas.checks import check_float, check_int, quote
from videonas.experiments import answers, claims, experiment, fields, prose, summaries, tvn_common
from videonas.experiments.arms import Arm, arm_config
from videonas.experiments.variants import train_variants, Variant
from videonas.genome import published
from videonas.genome.tvn import TVNGenome
from videonas.task import Budget

NAME = "tvn_search"
STORE = "search.sqlite"
JUDGED = ("evolution", "random")  # the arms the verdict compares
SOURCE_FPS = 16  # the embedded videos' frame rate, for the found TVN's drawing


def _search(value: Any, path: str) -> dict[str, Any]:
    search = tvn_common.check_search(value, path)
    if (search.get("constraints") or {}).get("max_latency_ms") is None:
        raise ValueError(f"{path}.constraints.max_latency_ms is R, which a TVN search needs, got "
                         f"{quote(search.get('constraints'))}")
    return search


def _arms(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping) or any(label not in value for label in JUDGED):
        raise ValueError(f"{path} must map arm labels to strategies, with {' and '.join(JUDGED)} (the arms the "
                         f"verdict compares), got {quote(value)}")
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



@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields every arm shares (P and R in ``constraints``); ``arms``: label ->
    strategy; ``seeds``: one search per arm and seed; the rest is the comparison with hand-made networks."""

    search: Mapping[str, Any]
    arms: Mapping[str, Any]
    seeds: tuple[int, ...]
    presets: tuple[str, ...]
    baselines: tuple[str, ...]
    baseline_width: float
    baseline_budget: Budget
    preset_image_size: int = 64
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "search": _search, "arms": _arms, "seeds": fields.parse_seeds, "presets": _presets,
            "baselines": _baselines, "baseline_width": _positive,
            "baseline_budget": lambda value, where: Budget.from_dict(value, path=where),
            "preset_image_size": _image_size, "resume": fields.parse_flag})


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
        import pandas  # deferred: heavy start-up

        return pandas.DataFrame(self.latency).merge(pandas.DataFrame(self.runs.table()), on="variant", how="left",
                                                    suffixes=("", " trained"))

    def references(self) -> list[dict[str, Any]]:
        """The networks as labelled points of an accuracy-latency plot (``plots.pareto.plot_pareto``)."""
        scores = {row["variant"]: row["mean test"] for row in self.runs.table()}
        return [{"label": row["variant"], "latency_ms": row["latency_ms"], "accuracy": scores.get(row["variant"]),
                 "group": "TVN presets" if row["variant"] in self.presets else "retrained, mean test"}
                for row in self.latency if row.get("latency_ms") is not None]

    def verdicts(self, *, task: str = "same input") -> list[Any]:
        """Per baseline, at the same input: is the TVN about as accurate (test scores paired by seed) and how much
        faster (latency ratio on the deploy runtime, one measurement)? Each verdict's question names the baseline."""

        ms = {row["variant"]: row["latency_ms"] for row in self.latency}
        verdicts = []
        for name in self.baselines:
            for verdict in (self.runs.verdict("tvn_accuracy_vs_big", a=(self.tvn_label, task), b=(name, task)),
                            claims.ask_exact("tvn_speed", a=ms[name], b=ms[self.tvn_label])):
                verdicts.append(dataclasses.replace(verdict, question=f"{verdict.question[:-1]} ({name}, same input)?"))
        return verdicts


def against_hand_made(found: TVNGenome, *, task: Mapping[str, Any], seeds: Sequence[int], budget: Mapping[str, Any],
                      baselines: Sequence[str], width: float, presets: Sequence[str], preset_image_size: int,
                      num_classes: int, runtime: str, runs: int, threads: int | None, executor: Any = "subprocess",
                      executor_options: Mapping[str, Any] | None = None) -> HandMade:
    """Same input, same recipe: ``found`` and each baseline (at ``width``) trained over ``seeds`` at the found TVN's
    input with ``budget``, timed on ``runtime`` at that input; the ``presets`` timed at ``preset_image_size``."""

    same_input = {**task, "num_frames": found.num_frames, "image_size": found.image_size,
                  "frame_stride": found.frame_stride}
    contenders = [Variant("found TVN", genome=found),
                  *[Variant(f"{name} x{width:g}", model=name, model_options={"width_multiplier": width})
                    for name in baselines]]
    trained = train_variants(contenders, tasks={"same input": same_input}, seeds=seeds, budget=budget,
                             executor=executor, executor_options=executor_options)
    latency = tvn_common.costs(contenders, num_classes=num_classes, runtime=runtime, runs=runs, threads=threads,
                               num_frames=found.num_frames, image_size=found.image_size)
    latency += tvn_common.costs([Variant(name, genome=tvn_common.at_input(published.load(name),
                                                                          image_size=preset_image_size))
                                 for name in presets], num_classes=num_classes, runtime=runtime, runs=runs,
                                threads=threads)
    return HandMade(runs=trained, latency=latency, tvn_label=contenders[0].label,
                    baselines=[variant.label for variant in contenders[1:]], presets=list(presets))


def answers_of(searches: Any, hand_made: HandMade, *, found: tuple[int, Any, TVNGenome], runtime: str,
               num_classes: int) -> tuple[list[Any], str]:
    """The verdicts (arm ``"evolution"`` against arm ``"random"``, then the found TVN against the hand-made
    networks) and the conclusion; ``found`` is ``ArmRuns.overall_best("evolution")``."""
    _, trial, genome = found
    verdicts = [searches.verdict("tvn_evolution_vs_random", a="evolution", b="random"), *hand_made.verdicts()]
    notes = [summaries.chance_note(searches.top_score("evolution"), num_classes=num_classes),
             f"The found TVN has {trial.params:,} parameters and takes "
             f"{tvn_common.latency_text(hand_made.latency[0])} on {runtime} "
             f"({genome.num_frames} frames at {genome.image_size} px)."]
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
    hand_made: HandMade

    def tables(self) -> list[Any]:
        """The searches' summary and the hand-made comparison, as tables rounded for reading."""
        import pandas  # deferred: heavy start-up

        return [pandas.DataFrame(self.searches.summary()).round(3), self.hand_made.table().round(3)]


def _figures(config: Config, searches: Any, found: tuple[int, Any, TVNGenome], hand_made: HandMade,
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
    return {"best_so_far.png": best.figure, "found_tvn.png": drawn.figure, "runtime_accuracy.png": front.figure}


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Run the searches (resumed when ``config.resume``), save the found TVN, retrain it and the baselines at its
    input, judge, plot and write ``results.json`` in the output folder."""
    import matplotlib.pyplot  # deferred: heavy start-up

    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    configs = search_configs(config, output_dir=folder)
    shared = next(iter(configs.values()))
    num_classes = len(shared.task.open_dataset().class_names)
    searches = tvn_common.run_searches(configs)
    limits = shared.constraints.to_dict()
    found = searches.overall_best("evolution")  # (seed, trial, genome), chosen on validation
    genome_path = save_genome(found[2], folder / tvn_common.FOUND_GENOME)
    hand_made = against_hand_made(
        found[2], task=shared.task.to_dict(), seeds=config.seeds, budget=config.baseline_budget.to_dict(),
        baselines=config.baselines, width=config.baseline_width, presets=config.presets,
        preset_image_size=config.preset_image_size, num_classes=num_classes, runtime=limits["latency_runtime"],
        runs=limits["latency_runs"], threads=shared.task.threads, executor=shared.executor.kind,
        executor_options=shared.executor.options)
    verdicts, conclusion = answers_of(searches, hand_made, found=found, runtime=limits["latency_runtime"],
                                      num_classes=num_classes)
    figures = _figures(config, searches, found, hand_made, limits)
    result = experiment.finish(
        folder, title="TVN: constrained evolution vs random search", question="Does constrained evolution find fast, "
        "accurate video networks more efficiently than random search, and how do they compare with hand-made ones?",
        headline=answers.verdict_rows(verdicts), conclusion=conclusion, verdicts=verdicts, figures=figures,
        deterministic="Deterministic for a fixed seed: the first round's genomes (checked above), parameter counts "
        "and P rejections. Not exactly repeatable: latencies (and so R rejections) and accuracies (multi-threaded CPU "
        "kernels), and the later evolution rounds that follow from them.",
        extra={"found_genome": found[2].to_dict(), "found_seed": found[0], "summary": searches.summary(),
               "latency": hand_made.latency, "retrained": hand_made.runs.table()},
        outputs={"found_genome": genome_path, "store": folder / STORE}, dataset=searches.dataset(),
        details=Details(searches, found, hand_made))
    for figure in figures.values():  # shown by result.show(), not again when the cell ends
        matplotlib.pyplot.close(figure)
    return result
