"""Ensembles of evolved models: average the members' logits, score the average, add up the cost.

EvaNet's point is that one evolutionary search yields several *diverse* architectures of similar accuracy at no extra
cost, and that averaging their logits beats the best single net (+0.8 to +1.3 points in the paper, whose ensemble is
EvaNet-A and -B, each trained on RGB and on flow: four models). Here:

- ``ensemble_scores`` / ``evaluate_ensemble``: pure numpy on per-model validation logits;
- ``ensemble_cost``: FLOPs, parameters and latency of running every member (they add up);
- ``select_diverse_trials`` + ``trial_members``: the top-k structurally diverse trials of an EvaNet search and their
  validation logits, from the weights the search saved (its configuration's ``save_weights``) or, where none were
  saved, by retraining the genome in this process with the trial's task, budget and seed;
- ``train_member``: the search's training recipe for anything else (a flow net, a hand-made baseline).

Keras and the data layer are imported inside the functions that train or predict, so the pure parts stay cheap.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy

from videonas import selected, train
from videonas.checks import check_int
from videonas.genome.evanet import EvaNetGenome, distance, select_diverse


@dataclasses.dataclass
class Member:
    """One trained model's validation logits and cost. ``source`` says where the logits came from: "weights" (the
    search's saved weights), "retrained" (same genome, task, budget and seed, trained again here) or "trained"."""

    name: str
    logits: numpy.ndarray
    params: int | None = None
    flops: int | None = None
    latency_ms: float | None = None
    source: str = "trained"
    fitness: float | None = None


def ensemble_scores(logits: Sequence[Any]) -> numpy.ndarray:
    """The ensemble's scores: the element-wise mean of the members' logits, shape (clips, classes)."""
    if len(logits) == 0:
        raise ValueError("logits must hold at least one model's logits, got an empty sequence")
    arrays = [numpy.asarray(x, dtype="float64") for x in logits]
    for index, array in enumerate(arrays):
        if array.ndim != 2:
            raise ValueError(f"logits[{index}] must be 2-D (clips, classes), got shape {array.shape}")
        if array.shape != arrays[0].shape:
            raise ValueError(f"logits[{index}] has shape {array.shape}, logits[0] has {arrays[0].shape}")
        if not numpy.all(numpy.isfinite(array)):
            raise ValueError(f"logits[{index}] holds non-finite values")
    return numpy.mean(numpy.stack(arrays), axis=0)


def score(labels: Any, scores: Any, *, multi_label: bool = False) -> float:
    """Top-1 accuracy, or mAP for multi-label (multi-hot) labels: the search's fitness."""
    return train.score(numpy.asarray(scores), labels, multi_label=multi_label)[0]


def evaluate_ensemble(logits: Sequence[Any], labels: Any, *, multi_label: bool = False) -> dict[str, Any]:
    """Score every member and their average: ``{"metric", "members", "single", "best_single", "ensemble", "gain"}``.

    ``gain`` is the ensemble's score minus the best member's, the quantity the paper reports (+0.8 to +1.3 points).
    """
    scores = ensemble_scores(logits)
    labels = numpy.asarray(labels)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"labels has {labels.shape[0]} clips, the logits have {scores.shape[0]}")
    single = [score(labels, x, multi_label=multi_label) for x in logits]
    ensemble = score(labels, scores, multi_label=multi_label)
    return {"metric": "mAP" if multi_label else "accuracy", "members": len(single), "single": single,
            "best_single": max(single), "ensemble": ensemble, "gain": ensemble - max(single)}


def ensemble_cost(members: Sequence[Member | Mapping[str, Any]]) -> dict[str, Any]:
    """Running every member costs the sum of their FLOPs, parameters and (sequential) latencies.

    A figure is ``None`` when any member lacks it, rather than a sum that silently leaves one out.
    """
    if len(members) == 0:
        raise ValueError("members must not be empty")
    totals: dict[str, Any] = {"members": len(members)}
    for field in ("flops", "params", "latency_ms"):
        values = [m.get(field) if isinstance(m, Mapping) else getattr(m, field) for m in members]
        totals[field] = None if any(v is None for v in values) else sum(values)
    return totals


def distance_matrix(genomes: Sequence[EvaNetGenome]) -> numpy.ndarray:
    """Pairwise ``videonas.genome.evanet.distance`` of the genomes (symmetric, zero diagonal)."""
    size = len(genomes)
    matrix = numpy.zeros((size, size), dtype="int64")
    for i in range(size):
        for j in range(i + 1, size):
            matrix[i, j] = matrix[j, i] = distance(genomes[i], genomes[j])
    return matrix


def ranked_trials(experiment) -> list:
    """Finished trials of an experiment, best first (highest rung reached, then fitness; ties: earlier trial), one
    per genome (duplicates dropped)."""
    seen: set[str] = set()
    ranked = []
    for trial in sorted(experiment.trials("done"), key=lambda t: (-(getattr(t, "rung", None) or 0), -t.fitness, t.index)):
        if trial.genome_key not in seen:
            seen.add(trial.genome_key)
            ranked.append(trial)
    return ranked


def select_diverse_trials(experiment, k: int, *, min_distance: int) -> list:
    """The top-``k`` diverse trials of an EvaNet search (``select_diverse`` over the fitness ranking)."""
    ranked = ranked_trials(experiment)
    genomes = [experiment.genome(trial) for trial in ranked]
    for trial, genome in zip(ranked, genomes):
        if not isinstance(genome, EvaNetGenome):
            raise ValueError(f"experiment {experiment.name!r} trial {trial.index} is not an EvaNet genome")
    chosen = select_diverse(genomes, k, min_distance)
    by_key = {genome.key: trial for genome, trial in zip(genomes, ranked)}
    return [by_key[genome.key] for genome in chosen]


def trial_task(experiment):
    """The ``TrainTask`` and ``Budget`` an experiment's trials were trained with (from its stored configuration)."""
    options = experiment.trial_options()
    return options.task, options.budget


def trial_members(experiment, trials: Sequence[Any], *, retrain_dir: str | Path | None = None,
                  split: str = "val") -> tuple[list[Member], numpy.ndarray]:
    """Logits of ``trials`` on ``split`` (``"val"``, or ``"test"`` for reports) and that split's labels.

    A trial whose saved weights (``metrics["weights_path"]``) still exist is rebuilt and loaded; otherwise its genome
    is retrained here with the experiment's task and budget and the trial's seed (``videonas.selected.trained_model``;
    its weights go to ``retrain_dir``, where a later call finds them, or nowhere if ``None``). With a ``seconds`` budget a retrained model sees as many steps as this machine
    manages now, so its fitness can differ from the stored one; the member's ``fitness`` is recomputed either way.
    """
    task, _ = trial_task(experiment)
    dataset = task.open_dataset()
    members, labels = [], None
    for trial in trials:
        genome = experiment.genome(trial)
        model, source = selected.trained_model(experiment, trial, dataset=dataset, retrain_dir=retrain_dir)
        logits, clips = train.predict(model, task=task, split=split, genome=genome, dataset=dataset)
        labels = numpy.asarray(clips.labels)
        members.append(Member(name=f"trial {trial.index}", logits=logits, params=trial.params, flops=trial.flops,
                              latency_ms=trial.latency_ms, source="weights" if source["weights"] else "retrained",
                              fitness=score(labels, logits, multi_label=task.multi_label)))
    return members, labels


def train_member(name: str, make_model: Callable[[int], Any], *, task, budget, seed: int
                 ) -> tuple[Member, numpy.ndarray]:
    """Train ``make_model(num_classes)`` with the search's recipe (``videonas.train.fit``: data subset, Adam, batch
    size, budget, seed) on clips at the task's input, and return its validation logits as a ``Member`` plus the
    validation labels. The streams are the model's input names ("rgb", "flow").

    For models a trial cannot express: an EvaNet on optical flow (the paper's second stream) or a hand-made baseline.
    """
    import keras  # Keras: deferred

    from videonas import measure  # Keras: deferred

    check_int("seed", seed, 0, 2**63 - 1)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    dataset = task.open_dataset()
    model = make_model(len(dataset.class_names))
    train.fit(model, task=task, budget=budget, seed=seed, dataset=dataset)
    logits, clips = train.predict(model, task=task, dataset=dataset)
    labels = numpy.asarray(clips.labels)
    member = Member(name=name, logits=logits, params=measure.count_params(model), flops=measure.count_flops(model),
                    source="trained", fitness=score(labels, logits, multi_label=task.multi_label))
    return member, labels


__all__ = [
    "Member", "distance_matrix", "ensemble_cost", "ensemble_scores", "evaluate_ensemble", "ranked_trials", "score",
    "select_diverse_trials", "train_member", "trial_members", "trial_task",
]
