"""tvn_scaling_ablation (TVN paper, arXiv 1910.06961): which way of making a TVN bigger buys the most accuracy per
unit of runtime: input resolution, width, depth, or all three with EfficientNet's compound coefficients ("TVN EN")?

A base TVN (hand-picked, a published one, or the one tvn_search found: a declared input) and, per ``phi``, its
resolution-, width-, depth-only and compound variants at matched nominal FLOP growth are trained over the same seeds
with the same epochs; every accuracy is on the held-out test split.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas import config as config_module
from videonas.checks import check_float, quote
from videonas.experiments import answers, experiment, fields, prose, summaries, tvn_common
from videonas.experiments.variants import train_variants, Variant
from videonas.genome.tvn import TVNGenome
from videonas.scale import compound, scaling_variants
from videonas.task import Budget, TrainTask

NAME = "tvn_scaling_ablation"
DIMENSIONS = ("resolution", "width", "depth", "compound")
EMBEDDED_PIXELS = 64  # the embedded videos' frame size: larger inputs only interpolate them


def _phis(value: Any, path: str) -> tuple[float, ...]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, Sequence) or not value:
        raise ValueError(f"{path} must be a non-empty list of compound steps, got {quote(value)}")
    for index, phi in enumerate(value):
        check_float(f"{path}[{index}]", phi, 1e-3, 16.0)
    return tuple(float(phi) for phi in value)


def _executor(value: Any, path: str) -> Any:
    return config_module.ExecutorConfig.from_value(value, path=path)



@dataclasses.dataclass(frozen=True)
class Config:
    """The base TVN (``base_genome``), the compound steps (``phis``) and how every variant trains (``task``,
    ``budget``, ``seeds``, ``executor``) and is timed (``latency_runtime``)."""

    task: TrainTask
    seeds: tuple[int, ...]
    phis: tuple[float, ...]
    budget: Budget
    executor: Any
    base_genome: Any = None
    latency_runtime: str = "onnxruntime"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "task": lambda value, where: TrainTask.from_dict(value, path=where), "seeds": fields.parse_seeds,
            "phis": _phis, "budget": lambda value, where: Budget.from_dict(value, path=where),
            "executor": _executor, "base_genome": tvn_common.check_genome_choice, "latency_runtime": fields.parse_runtime})


def scaled_variants(base: TVNGenome, phis: Sequence[float]) -> tuple[list[Variant], list[dict[str, Any]]]:
    """The base and, per ``phi``, its resolution-, width-, depth-only and compound variants at matched nominal FLOP
    growth (``videonas.scale.scaling_variants``); returns the variants and their factors (labels ``"width phi=2"``)."""

    variants, factors = [Variant("base", genome=base)], [{"variant": "base", "resolution": 1.0, "width": 1.0,
                                                           "depth": 1.0}]
    for phi in phis:
        for label, (scale, genome) in scaling_variants(base, phi=phi).items():
            if label != "base":
                variants.append(Variant(f"{label} phi={phi:g}", genome=genome))
                factors.append({"variant": f"{label} phi={phi:g}", **{k: round(v, 4) for k, v in scale.items()}})
    return variants, factors


@dataclasses.dataclass
class Plan:
    """What the configuration fixes before anything trains: the base TVN, its scaled variants and their factors."""

    base: TVNGenome
    source: str
    variants: list[Variant]
    factors: list[dict[str, Any]]
    num_classes: int


def plan(config: Config, *, output_dir: str | Path | None = None) -> Plan:
    """The base TVN (``"found"``: tvn_search's, a declared input beside the output folder) and its variants."""
    base, source = tvn_common.base_genome(config.base_genome, default=tvn_common.SCALING_TVN,
                                          folder=tvn_common.folder_of(NAME, output_dir))
    variants, factors = scaled_variants(base, config.phis)
    return Plan(base, source, variants, factors, len(config.task.open_dataset().class_names))


def costs_text(config: Config, *, output_dir: str | Path | None = None) -> str:
    """The base TVN, the compound coefficients, and each variant's factors, parameters and FLOPs (deterministic):
    the text the notebook checks."""
    import pandas  # deferred: heavy start-up

    chosen = plan(config, output_dir=output_dir)
    cost = pandas.DataFrame(chosen.factors).merge(
        pandas.DataFrame(tvn_common.costs(chosen.variants, num_classes=chosen.num_classes)))
    coefficients = {k: round(v, 4) for k, v in compound(1).items()}
    return f"base TVN: {chosen.source}\ncompound(1): {coefficients}\n{cost.round(2).to_string(index=False)}"


def scaling_chains(phis: Sequence[float]) -> dict[str, list[str]]:
    """The variant labels of each scaling dimension, by increasing ``phi`` (for ``plots.ablation.plot_scaling``)."""
    return {dimension: [f"{dimension} phi={phi:g}" for phi in phis] for dimension in DIMENSIONS}


def scaling_verdicts(runs: Any, *, phi: float, task: str = "all") -> list[Any]:
    """The scaling questions at ``phi``: width against depth, and compound against each seed's best single dimension."""
    label = {dimension: f"{dimension} phi={phi:g}" for dimension in DIMENSIONS}
    singles = runs.best_of([label["resolution"], label["width"], label["depth"]], task)
    return [runs.verdict("tvn_scaling_width_vs_depth", a=(label["width"], task), b=(label["depth"], task)),
            runs.verdict("tvn_scaling_compound", a=(label["compound"], task), b=singles)]


def answers_of(runs: Any, variants: Sequence[Variant], *, phi: float, source: str,
               num_classes: int) -> tuple[list[Any], str]:
    """The verdicts (``scaling_verdicts`` at ``phi``) and the conclusion, which names the base TVN and warns when a
    variant's input is larger than the embedded 64-px frames (it only interpolates them)."""
    verdicts = scaling_verdicts(runs, phi=phi)
    top = max((row["mean test"] or 0.0 for row in runs.table()), default=0.0)
    notes = [f"Base TVN: {source}.", summaries.chance_note(top, num_classes=num_classes),
             "The embedded frames are 64 px, so inputs above 64 px only interpolate."
             if max(variant.genome.image_size for variant in variants) > EMBEDDED_PIXELS else ""]
    return verdicts, prose.conclusion(verdicts, notes=notes)


@dataclasses.dataclass
class Details:
    """What ``run`` computed: the variants' runs and their latency."""

    runs: Any
    latency: dict[str, float | None]

    def tables(self) -> list[Any]:
        """The variants' runs with their latency, as a table rounded for reading."""
        import pandas  # deferred: heavy start-up

        table = pandas.DataFrame(self.runs.table())
        return [table.assign(latency_ms=table["variant"].map(self.latency)).round(3)]


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Time and train the base TVN and its scaled variants, judge, plot and write ``results.json``."""
    import matplotlib.pyplot  # deferred: heavy start-up

    from videonas.plots.ablation import plot_scaling

    folder = summaries.output_folder(NAME, output_dir=output_dir)
    chosen = plan(config, output_dir=folder)
    latency = {row["variant"]: row["latency_ms"] for row in
               tvn_common.costs(chosen.variants, num_classes=chosen.num_classes, runtime=config.latency_runtime,
                                threads=config.task.threads)}
    runs = train_variants(chosen.variants, tasks={"all": config.task.to_dict()}, seeds=config.seeds,
                          budget=config.budget.to_dict(), executor=config.executor.kind,
                          executor_options=config.executor.options)
    figure = plot_scaling(runs, chains=scaling_chains(config.phis), base="base", task="all", cost=latency,
                          cost_label=f"latency, ms (batch 1, {config.latency_runtime})")
    verdicts, conclusion = answers_of(runs, chosen.variants, phi=config.phis[-1], source=chosen.source,
                                      num_classes=chosen.num_classes)
    result = experiment.finish(
        folder, title="TVN: scaling ablation", question="Which of resolution, width, depth or compound scaling buys "
        "the most accuracy per runtime for a TVN?", headline=answers.verdict_rows(verdicts), conclusion=conclusion,
        verdicts=verdicts, figures={"scaling.png": figure},
        deterministic="Deterministic: the scaled genomes, parameter and FLOP counts (checked above). Accuracies are "
        "seeded but not bit-exact (multi-threaded float reduction order); latencies vary with the machine.",
        extra={"base_genome": chosen.base.to_dict(), "base_source": chosen.source, "variants": runs.table(),
               "latency_ms": latency}, dataset=config.task.open_dataset(), details=Details(runs, latency))
    matplotlib.pyplot.close(figure)  # shown by result.show(), not again when the cell ends
    return result
