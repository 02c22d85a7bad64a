"""An ensemble's members and its R(2+1)D-style baselines trained over training seeds by the comparison protocol
(``videonas.experiments.protocol``), and the ensembles of each training seed: the fixed networks of EvaNet's ensemble
questions (``videonas.experiments.evanet_ensembles`` says why they are retrained rather than taken from each search).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Mapping, Sequence

import numpy

from videonas import ensemble, models, train
from videonas.experiments import comparison, protocol, retrain


@dataclasses.dataclass
class SeedEnsemble:
    """One seed's members (test logits, best on validation first), their ensemble's scores and total FLOPs."""

    seed: int
    members: list
    scores: dict[str, Any]
    flops: int | None


def score_members(seed: int, members: Sequence[Any], labels: Any, *, multi_label: bool = False) -> SeedEnsemble:
    """The ensemble of ``members`` (best on validation first) on the labels; its ``gain`` is over that first member,
    the one a user would otherwise pick."""
    scores = ensemble.evaluate_ensemble([m.logits for m in members], labels, multi_label=multi_label)
    scores["selected_single"] = scores["single"][0]
    scores["gain_over_selected"] = scores["ensemble"] - scores["single"][0]
    return SeedEnsemble(seed, list(members), scores, ensemble.ensemble_cost(members)["flops"])


@dataclasses.dataclass
class FixedRuns:
    """The fixed networks trained over the training seeds: ``members`` and ``baselines`` (``"width"``, ``"flops"``)
    as ``{name: {seed: TrialResult}}``, each network's learning-rate choice, the per-seed FLOPs matches of the
    ``"flops"`` baseline (``unmatched``: the seeds no width could match, and why; those are not compared) and the
    fewest steps each arm's budget allowed (``protocol.check_steps``)."""

    members: dict[str, dict[int, Any]]
    baselines: dict[str, dict[int, Any]]
    choices: dict[str, protocol.LearningRateChoice]
    matches: dict[int, protocol.FlopsMatch]
    steps: dict[str, int]
    unmatched: dict[int, str] = dataclasses.field(default_factory=dict)


def train_fixed(members: Mapping[str, Any], *, baseline: str, width: float, seeds: Sequence[int],
                matches: Mapping[int, protocol.FlopsMatch], executor: Any, options: Mapping[str, Any],
                learning_rates: Sequence[float] | None, save_weights: str | os.PathLike | None = None,
                member_function: str | None = None, baseline_function: str | None = None,
                unmatched: Mapping[int, str] | None = None) -> FixedRuns:
    """Train the members (genomes) and named model ``baseline`` at ``width`` over the training ``seeds``, and the
    baseline at each seed's matched width (``matches``: the seeds some width could match) by the protocol: each
    network's learning rate chosen once on validation from ``learning_rates`` with the first training seed (the
    ``"flops"`` baseline at its first matched seed's width), then every network trained with ``options`` (the same
    task and budget); members save their weights to ``save_weights`` (their test logits make the ensembles). Raises
    ``ValueError`` when a baseline's budget allowed fewer steps than a member trained
    (``comparison.check_references``)."""
    seeds = list(seeds)
    baselines = {"width": retrain.Baseline(baseline, width)}
    if matches:
        baselines["flops"] = retrain.Baseline(baseline, next(iter(matches.values())).width)
    functions = {**{name: member_function for name in members}, **{name: baseline_function for name in baselines}}
    choices = comparison.rate_choices({**members, **baselines}, learning_rates=learning_rates, executor=executor,
                                      options=options, seed=seeds[0], functions=functions)
    saving = {**options, **({} if save_weights is None else {"save_weights": str(save_weights)})}
    member_runs = {name: protocol.train_at(genome, choices[name], seeds=seeds, executor=executor, options=saving,
                                           function=member_function) for name, genome in members.items()}
    baseline_runs = {"width": protocol.train_at(baselines["width"], choices["width"], seeds=seeds, executor=executor,
                                                options=options, function=baseline_function),
                     "flops": {} if not matches else protocol.train_matched(
                         baseline, matches, executor=executor, options=choices["flops"].options(options),
                         function=baseline_function or protocol.EVALUATE_MODEL)}
    return FixedRuns(member_runs, baseline_runs, choices, dict(matches),
                     comparison.check_references(member_runs, baseline_runs), dict(unmatched or {}))


def fixed_ensembles(members: Mapping[str, Mapping[int, Any]],
                    logits: Callable[[str, Any], tuple[numpy.ndarray, numpy.ndarray]], *,
                    multi_label: bool = False) -> dict[int, SeedEnsemble | None]:
    """Per training seed, the ensemble of the members retrained with that seed (``logits(name, result)``: test logits
    and labels), best on validation first (ties: the order of ``members``); ``None`` where a member failed (fewer
    members would be another ensemble)."""
    seeds = list(next(iter(members.values())))
    result: dict[int, SeedEnsemble | None] = {}
    for seed in seeds:
        trained = [(name, runs[seed]) for name, runs in members.items()]
        if any(r.status != "done" or r.fitness is None for _, r in trained):
            result[seed] = None
            continue
        chosen, labels = [], None
        for name, trial in sorted(trained, key=lambda item: -float(item[1].fitness)):  # stable: ties keep the order
            values, labels = logits(name, trial)
            chosen.append(ensemble.Member(name, values, params=trial.params, flops=trial.flops, source="retrained",
                                          fitness=ensemble.score(labels, values, multi_label=multi_label)))
        result[seed] = score_members(seed, chosen, labels, multi_label=multi_label)
    return result


def member_logits(genome: Any, trial: Any, *, task: Any, dataset: Any) -> tuple[numpy.ndarray, numpy.ndarray]:
    """A retrained member's test logits and labels, from the weights its training saved."""
    import keras  # deferred: Keras starts TensorFlow

    path = (trial.metrics or {}).get("weights_path")
    if not path:
        raise ValueError(f"member {genome.key}: its training saved no weights (metrics have no 'weights_path')")
    keras.backend.clear_session()
    model = models.build_model(genome, num_classes=len(dataset.class_names), multi_label=task.multi_label,
                               num_frames=task.num_frames, image_size=task.image_size,
                               width_multiplier=task.width_multiplier)
    model.load_weights(path)
    values, clips = train.predict(model, task=task, split="test", genome=genome, dataset=dataset)
    return values, numpy.asarray(clips.labels)
