"""AssembleNet's search experiment (``notebooks/assemblenet_search.ipynb``): connection-guided against unguided
mutation at equal budgets over seeds, and the evolved four-stream nets against two-stream late fusion of the same
FLOPs, with the verdicts.

Both arms share the seed, so they start from the same random overly-connected graphs and differ only in how they
mutate. Searches select on validation; every reported score (mAP, or top-1) is the held-out test split's. The
late-fusion baseline (an R(2+1)D-10 per stream, logits averaged) gets the width whose FLOPs match the median FLOPs of
the arms' best evolved nets, and the candidates' recipe and epochs, once per seed.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

import numpy

from videonas import search
from videonas.experiments import answers, fields, claims, experiment, prose, retrain, summaries
from videonas.experiments.arms import Arm, ArmRuns, run_arms
from videonas.genome import published
from videonas.genome.assemblenet import Stem, edges, pruned_edge_ranks
from videonas.genome.base import edge_weights_from

NAME = "assemblenet_search"
STORE = "search.sqlite"
GUIDED, UNGUIDED = "guided", "unguided"
BASELINE = "two-stream"
TITLE = "AssembleNet: four-stream connectivity search"
QUESTION = ("Does connection-learning-guided mutation find better multi-stream (RGB + flow) networks than unguided "
            "mutation, and do they beat two-stream late fusion of the same FLOPs?")
DETERMINISTIC = ("Deterministic for a fixed seed: the first candidates of each search (the same for guided and "
                 "unguided, checked above), the published graphs, the pruning choice for given weights, parameter "
                 "counts and FLOPs. Not exactly repeatable: mAP and learned edge weights (CPU training), hence later "
                 "rounds.")


@dataclasses.dataclass(frozen=True)
class Config:
    """``search``: the ``SearchConfig`` fields both arms share (an AssembleNet space; its task and budget also train
    the baseline); ``arms``: ``guided`` and ``unguided`` mutation, each a strategy; one search per arm and seed;
    ``resume`` keeps the store of a previous run."""

    search: Mapping[str, Any]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    resume: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: fields.parse_search(value, where, family="assemblenet", compared=True),
            "arms": lambda value, where: fields.parse_arms(value, where, labels=(GUIDED, UNGUIDED)),
            "seeds": fields.parse_seeds, "resume": fields.parse_flag})


def deterministic_facts(config: Config) -> list[str]:
    """What repeats exactly (nbval checks it): the published graphs, each arm's first random overly-connected
    candidates for the first seed (the same for both arms), and which edge guided pruning removes when the weights
    are given."""
    lines = []
    for name in ("AssembleNet-50", "AssembleNet-101"):
        net = published.load(name)
        stems = [(node.modality, node.temporal_dilation) for node in net.nodes if isinstance(node, Stem)]
        lines.append(f"{name}: {len(net.nodes)} nodes, {len(edges(net))} edges, stems {stems}")
    shared = fields.shared_search(config.search)
    space = shared.build_space()
    for arm in config.arms:
        first = population(arm, space=space, seed=config.seeds[0])
        lines.append(f"{arm.label} first candidates: {[g.key for g in first]}, edges {[len(edges(g)) for g in first]}")
    sample = first[0]
    ramp = {edge: round(0.1 + 0.8 * i / max(1, len(edges(sample)) - 1), 3) for i, edge in enumerate(edges(sample))}
    pruner = type(space)(**{**shared.space.options, "operations": ["remove_edge"]})
    child = pruner.mutate(sample, numpy.random.default_rng(0), edge_weights=ramp)
    lost = sorted(set(edges(sample)) - set(edges(child)))
    lines.append(f"guided pruning of {sample.key} with weights rising along its edges: removes {lost}, "
                 f"rank {pruned_edge_ranks(sample, child, ramp)}")
    return lines


def population(arm: Arm, *, space: Any, seed: int) -> list[Any]:
    """The random overly-connected graphs that start ``arm``'s search with ``seed`` (its whole first population)."""
    size = search.make_strategy(arm.strategy, space, seed=seed, **arm.strategy_options).options["population_size"]
    return search.make_strategy(arm.strategy, space, seed=seed, batch_size=size, **arm.strategy_options).ask()


@dataclasses.dataclass
class AssembleNetSearch:
    """The arms' searches, the noise floor's runs, the matched late-fusion baseline's runs and the verdicts."""

    runs: ArmRuns
    noise_runs: dict[int, Any]
    baseline: retrain.Baseline
    baseline_flops: int
    target_flops: float
    baseline_runs: dict[int, Any]
    verdicts: list
    metric: str


def best_flops(runs: ArmRuns) -> float:
    """The median FLOPs of every arm's per-seed best net: what the late-fusion baseline is matched to."""
    flops = [t.flops for label in runs.labels for t in runs.best(label).values() if t is not None and t.flops]
    if not flops:
        raise ValueError("no arm has a finished trial with FLOPs: nothing to match the baseline to")
    return float(numpy.median(flops))


def run(config: Config, *, output_dir: str | os.PathLike | None = None, progress: bool = True) -> experiment.Result:
    """Run both arms over the seeds, retrain guided's first-seed best over the seeds (the noise floor) and train the
    FLOPs-matched two-stream baseline once per seed, all on the configured executor; judge the questions, draw the
    figures and write ``results.json``."""
    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    return report(run_searches(config, folder=folder, progress=progress), folder=folder)


def run_searches(config: Config, *, folder: Path, progress: bool = True) -> AssembleNetSearch:
    """The searches (store in ``folder``), the noise floor's runs and the baseline's, on one executor this owns."""
    shared = fields.shared_search(config.search)
    typed, options = shared.task, fields.trial_fields(shared)
    runner = shared.executor.build()
    try:
        runs = run_arms(arms=config.arms, seeds=config.seeds, search=config.search, store=folder / STORE,
                        executor=runner, progress=progress)
        _, noise_runs = retrain.retrain_best(runs, label=GUIDED, executor=runner, options=options,
                                             function=shared.evaluate.function)
        target = best_flops(runs)
        num_classes = len(typed.open_dataset().class_names)
        width, flops = retrain.match_width(
            lambda w: retrain.Baseline(BASELINE, w).build(num_classes=num_classes, num_frames=typed.num_frames,
                                                         image_size=typed.image_size, multi_label=typed.multi_label),
            target_flops=target)
        baseline = retrain.Baseline(BASELINE, width)
        baseline_runs = retrain.train_baselines(baseline, seeds=config.seeds, executor=runner,
                                                task=typed.to_dict(), budget=shared.budget.to_dict())
    finally:
        runner.close()
    result = AssembleNetSearch(runs, noise_runs, baseline, flops, target, baseline_runs, [],
                               "mAP" if typed.multi_label else "top-1")
    result.verdicts = verdicts(result)
    return result


def report(result: AssembleNetSearch, *, folder: Path) -> experiment.Result:
    """The figures, conclusion and ``results.json`` in ``folder``."""
    from matplotlib import pyplot  # deferred: matplotlib

    from videonas.plots import assemblenet as assemblenet_plots  # deferred: matplotlib

    runs = result.runs
    drawn = {"verdicts.png": assemblenet_plots.search_figure({label: runs.curves(label) for label in runs.labels},
                                                             result.verdicts, metric=result.metric),
             "best_graph.png": assemblenet_plots.draw_assemblenets(panels(runs, metric=result.metric))}
    for figure in drawn.values():  # shown by Result.show, not again by a notebook's inline backend
        pyplot.close(figure)
    return experiment.finish(
        folder, title=TITLE, question=QUESTION, headline=headline(result),
        conclusion=prose.conclusion(result.verdicts, notes=notes(result)), verdicts=result.verdicts, figures=drawn,
        deterministic=DETERMINISTIC,
        extra={"summary": runs.summary(), "pruned_edge_ranks": pruned_ranks(runs),
               "baseline": {"model": result.baseline.label, "flops": result.baseline_flops,
                            "target_flops": result.target_flops}, "store": str(folder / STORE)},
        outputs={"store": folder / STORE}, dataset=result.runs.dataset(), details=result)


def verdicts(result: AssembleNetSearch) -> list:
    """Guided against unguided mutation, and guided's best against the matched late-fusion net (test points,
    paired by seed), with the noise floor beside them."""
    floor = retrain.noise_floor(result.noise_runs)
    guided = {seed: None if v is None else 100 * v for seed, v in result.runs.scores(GUIDED).items()}
    baseline = {seed: None if v is None else 100 * v
                for seed, v in retrain.held_out_scores(result.baseline_runs).items()}
    return [result.runs.verdict("assemblenet_guided_vs_unguided", a=GUIDED, b=UNGUIDED, noise_floor=floor),
            claims.ask("assemblenet_vs_two_stream", a=guided, b=baseline,
                       noise_floor=None if floor is None else 100 * floor)]


def pruned_ranks(runs: ArmRuns) -> dict[str, list[float]]:
    """Per arm, where each edge a child lost sat in its parent's learned weights (0 = weakest, 1 = strongest), over
    every seed: guided pruning should remove low-ranked edges, unguided pruning any (mean about 0.5)."""
    ranks: dict[str, list[float]] = {label: [] for label in runs.labels}
    for (label, _), stored in runs.experiments.items():
        by_index = {t.index: t for t in stored.trials()}
        for trial in stored.trials():
            parent = by_index.get(trial.parent)
            if parent is not None and parent.learned:
                ranks[label] += pruned_edge_ranks(stored.genome(parent), stored.genome(trial),
                                                  edge_weights_from(parent.learned["edge_weights"]))
    return ranks


def panels(runs: ArmRuns, *, metric: str) -> list[dict[str, Any]]:
    """Two distinct graphs to draw, ``{"genome", "edge_weights", "title"}``: the best *mutated* guided net over all
    seeds (chosen on validation) and the random overly-connected graph its lineage started from. When a seed's
    best is an unmutated start, the panels show a mutated one instead and say so."""
    candidates = [(float(t.fitness), -t.index, seed, t) for seed in runs.seeds
                  for t in runs.experiments[GUIDED, seed].trials("done") if t.parent is not None]
    if not candidates:
        raise ValueError("no guided child finished: every trial is a starting sample; run more candidates")
    _, _, seed, child = max(candidates, key=lambda item: item[:2])
    experiment = runs.experiments[GUIDED, seed]
    root = answers.lineage_root(experiment, child)
    overall = runs.best(GUIDED)[seed]
    note = "" if overall.index == child.index else f" (seed {seed}'s best overall is trial {overall.index})"
    rows = []
    for trial, what in ((root, "random start of its lineage"), (child, f"best mutated guided net{note}")):
        genome = experiment.genome(trial)
        rows.append({"genome": genome, "edge_weights": edge_weights_from((trial.learned or {}).get("edge_weights")),
                     "title": f"{what}\nseed {seed}, trial {trial.index}: {len(edges(genome))} edges, "
                              f"val {metric} {trial.fitness:.3f}"})
    return rows


def notes(result: AssembleNetSearch) -> list[str]:
    """Sentences the verdicts do not say: the baseline's matched cost, where the bests came from, pruning ranks."""
    runs, total = result.runs, len(result.runs.seeds)
    start = {label: answers.unmutated_bests(runs, label=label) for label in runs.labels}
    ranks = pruned_ranks(runs)
    rank_text = "; ".join(f"{label} children lost edges of mean weight rank {numpy.mean(values):.2f} "
                          f"({len(values)} {'edge' if len(values) == 1 else 'edges'})"
                          for label, values in ranks.items() if values)
    off = result.baseline_flops / result.target_flops - 1
    matched = "" if abs(off) <= 0.1 else f" ({off:+.0%}: the closest its widths allow)"
    return [f"The late-fusion baseline is {result.baseline.label} at {result.baseline_flops / 1e6:.1f} MFLOPs, "
            f"matched to the evolved nets' median {result.target_flops / 1e6:.1f} MFLOPs{matched}, trained with the "
            "same recipe and epochs.",
            f"Each seed's best was an unmutated starting graph (both arms share them) in "
            f"{answers.seeds_text(start[GUIDED], total)} for guided and "
            f"{answers.seeds_text(start[UNGUIDED], total)} for unguided mutation.",
            f"Pruning: {rank_text or 'no child lost an edge'} (0 = the parent's weakest edge, 0.5 = no preference)."]


def headline(result: AssembleNetSearch) -> list[dict[str, Any]]:
    """The verdicts, then the test scores over seeds of each arm, the noise floor's net and the baseline."""
    scores = {f"{label} mutation (best of each search)": result.runs.scores(label) for label in result.runs.labels}
    scores[f"guided's seed-{result.runs.seeds[0]} best, retrained"] = retrain.held_out_scores(result.noise_runs)
    scores[f"two-stream late fusion ({result.baseline.label}, same FLOPs)"] = retrain.held_out_scores(
        result.baseline_runs)
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric=result.metric)]
