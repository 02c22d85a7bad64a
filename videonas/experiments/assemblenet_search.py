"""AssembleNet's search experiment (``notebooks/assemblenet_search.ipynb``): connection-guided against unguided
mutation at equal budgets over seeds, and the evolved four-stream net against two-stream late fusion of the same
FLOPs, with the verdicts.

Both arms share the seed, so they start from the same random overly-connected graphs and differ only in how they
mutate. Searches select on validation; every reported score (mAP, or top-1) is the held-out test split's.

The evolved net against late fusion is a comparison of two fixed networks, by the comparison protocol
(``videonas.experiments.protocol``): the evolved net is guided's best on validation over all seeds; the late-fusion
baseline (an R(2+1)D-10 per stream, logits averaged) is matched to its FLOPs within 10% for every training seed
(``comparison.match_reachable``: a seed no width can match is not compared); each network's learning rate is chosen
once on validation from ``learning_rates`` (not the candidates' rate), both train over ``training_seeds`` with the
same ``budget`` (patience, when it has one), and ``check_steps`` refuses a baseline that could train fewer steps than
the evolved net. The evolved net's spread over the training seeds is the noise floor.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy

from videonas import search
from videonas.experiments import answers, claims, comparison, experiment, fields, prose, protocol, retrain, summaries
from videonas.experiments.arms import Arm, ArmRuns, run_arms
from videonas.genome import published
from videonas.genome.assemblenet import Stem, edges, pruned_edge_ranks
from videonas.genome.base import edge_weights_from
from videonas.task import Budget

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
    """``search``: the ``SearchConfig`` fields both arms share (an AssembleNet space; its task also trains the
    fixed networks); ``arms``: ``guided`` and ``unguided`` mutation, each a strategy; one search per arm and seed;
    ``resume`` keeps the store of a previous run.

    The evolved net against late fusion: ``training_seeds`` (``None``: ``seeds``) train both; ``budget`` (``None``:
    the search's, its top rung) trains both; ``learning_rates`` (``None``: the task's rate) is the grid each one's
    rate is chosen from on validation, with the first training seed."""

    search: Mapping[str, Any]
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    resume: bool = False
    training_seeds: tuple[int, ...] | None = None
    budget: Budget | None = None
    learning_rates: tuple[float, ...] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, *, path: str = "config") -> "Config":
        return experiment.parse_config(cls, data, path=path, parsers={
            "search": lambda value, where: fields.parse_search(value, where, family="assemblenet", compared=True),
            "arms": lambda value, where: fields.parse_arms(value, where, labels=(GUIDED, UNGUIDED)),
            "seeds": fields.parse_seeds, "resume": fields.parse_flag,
            "training_seeds": lambda value, where: None if value is None else fields.parse_seeds(value, where),
            "budget": fields.parse_budget, "learning_rates": fields.parse_learning_rates})

    @property
    def comparison_seeds(self) -> tuple[int, ...]:
        """The training seeds of the evolved net and the late-fusion baseline."""
        return self.seeds if self.training_seeds is None else self.training_seeds


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
class Fixed:
    """The evolved net and the late-fusion baseline trained over the training seeds (``{seed: TrialResult}``), their
    learning-rate choices (``"evolved"``, ``"late fusion"``), the baseline's per-seed FLOPs matches (``unmatched``:
    the seeds no width could match, and why; those are not compared) and the fewest steps its budget allowed
    (``protocol.check_steps``)."""

    evolved: dict[int, Any]
    baseline: dict[int, Any]
    choices: dict[str, protocol.LearningRateChoice]
    matches: dict[int, protocol.FlopsMatch]
    steps: dict[str, int]
    unmatched: dict[int, str] = dataclasses.field(default_factory=dict)


def fixed_runs(fixed: Fixed) -> dict[str, dict[int, Any]]:
    """The compared networks' trainings by name, as the report names them."""
    return {"evolved": fixed.evolved, "late fusion": fixed.baseline}


@dataclasses.dataclass
class AssembleNetSearch:
    """The arms' searches, the evolved net (``(seed, trial)`` of guided's overall best), the fixed networks' runs and
    the verdicts."""

    runs: ArmRuns
    evolved: tuple[int, Any]
    fixed: Fixed
    verdicts: list
    metric: str


def train_fixed(genome: Any, *, seeds: Sequence[int], matches: Mapping[int, protocol.FlopsMatch], executor: Any,
                options: Mapping[str, Any], learning_rates: Sequence[float] | None, function: str | None = None,
                baseline_function: str = protocol.EVALUATE_MODEL, unmatched: Mapping[int, str] | None = None) -> Fixed:
    """The evolved ``genome`` over the training ``seeds`` and the late-fusion baseline at each seed's matched width
    (``matches``: the seeds some width could match), each at its learning rate chosen on validation
    (``comparison.rate_choices`` with the first training seed, the baseline at its first matched width), trained with
    the same ``options``; ``ValueError`` when the baseline's budget allowed fewer steps than the evolved net trained."""
    seeds = list(seeds)
    networks = {"evolved": genome}
    if matches:
        networks["late fusion"] = retrain.Baseline(BASELINE, next(iter(matches.values())).width)
    choices = comparison.rate_choices(networks, learning_rates=learning_rates, executor=executor, options=options,
                                      seed=seeds[0], functions={"evolved": function, "late fusion": baseline_function})
    evolved = protocol.train_at(genome, choices["evolved"], seeds=seeds, executor=executor, options=options,
                                function=function)
    baseline = {} if not matches else protocol.train_matched(
        BASELINE, matches, executor=executor, options=choices["late fusion"].options(options),
        function=baseline_function)
    return Fixed(evolved, baseline, choices, dict(matches),
                 comparison.check_references({"evolved": evolved}, {"late fusion": baseline}), dict(unmatched or {}))


def run(config: Config, *, output_dir: str | os.PathLike | None = None, progress: bool = True) -> experiment.Result:
    """Run both arms over the seeds, then train guided's overall best and the FLOPs-matched two-stream baseline over
    the training seeds, all on the configured executor; judge the questions, draw the figures and write
    ``results.json``."""
    folder = summaries.output_folder(NAME, output_dir=output_dir, store=STORE, resume=config.resume)
    return report(run_searches(config, folder=folder, progress=progress), folder=folder)


def run_searches(config: Config, *, folder: Path, progress: bool = True) -> AssembleNetSearch:
    """The searches (store in ``folder``) and the fixed networks' runs, on one executor this owns."""
    shared = fields.shared_search(config.search)
    typed, options = shared.task, fields.trial_fields(shared)
    summaries.require_test_split(typed.open_dataset(), experiment=NAME)
    if config.budget is not None:
        options = {**options, "budget": config.budget.to_dict()}
    runner = shared.executor.build()
    try:
        runs = run_arms(arms=config.arms, seeds=config.seeds, search=config.search, store=folder / STORE,
                        executor=runner, progress=progress)
        seed, trial, genome = runs.overall_best(GUIDED)
        if not trial.flops:
            raise ValueError(f"guided's best (seed {seed}, trial {trial.index}) has no FLOPs count: nothing to match "
                             "the late-fusion baseline to")
        num_classes = len(typed.open_dataset().class_names)
        matches, unmatched = comparison.match_reachable(
            lambda w: retrain.Baseline(BASELINE, w).build(num_classes=num_classes, num_frames=typed.num_frames,
                                                         image_size=typed.image_size, multi_label=typed.multi_label),
            {training_seed: float(trial.flops) for training_seed in config.comparison_seeds},
            label="two-stream late fusion")
        fixed = train_fixed(genome, seeds=config.comparison_seeds, matches=matches, unmatched=unmatched,
                            executor=summaries.stored_trainings(runner, folder), options=options,
                            learning_rates=config.learning_rates,
                            function=shared.evaluate.function)
    finally:
        runner.close()
    result = AssembleNetSearch(runs, (seed, trial), fixed, [], "mAP" if typed.multi_label else "top-1")
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
        deterministic=summaries.repeatability(DETERMINISTIC, (t for ts in runs.trials().values() for t in ts)),
        extra={"summary": runs.summary(), "pruned_edge_ranks": pruned_ranks(runs),
               "evolved": {"seed": result.evolved[0], "trial": result.evolved[1].index,
                           "flops": result.evolved[1].flops},
               "baseline": {"model": BASELINE, "per_seed": {seed: match.to_dict()
                                                            for seed, match in result.fixed.matches.items()},
                            "unmatched": result.fixed.unmatched},
               "learning_rates": {name: choice.to_dict() for name, choice in result.fixed.choices.items()},
               "steps_allowed": result.fixed.steps,
               "still_improving": comparison.still_improving(fixed_runs(result.fixed)), "store": str(folder / STORE)},
        outputs={"store": folder / STORE}, dataset=result.runs.dataset(), details=result)


def verdicts(result: AssembleNetSearch) -> list:
    """Guided against unguided mutation (each search's best mutated candidate, test points, paired by search seed:
    the starting graphs both arms share are left out), and the evolved net against the matched late-fusion net
    (paired by training seed), with the noise floor (the evolved net's spread over the training seeds) beside
    them."""
    floor = retrain.noise_floor(result.fixed.evolved)
    return [result.runs.verdict("assemblenet_guided_vs_unguided", a=GUIDED, b=UNGUIDED, noise_floor=floor,
                                children=True),
            claims.ask_scores("assemblenet_vs_two_stream", a=retrain.held_out_scores(result.fixed.evolved),
                              b=retrain.held_out_scores(result.fixed.baseline), noise_floor=floor)]


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
    seed, trial = result.evolved
    fixed = result.fixed
    return [f"The evolved net is guided's best on validation (seed {seed}, trial {trial.index}); the late-fusion "
            f"baseline ({BASELINE}) is matched to its FLOPs within 10% per training seed: "
            f"{comparison.matches_text(fixed.matches, target='evolved') or 'no seed'}. Both trained over "
            f"{len(fixed.evolved)} "
            f"training seeds with the same budget and {comparison.rates_text(fixed.choices)}; the baseline's budget "
            f"allowed at least as many steps as the evolved net trained ({comparison.steps_text(fixed.steps)}).",
            *([f"Not compared at equal FLOPs (no width within 10%): {comparison.unmatched_text(fixed.unmatched)}."]
              if fixed.unmatched else []),
            *filter(None, [comparison.still_improving_text(fixed_runs(fixed))]),
            f"Each seed's best was an unmutated starting graph (both arms share them) in "
            f"{answers.seeds_text(start[GUIDED], total)} for guided and "
            f"{answers.seeds_text(start[UNGUIDED], total)} for unguided mutation.",
            f"Pruning: {rank_text or 'no child lost an edge'} (0 = the parent's weakest edge, 0.5 = no preference)."]


def headline(result: AssembleNetSearch) -> list[dict[str, Any]]:
    """The verdicts, then the test scores over seeds of each arm, the noise floor's net and the baseline."""
    scores = {f"{label} mutation (best of each search)": result.runs.scores(label) for label in result.runs.labels}
    scores.update({f"{label} mutation (best mutated candidate of each search)": result.runs.scores(label, children=True)
                   for label in result.runs.labels})
    seed, trial = result.evolved
    scores[f"evolved net (guided seed {seed}, trial {trial.index}), over the training seeds"] = \
        retrain.held_out_scores(result.fixed.evolved)
    scores["two-stream late fusion (same FLOPs), over the training seeds"] = retrain.held_out_scores(
        result.fixed.baseline)
    return [*answers.verdict_rows(result.verdicts), *answers.score_rows(scores, metric=result.metric)]
