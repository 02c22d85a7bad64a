"""search_strategies (issue 29): on the tabulated TVN benchmark, does evolution (the TVN schedule, regularized
evolution) find better networks than random search at the same training budget, and do rungs help each of them?

Hundreds of searches per arm, each a ``run_search`` whose trial function looks genomes up in the table
(``videonas.experiments.table_searches``); each seed's winner is chosen on validation and reported by its test top-1
from the table. Beside the verdicts, the landscape of the table (``videonas.experiments.landscape``) and how the
winner's frame count moves with the latency limit R. The table is the committed file (built by
``python -m videonas table build``) or, for tests and smoke runs, a SYNTHETIC table made by
``videonas.table.synthetic_table`` and labelled as such everywhere it shows.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping

import numpy

from videonas import config as config_module
from videonas.checks import check_float, check_int, check_keys, check_choice, quote
from videonas.experiments import answers, claims, experiment, fields, landscape, prose, summaries, table_frames
from videonas.experiments import table_searches as searches
from videonas.table import is_synthetic, load_table, synthetic_table, write_table
from videonas.table import validate as table_validation

NAME = "search_strategies"
STRATEGIES = ("random", "mutate-best", "regularized")  # the arms' strategies; each also runs with rungs
RUNGS = " + rungs"
FRAMES_ARM = "mutate-best"  # the TVN schedule: its searches also answer the frames questions (table_frames)
SYNTHETIC_FILE = "synthetic_table.json.gz"
SYNTHETIC_OPTIONS = ("menu", "rung_epochs", "replicates", "seed")
GRID_POINTS = 61


def _table(value: Any, path: str) -> Any:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and list(value) == ["synthetic"]:
        check_keys(f"{path}.synthetic", value["synthetic"] or {}, (), SYNTHETIC_OPTIONS)
        return {"synthetic": dict(value["synthetic"] or {})}
    raise ValueError(f"{path} must be a table file path or {{synthetic: {{{', '.join(SYNTHETIC_OPTIONS)}}}}}, got "
                     f"{quote(value)}")


def _optional(check: Any) -> Any:
    return lambda value, path: None if value is None else check(value, path)


def _int(low: int, high: int) -> Any:
    return lambda value, path: check_int(path, value, low, high) or value


def _float(low: float, high: float) -> Any:
    return lambda value, path: check_float(path, value, low, high) or float(value)


def _quantiles(value: Any, path: str) -> tuple[float, ...]:
    if isinstance(value, (str, Mapping)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{path} must be a list of quantiles between 0 and 1 (may be empty), got {quote(value)}")
    for index, quantile in enumerate(value):
        check_float(f"{path}[{index}]", quantile, 0.0, 1.0)
    return tuple(float(q) for q in value)


@dataclasses.dataclass(frozen=True)
class Config:
    """``table``: the table file (relative paths from the project root) or ``{synthetic: {...}}``; ``strategies``:
    the options of ``random``, ``mutate-best`` and ``regularized``; ``num_seeds`` searches per arm (seeds 0..n-1),
    each with ``max_epochs`` of training and at most ``max_proposals`` proposals; ``rungs``: the rung arms'
    ``{epochs, keep}`` (epochs among the table's rungs, ending at its top); P and R: ``max_params``,
    ``max_latency_ms``; the R sweep: ``latency_seeds`` searches of ``latency_arm`` at each of ``latency_quantiles``
    of the table's latency column; ``motion_above_chance``: the rule for "learns motion"; ``workers``: processes."""

    table: Any
    strategies: tuple[Any, ...]
    num_seeds: int
    max_epochs: int
    max_proposals: int
    rungs: Any
    batch_size: int = 4
    max_params: int | None = None
    max_latency_ms: float | None = None
    latency_quantiles: tuple[float, ...] = (0.25, 0.5, 1.0)
    latency_arm: str = "regularized"
    latency_seeds: int = 40
    motion_above_chance: float = 2.0
    reuse_duplicates: bool = True
    workers: int = 2

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "table": _table, "strategies": lambda value, where: fields.parse_arms(value, where, labels=STRATEGIES),
            "num_seeds": _int(1, 100_000), "max_epochs": _int(1, 10**9), "max_proposals": _int(1, 10**7),
            "rungs": lambda value, where: config_module.RungsConfig.from_value(value, path=where),
            "batch_size": _int(1, 1024), "max_params": _optional(_int(1, 10**12)),
            "max_latency_ms": _optional(_float(1e-6, 1e9)), "latency_quantiles": _quantiles,
            "latency_arm": lambda value, where: check_choice(where, value, STRATEGIES) or value,
            "latency_seeds": _int(1, 100_000), "motion_above_chance": _float(1.0, 100.0),
            "reuse_duplicates": fields.parse_flag, "workers": _int(1, 256)})


def open_table(config: Config, folder: Path) -> tuple[Any, Path]:
    """The table and its file: the configured file (a ``ValueError`` saying how to build it when missing), or the
    synthetic table written into ``folder``; the rung arms' epochs must be rungs of the table, up to its top."""
    if isinstance(config.table, Mapping):
        table = synthetic_table(**config.table["synthetic"])
        path = write_table(table, folder / SYNTHETIC_FILE)
    else:
        from videonas.report.index import project_root  # deferred: the report package is not needed otherwise

        path = Path(config.table) if Path(config.table).is_absolute() else project_root() / config.table
        if not path.is_file():
            raise ValueError(f"config.table: the tabulated benchmark {str(config.table)!r} is not there ({path}); "
                             f"build it with 'python -m videonas table build' (hours), or give "
                             f"table: {{synthetic: {{}}}} for a SYNTHETIC table that only tests the pipeline")
        table = load_table(path)
    wanted = list(config.rungs.epochs)
    if not set(wanted) <= set(table.rung_epochs) or wanted[-1] != table.rung_epochs[-1]:
        raise ValueError(f"config.rungs.epochs {wanted} must be rungs of the table {list(table.rung_epochs)} ending at "
                         f"its top rung {table.rung_epochs[-1]}")
    return table, path


def table_label(table: Any) -> str:
    return "SYNTHETIC table (made-up scores, no network trained)" if is_synthetic(table) else "measured table"


def arm_specs(config: Config, table: Any) -> list[searches.SearchSpec]:
    """Every search of the six arms: each strategy without rungs (the table's top rung only) and with rungs."""
    top = (table.rung_epochs[-1],)
    specs = []
    for arm in config.strategies:
        for suffix, epochs in (("", top), (RUNGS, tuple(config.rungs.epochs))):
            specs += [searches.SearchSpec(arm.label + suffix, arm.strategy, dict(arm.strategy_options), seed, epochs,
                                          config.rungs.keep, config.max_latency_ms) for seed in range(config.num_seeds)]
    return specs


def latency_specs(config: Config, table: Any, limits: list[float]) -> list[searches.SearchSpec]:
    """The R sweep: ``latency_arm`` without rungs at each limit, ``latency_seeds`` seeds each."""
    arm = next(a for a in config.strategies if a.label == config.latency_arm)
    return [searches.SearchSpec(f"{arm.label} at R", arm.strategy, dict(arm.strategy_options), seed,
                                (table.rung_epochs[-1],), config.rungs.keep, limit)
            for limit in limits for seed in range(config.latency_seeds)]


def describe_table(config: Config, *, output_dir: str | Path | None = None) -> str:
    """What the table holds and its landscape in a few deterministic lines (the text the notebook checks)."""
    table, _ = open_table(config, summaries.output_folder(NAME, output_dir=output_dir))
    best = landscape.oracle(table)
    motion = landscape.motion_learners(table, above_chance=config.motion_above_chance)
    pairs = landscape.parent_child(table)
    replicates = sorted({len(row.replicates) for row in table.rows})
    return (f"{table_label(table)}: {len(table)} genomes, replicates {replicates}, rungs {list(table.rung_epochs)} "
            f"epochs\noracle by validation: genome {best['index']} ({best['num_frames']} frames), val "
            f"{best['val']:.3f}, test {best['test']:.3f}; best test of any genome {best['best_test']:.3f}\n"
            f"learns motion (motion-class test top-1 >= {motion['threshold']:.3f}): {motion['count']} of "
            f"{motion['known']} genomes\nparent-child correlation of test top-1 over {pairs['pairs']} one-choice "
            f"pairs: Pearson {pairs['pearson']:.3f}, Spearman {pairs['spearman']:.3f}")


def winners(records: list[dict[str, Any]], label: str) -> dict[int, float | None]:
    """``{seed: winner's test top-1}`` of arm ``label`` (``None``: no candidate reached the top rung)."""
    return {r["seed"]: (r["winner"] or {}).get("test") for r in records if r["arm"] == label}


def verdicts_of(records: list[dict[str, Any]], *, noise_floor: float | None, synthetic: bool) -> list[Any]:
    """Evolution against random, regularized against random (both without rungs), then rungs against none for each
    strategy; per-seed winners paired by seed (an evolution search starts from its seed's random samples)."""
    asked = [claims.ask_scores("table_evolution_vs_random", a=winners(records, "mutate-best"),
                               b=winners(records, "random"), noise_floor=noise_floor),
             claims.ask_scores("table_regularized_vs_random", a=winners(records, "regularized"),
                               b=winners(records, "random"), noise_floor=noise_floor)]
    for label in STRATEGIES:
        verdict = claims.ask_scores("table_rungs_vs_none", a=winners(records, label + RUNGS),
                                    b=winners(records, label), noise_floor=noise_floor)
        asked.append(dataclasses.replace(verdict, question=f"{verdict.question[:-1]} ({label})?"))
    if synthetic:
        asked = [dataclasses.replace(v, question=f"SYNTHETIC table, not a measurement: {v.question}") for v in asked]
    return asked


def mean_interval(values: list[float | None]) -> tuple[float | None, float | None, float | None]:
    """The mean of the finite ``values`` and its 95% interval (as ``table_searches.band``: mean +- 1.96 standard
    errors); ``None`` where undefined."""
    finite = numpy.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not finite.size:
        return None, None, None
    band = searches.band(finite[:, None])
    return float(finite.mean()), _number(band["low"][0]), _number(band["high"][0])


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def arm_rows(records: list[dict[str, Any]], labels: list[str], grid: numpy.ndarray,
             bands: Mapping[str, Any], target: float) -> list[dict[str, Any]]:
    """Per arm: the winners' mean test top-1 with its 95% interval, the epochs and candidates spent, and the budget
    at which its mean curve reaches random search's final mean best (``target``)."""
    rows = []
    for label in labels:
        own = [r for r in records if r["arm"] == label]
        mean, low, high = mean_interval(list(winners(records, label).values()))
        reach = searches.first_reaching(grid, bands[label]["mean"], target)
        rows.append({"arm": label, "seeds": len(own), "mean test top-1": mean, "95% low": low, "95% high": high,
                     "epochs spent": float(numpy.mean([r["epochs"] for r in own])),
                     "candidates trained": float(numpy.mean([r["trained"] for r in own])),
                     "proposals": float(numpy.mean([r["proposals"] for r in own])),
                     "stopped by max_proposals": float(numpy.mean([r["stopped_early"] for r in own])),
                     "epochs to reach random's final mean": reach,
                     "candidates trained by then": None if reach is None else
                     float(numpy.mean([searches.trained_at(r, reach) for r in own]))})
    return rows


def reach_rows(arms: list[dict[str, Any]], target: float) -> list[dict[str, Any]]:
    """Headline rows: the training epochs (and candidates trained) each arm's mean curve needs to reach random
    search's final mean best ``target``."""
    rows = []
    for row in arms:
        reach = row["epochs to reach random's final mean"]
        value = "not within the budget" if reach is None else \
            f"{reach:g} epochs ({row['candidates trained by then']:.1f} candidates trained)"
        rows.append({"label": f"{row['arm']}: budget to reach random search's final mean best ({target:.3f})",
                     "value": value, "paper": ""})
    return rows


def validation_rows(validation: Mapping[str, Any] | None, *, synthetic: bool) -> list[dict[str, Any]]:
    """The headline row of the table's validation (Kendall tau of a fresh training against the table), beside the
    verdicts; none for a synthetic table."""
    if synthetic:
        return []
    tau = (validation or {}).get("tau")
    value = "not validated yet" if tau is None else (
        f"{tau['tau']:.2f} ({tau['interval'][0]:.2f} to {tau['interval'][1]:.2f}), {validation['trained']} genomes")
    ceiling = (validation or {}).get("ceiling")
    if ceiling:
        value += f"; the table's replicates {ceiling['tau']:.2f}"
    return [{"label": "Table validation: Kendall tau of a fresh training against the table", "value": value,
             "paper": ""}]


def latency_rows(records: list[dict[str, Any]], oracles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per latency limit R: the winners' mean frame count with its 95% interval, their frame counts, and the
    oracle under R (the best genome by validation that R admits)."""
    rows = []
    for oracle_row in oracles:
        limit = oracle_row["max_latency_ms"]
        frames = [r["winner"]["num_frames"] for r in records if r["max_latency_ms"] == limit and r["winner"]]
        mean, low, high = mean_interval(frames)
        counts = {str(count): frames.count(count) for count in sorted(set(frames))}
        rows.append({"max_latency_ms": limit, "genomes admitted": oracle_row["admitted"], "seeds": len(frames),
                     "mean_frames": mean, "low": low, "high": high, "winners' frames": counts,
                     "oracle_frames": oracle_row["num_frames"], "oracle test top-1": oracle_row["test"]})
    return rows


@dataclasses.dataclass
class Details:
    """What ``run`` computed: every search's record, the arms' summary and the R sweep."""

    records: list[dict[str, Any]]
    arms: list[dict[str, Any]]
    latency: list[dict[str, Any]]

    def tables(self) -> list[Any]:
        """The arms' summary and the R sweep, as tables rounded for reading."""
        import pandas  # deferred: heavy start-up

        return [pandas.DataFrame(self.arms).round(4), pandas.DataFrame(self.latency).round(4)]


def _curves(records: list[dict[str, Any]], labels: list[str], grid: numpy.ndarray) -> dict[str, Any]:
    return {label: searches.band(numpy.array([searches.curve(r, grid) for r in records if r["arm"] == label]))
            for label in labels}


def run(config: Config, *, output_dir: str | Path | None = None) -> experiment.Result:
    """Run every arm's searches and the R sweep on the table, judge, plot and write ``results.json``."""
    import matplotlib.pyplot  # deferred: heavy start-up

    from videonas.plots.strategies import plot_landscape, plot_strategy_curves  # deferred: matplotlib

    folder = summaries.output_folder(NAME, output_dir=output_dir)
    table, path = open_table(config, folder)
    synthetic = is_synthetic(table)
    budget = searches.Budget(str(path), dict(table.menu), config.max_epochs, config.max_proposals, config.batch_size,
                             config.max_params, config.reuse_duplicates)
    has_latency = any(row.latency_ms is not None for row in table.rows)
    limits = landscape.latency_limits(table, config.latency_quantiles) if has_latency and \
        config.latency_quantiles else []
    schedule = next(arm for arm in config.strategies if arm.label == FRAMES_ARM)
    frame_specs = table_frames.frames_specs(schedule, seeds=range(config.num_seeds), top_epochs=table.rung_epochs[-1],
                                            keep=config.rungs.keep, frame_counts=table.menu["frame_counts"],
                                            max_latency_ms=config.max_latency_ms)
    records = searches.run_specs(arm_specs(config, table) + latency_specs(config, table, limits) + frame_specs,
                                 budget, workers=config.workers)
    labels = [arm.label + suffix for suffix in ("", RUNGS) for arm in config.strategies]
    grid = numpy.linspace(0, config.max_epochs, GRID_POINTS)
    bands = _curves(records, labels, grid)
    target = bands["random"]["mean"][-1]
    arms = arm_rows(records, labels, grid, bands, float(target))
    latency = latency_rows([r for r in records if r["arm"].endswith(" at R")], landscape.oracle_under_limits(
        table, limits))
    noise = landscape.replicate_spread(table)
    verdicts = verdicts_of(records, noise_floor=noise, synthetic=synthetic)
    motion = landscape.motion_learners(table, above_chance=config.motion_above_chance)
    learners = {row.index for row, learns in zip(table.rows, motion["mask"]) if learns}
    frames = table_frames.frames_verdicts(records, free=FRAMES_ARM, most_frames=max(table.menu["frame_counts"]),
                                          motion_learners=learners)
    verdicts += [dataclasses.replace(v, question=f"SYNTHETIC table, not a measurement: {v.question}")
                 for v in frames] if synthetic else frames
    validation = None if synthetic else table_validation.read(path, table)
    best = landscape.oracle(table)
    pairs = landscape.parent_child(table)
    label = table_label(table)
    rule = f"motion-class test top-1 >= {config.motion_above_chance:g} x chance (1/7) = {motion['threshold']:.3f}"
    figures = {
        "best_so_far.png": plot_strategy_curves(
            grid, bands, seeds=config.num_seeds, target=float(target), oracle=best["test"],
            title=f"{label}: best so far at equal training budget ({config.max_epochs} epochs per search)"),
        "landscape.png": plot_landscape(landscape.scores(table), motion["mask"], oracle=best, pairs=pairs,
                                        limits=latency, title=f"{label}: the landscape", motion_rule=rule)}
    notes = [f"Table: {label} ({path.name}, {len(table)} genomes).",
             "" if synthetic else f"Validation of the table: {table_validation.describe(validation)}",
             "SYNTHETIC: these verdicts are about a formula and test only the pipeline; they answer nothing about "
             "networks." if synthetic else "",
             f"Budget: {config.max_epochs} training epochs per search, {config.num_seeds} seeds per arm; the winner "
             f"is the validation-best candidate at the top rung, reported by its test top-1.",
             _stall_note(arms, config.max_epochs),
             f"Oracle by validation: test top-1 {best['test']:.3f}; random search's final mean best {target:.3f}.",
             f"{motion['count']} of {motion['known']} genomes learn motion ({rule}); so do "
             f"{table_frames.motion_share(records, table_frames.MOTION, learners)} winners of the searches selecting "
             f"on the motion classes and {table_frames.motion_share(records, table_frames.FORCED, learners)} of the "
             f"forced ones.",
             f"Parent-child correlation under the one-choice mutation: Spearman {pairs['spearman']:.2f}.",
             "Frames: the TVN schedule selecting on the scene classes' and on the motion classes' validation top-1 "
             "(per-kind accuracies of networks trained on all classes: the table's stand-in for a scene-only and a "
             "motion-only data set), and forced to the most frames; the winners' frame counts are in the frames "
             "table."]
    extra = {"table": {"file": path.name, "synthetic": synthetic, "provenance": dict(table.provenance),
                       "genomes": len(table), "rung_epochs": list(table.rung_epochs)},
             "config": {"num_seeds": config.num_seeds, "max_epochs": config.max_epochs,
                        "max_proposals": config.max_proposals, "rungs": config.rungs.to_dict()},
             "per_seed": {label: winners(records, label) for label in labels},
             "per_seed_epochs": {label: {r["seed"]: r["epochs"] for r in records if r["arm"] == label}
                                 for label in labels},
             "arms": arms, "curves": {"epochs": grid.tolist(), **{label: {k: v.tolist() for k, v in band.items()}
                                                                   for label, band in bands.items()}},
             "target": float(target), "oracle": best, "noise_floor": noise,
             "validation": None if validation is None else {k: v for k, v in validation.items() if k != "genomes"},
             "motion": {k: v for k, v in motion.items() if k != "mask"},
             "parent_child": {k: v for k, v in pairs.items() if k not in ("parents", "children")},
             "latency_sweep": latency, "frames": table_frames.frames_rows(records, free=FRAMES_ARM),
             "frames_per_seed": {label: table_frames.winner_field(records, label, "num_frames")
                                 for label in (table_frames.SCENE, table_frames.MOTION, FRAMES_ARM,
                                               table_frames.FORCED)}}
    title = "Search strategies on the tabulated TVN benchmark" + (" (SYNTHETIC table)" if synthetic else "")
    result = experiment.finish(
        folder, title=title, question="At the same training budget, do the TVN schedule and regularized evolution "
        "find better TVNs than random search, and do rungs help?",
        headline=[*answers.verdict_rows(verdicts), *reach_rows(arms, float(target)),
                  *validation_rows(validation, synthetic=synthetic)],
        conclusion=prose.conclusion(verdicts, notes=notes),
        verdicts=verdicts, figures=figures, extra=extra, details=Details(records, arms, latency),
        deterministic="Deterministic: every search, and so every number here, for a given table and configuration "
        "(the table's replicates are the noise; each trial's seed picks one). Bootstrap intervals are seeded.")
    for figure in figures.values():  # shown by result.show(), not again when the cell ends
        matplotlib.pyplot.close(figure)
    return result


def _stall_note(arms: list[dict[str, Any]], max_epochs: int) -> str:
    """The arms some of whose searches ran out of proposals before their budget: they kept proposing genomes they
    had already trained (re-used, at no cost) or that a limit rejected."""
    short = [f"{row['arm']} ({row['stopped by max_proposals']:.0%} of its searches, {row['epochs spent']:.0f} epochs "
             f"spent on average)" for row in arms if row["stopped by max_proposals"] > 0]
    if not short:
        return ""
    return (f"Stopped by max_proposals before the budget of {max_epochs} epochs: {prose.format_list(short)}; these "
            f"searches kept proposing genomes they had already trained (re-used, at no cost) or that a limit "
            f"rejected.")
