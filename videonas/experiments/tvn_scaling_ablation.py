"""tvn_scaling_ablation (TVN paper, arXiv 1910.06961): which way of making a TVN bigger buys the most accuracy per
unit of runtime: input resolution, width, depth, or all three with EfficientNet's compound coefficients ("TVN EN")?

A base TVN (hand-picked, a published one, or the one tvn_search found: a declared input) and, per ``phi``, its
compound variant (EfficientNet's coefficients) and its resolution-, width- and depth-only variants at equal *measured*
FLOPs are trained over the same seeds with the same epochs; every accuracy is on the held-out test split.

Equal FLOPs by measurement, not by nominal growth: rounding (8-channel widths, whole repeats) made the nominal
"equal cost" variants differ up to 3.7x. Depth, the coarsest knob, takes the factor whose FLOPs come closest to the
compound variant's; width and resolution take the factors whose FLOPs match the depth variant's within 10%
(``protocol.check_flops`` refuses more; width rounds its filters more finely than to multiples of 8 where those steps
are too coarse for that), so "width beats depth at equal FLOPs" compares two networks of equal cost,
both counts reported. Whether compound scaling beats the best single dimension is described, not judged: the paper
makes no such claim.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from videonas import config as config_module, families
from videonas.checks import check_float, quote
from videonas.experiments import answers, comparison, experiment, fields, prose, protocol, summaries, tvn_common
from videonas.experiments.variants import train_variants, Variant
from videonas.genome.tvn import TVNGenome
from videonas.scale import compound, match_factor, scale_tvn
from videonas.task import Budget, TrainTask

NAME = "tvn_scaling_ablation"
DIMENSIONS = ("resolution", "width", "depth", "compound")
EMBEDDED_PIXELS = 64  # the embedded videos' frame size: larger inputs only interpolate them
# Width rounds its filters to multiples of 8 (EfficientNet's rule) where that can match depth's FLOPs within 10%;
# else to the first finer step that can (8-channel steps are coarse on narrow blocks).
FILTER_DIVISORS = (8, 4, 2, 1)
MATCH_STEPS = 8  # bisection halvings of a factor's log range: about 1% steps, finer than any rounding step here


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
    ``budget``, ``seeds``, ``executor``) and is timed (``latency_runtime``); ``resume`` keeps the finished trainings
    of an unfinished earlier run."""

    task: TrainTask
    seeds: tuple[int, ...]
    phis: tuple[float, ...]
    budget: Budget
    executor: Any
    base_genome: Any = None
    latency_runtime: str = "onnxruntime"
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "task": lambda value, where: TrainTask.from_dict(value, path=where), "seeds": fields.parse_seeds,
            "phis": _phis, "budget": lambda value, where: Budget.from_dict(value, path=where),
            "executor": _executor, "base_genome": tvn_common.check_genome_choice, "latency_runtime": fields.parse_runtime,
            "resume": fields.parse_flag})


def measured_flops(num_classes: int) -> Callable[[TVNGenome], int]:
    """The FLOPs (batch 1) of a TVN genome's built model, counted from the genome (the TVN family's exact cost
    estimate, held equal to ``videonas.measure.count_flops`` on the built model by its tests): not the nominal growth
    of the factors, and without building dozens of models while a factor is searched."""
    def count(genome: TVNGenome) -> int:
        return int(families.of(genome).estimate_cost(genome, num_classes=num_classes)["flops"])

    return count


def scaled_variants(base: TVNGenome, phis: Sequence[float], *, flops: Callable[[TVNGenome], float]
                    ) -> tuple[list[Variant], list[dict[str, Any]], dict[str, float]]:
    """The base and, per ``phi``, its compound variant (``videonas.scale.compound``) and its depth-, width- and
    resolution-only variants at equal measured FLOPs (``flops(genome)``): depth closest to the compound variant,
    width and resolution matched to depth within 10% (``ValueError`` naming both counts otherwise). Returns the
    variants (labels ``"width phi=2"``), their factors (with what each was matched to) and their FLOPs."""
    one = {"resolution": 1.0, "width": 1.0, "depth": 1.0}
    variants, factors = [Variant("base", genome=base)], [{"variant": "base", **one, "matched to": ""}]
    counted = {"base": float(flops(base))}
    for phi in phis:
        label = {dimension: f"{dimension} phi={phi:g}" for dimension in DIMENSIONS}
        steps = compound(phi)
        genomes = {"compound": scale_tvn(base, **steps)}
        counted[label["compound"]] = float(flops(genomes["compound"]))
        scale = {"compound": steps}
        matched = {"depth": label["compound"], "width": label["depth"], "resolution": label["depth"]}
        for dimension in ("depth", "width", "resolution"):
            target = counted[matched[dimension]]
            for divisor in FILTER_DIVISORS if dimension == "width" else FILTER_DIVISORS[:1]:
                factor, genomes[dimension], counted[label[dimension]] = match_factor(
                    base, dimension, target_flops=target, flops=flops, steps=MATCH_STEPS, filter_divisor=divisor)
                if abs(counted[label[dimension]] / target - 1) <= protocol.FLOPS_TOLERANCE:
                    break
            if dimension != "depth":
                protocol.check_flops(counted[label[dimension]], target, label=label[dimension],
                                     target=matched[dimension])
                if divisor != FILTER_DIVISORS[0]:
                    matched["width"] += f" (filters to multiples of {divisor})"
            scale[dimension] = {**one, dimension: factor}
        for dimension in ("resolution", "width", "depth", "compound"):
            variants.append(Variant(label[dimension], genome=genomes[dimension]))
            factors.append({"variant": label[dimension], **{k: round(v, 4) for k, v in scale[dimension].items()},
                            "matched to": matched.get(dimension, "")})
    return variants, factors, counted


@dataclasses.dataclass
class Plan:
    """What the configuration fixes before anything trains: the base TVN, its scaled variants, their factors and
    measured FLOPs."""

    base: TVNGenome
    source: str
    variants: list[Variant]
    factors: list[dict[str, Any]]
    num_classes: int
    flops: dict[str, float]


def plan(config: Config, *, output_dir: str | Path | None = None) -> Plan:
    """The base TVN (``"found"``: tvn_search's, a declared input beside the output folder) and its variants."""
    base, source = tvn_common.base_genome(config.base_genome, default=tvn_common.SCALING_TVN,
                                          folder=tvn_common.folder_of(NAME, output_dir))
    num_classes = len(config.task.open_dataset().class_names)
    variants, factors, flops = scaled_variants(base, config.phis, flops=measured_flops(num_classes))
    return Plan(base, source, variants, factors, num_classes, flops)


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
    """The scaling question at ``phi``: width against depth at equal measured FLOPs. (Compound against the best single
    dimension is ``compound_text``, a description: the paper makes no such claim.)"""
    return [runs.verdict("tvn_scaling_width_vs_depth", a=(f"width phi={phi:g}", task),
                         b=(f"depth phi={phi:g}", task))]


def by_seed(runs: Any, label: str, task: str = "all") -> dict[int, Any]:
    """``{seed: TrialResult}`` of one variant on one task."""
    return {seed: result for (name, on, seed), result in runs.results.items() if (name, on) == (label, task)}


def check_steps(runs: Any, *, phi: float, task: str = "all") -> dict[str, int]:
    """Neither side of width against depth could train fewer steps than the other trained
    (``protocol.check_steps`` both ways); returns the fewest steps each side's budget allowed (nothing to check, and
    ``{}``, when a side has no finished run: its verdict has no pairs)."""
    width, depth = (f"{dimension} phi={phi:g}" for dimension in ("width", "depth"))
    sides = {width: by_seed(runs, width, task), depth: by_seed(runs, depth, task)}
    if not all(any(r.status == "done" for r in side.values()) for side in sides.values()):
        return {}
    return {**comparison.check_references({depth: sides[depth]}, {width: sides[width]}),
            **comparison.check_references({width: sides[width]}, {depth: sides[depth]})}


def flops_text(flops: Mapping[str, float], *, phi: float) -> str:
    """Both FLOP counts of width against depth at ``phi``, and the compound variant's, for the conclusion."""
    width, depth, both = (flops[f"{d} phi={phi:g}"] for d in ("width", "depth", "compound"))
    return (f"At phi={phi:g}, width {width / 1e6:.2f} and depth {depth / 1e6:.2f} MFLOPs ({width / depth - 1:+.1%}, "
            f"matched by measurement within 10%); the compound variant has {both / 1e6:.2f} MFLOPs.")


def compound_text(runs: Any, *, phi: float, task: str = "all") -> str:
    """Compound against each single dimension at ``phi``, mean test score over seeds, with no verdict."""
    means = {row["variant"]: row["mean test"] for row in runs.table() if row["task"] == task}

    def mean(dimension: str) -> str:
        value = means.get(f"{dimension} phi={phi:g}")
        return "n/a" if value is None else f"{value:.3f}"

    shown = ", ".join(f"{dimension} {mean(dimension)}" for dimension in ("resolution", "width", "depth"))
    return (f"Described, not judged (the paper makes no claim that compound beats the best single dimension): "
            f"compound phi={phi:g} mean test {mean('compound')} against {shown}.")


def answers_of(runs: Any, variants: Sequence[Variant], *, phi: float, source: str, num_classes: int,
               flops: Mapping[str, float] | None = None) -> tuple[list[Any], str]:
    """The verdicts (``scaling_verdicts`` at ``phi``) and the conclusion, which names the base TVN, gives both FLOP
    counts (``flops``: by variant label), describes compound scaling and warns when a variant's input is larger than
    the embedded 64-px frames (it only interpolates them)."""
    verdicts = scaling_verdicts(runs, phi=phi)
    top = max((row["mean test"] or 0.0 for row in runs.table()), default=0.0)
    notes = [f"Base TVN: {source}.", summaries.chance_note(top, num_classes=num_classes),
             flops_text(flops, phi=phi) if flops else "", compound_text(runs, phi=phi),
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

    folder = summaries.output_folder(NAME, output_dir=output_dir, resume=config.resume)
    chosen = plan(config, output_dir=folder)
    latency = {row["variant"]: row["latency_ms"] for row in
               tvn_common.costs(chosen.variants, num_classes=chosen.num_classes, runtime=config.latency_runtime,
                                threads=config.task.threads)}
    runs = train_variants(chosen.variants, tasks={"all": config.task.to_dict()}, seeds=config.seeds,
                          budget=config.budget.to_dict(),
                          executor=summaries.stored_trainings(config.executor.build(), folder))
    figure = plot_scaling(runs, chains=scaling_chains(config.phis), base="base", task="all", cost=latency,
                          cost_label=f"latency, ms (batch 1, {config.latency_runtime})")
    steps = {f"{phi:g}": check_steps(runs, phi=phi) for phi in config.phis}
    verdicts, conclusion = answers_of(runs, chosen.variants, phi=config.phis[-1], source=chosen.source,
                                      num_classes=chosen.num_classes, flops=chosen.flops)
    result = experiment.finish(
        folder, title="TVN: scaling ablation", question="Which of resolution, width, depth or compound scaling buys "
        "the most accuracy per runtime for a TVN?", headline=answers.verdict_rows(verdicts), conclusion=conclusion,
        verdicts=verdicts, figures={"scaling.png": figure},
        deterministic="Deterministic: the scaled genomes, parameter and FLOP counts (checked above). Accuracies are "
        "seeded but not bit-exact (multi-threaded float reduction order); latencies vary with the machine.",
        extra={"base_genome": chosen.base.to_dict(), "base_source": chosen.source, "variants": runs.table(),
               "factors": chosen.factors, "flops": chosen.flops, "steps_allowed": steps,
               "latency_ms": latency}, dataset=config.task.open_dataset(), details=Details(runs, latency))
    matplotlib.pyplot.close(figure)  # shown by result.show(), not again when the cell ends
    return result
