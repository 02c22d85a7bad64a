"""What a report needs of the trials it selects: their trained networks, and their held-out test scores.

Searches score validation only (what they select on): scoring every candidate on the test split costs time that no
answer uses, since only the selected trials (each search's winner, ensemble members, the diverse pair) are reported.
``score_test`` scores a trial on test when it is selected, from the weights the trial saved (the run configuration's
``save_weights``) or, where none were kept, by retraining its genome with the search's recipe, task, budget and the
trial's seed; the score goes into the trial's stored metrics (``metrics["test"]``, as a trial scored during training
has it), so it is computed once. ``trained_model`` is the one way to get a trial's network back (exports, ensemble
members).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from videonas import config, models, train
from videonas.search.store import Trial, TrialStore


def trained_model(experiment, trial: Trial, *, dataset=None, retrain_dir: str | Path | None = None,
                  epochs: int | None = None, score_test: bool = False) -> tuple[Any, dict[str, Any]]:
    """``(model, source)``: ``trial``'s network with its trained weights, and where they came from (``"weights"``
    with the file, or ``"retrained"`` with the recipe and ``"metrics"``, the retraining's). Retraining runs the
    trial's epochs (its rung's, in a search with rungs; ``epochs`` overrides them) and scores test if asked.

    Retrained weights go to ``retrain_dir`` when given (a later call loads them); the model is built at the seed of
    the trial, so a retrained one starts from the same initial weights as the search's."""
    import keras  # Keras: deferred

    options = experiment.trial_options()
    task, budget = options.task, options.budget
    if epochs or trial.epochs:
        budget = dataclasses.replace(budget, epochs=int(epochs or trial.epochs), score_epochs=())
    dataset = task.open_dataset() if dataset is None else dataset
    genome = experiment.genome(trial)
    seed = int(trial.seed or 0)
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = models.build_model(genome, num_classes=len(dataset.class_names), multi_label=task.multi_label,
                               num_frames=task.num_frames, image_size=task.image_size,
                               width_multiplier=task.width_multiplier)
    saved = (trial.metrics or {}).get("weights_path")
    retrained = Path(retrain_dir) / f"{experiment.name}-trial{trial.index}.weights.h5" if retrain_dir else None
    for path in (saved, retrained):
        if path and Path(path).is_file():
            model.load_weights(str(path))
            return model, {"weights": str(path)}
    result = train.fit_and_score(model, task=dataclasses.replace(task, score_test=score_test), budget=budget,
                                 seed=seed, genome=genome, dataset=dataset)
    if result.status != "done":
        raise ValueError(f"retraining trial {trial.index} of {experiment.name!r} ended {result.status}: "
                         f"{result.error}")
    if retrained is not None:
        retrained.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(retrained))
    return model, {"weights": None, "metrics": result.metrics,
                   "retrained": {"recipe": "videonas.train.fit_and_score", "seed": seed, "budget": budget.to_dict(),
                                 "task": task.to_dict(), "fitness": result.fitness}}


def score_test(experiment, trial: Trial | None) -> Trial | None:
    """``trial`` with ``metrics["test"]``: as stored, or scored now on the test split and stored. ``None`` and trials
    that did not finish pass through; so does a data set without a test split."""
    if trial is None or trial.status != "done" or "test" in (trial.metrics or {}) or not _trains(experiment):
        return trial
    task = experiment.trial_options().task
    dataset = task.open_dataset()
    if "test" not in dataset.splits:
        return trial
    genome = experiment.genome(trial)
    model, source = trained_model(experiment, trial, dataset=dataset)
    scores, clips = train.predict(model, task=task, split="test", genome=genome, dataset=dataset)
    test = {**train.score(scores, clips.labels, multi_label=task.multi_label, dataset=dataset)[1],
            "num_clips": len(clips), "scored": "when selected", **({} if source.get("weights")
                                                                   else {"retrained": True})}
    with TrialStore(experiment.store.path) as store:
        store.update_metrics(experiment.name, trial.index, {"test": test})
    return dataclasses.replace(trial, metrics={**(trial.metrics or {}), "test": test})


def _trains(experiment) -> bool:
    """Whether the experiment's trials trained networks (the default trial function) that can be scored; another
    trial function, such as the synthetic benchmark's, or a view not built from a store has none."""
    return getattr(experiment, "config", None) is not None and config.stored_default_evaluate(experiment.config)


__all__ = ["score_test", "trained_model"]
