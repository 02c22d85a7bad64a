"""What every search notebook computes from its trials: a per-search summary row, each seed's best, the best trial
over seeds, a near-chance warning, and the output folder.

Trials are read by attribute (``index``, ``status``, ``fitness``, ``latency_ms``, ``params``, ``flops``,
``rejected_by``, and where present ``rung``, ``epochs``, ``metrics``), as ``videonas.search`` stores them; nothing here imports Keras or the search package.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

STORE_SUFFIXES = ("", "-wal", "-shm")
TRAININGS = "trainings.sqlite"  # the fixed networks' finished trainings (videonas.search.trainings)


def finished(trials: Iterable[Any]) -> list[Any]:
    """The trials that finished with a finite fitness."""
    return [t for t in trials if t.status == "done" and t.fitness is not None and math.isfinite(float(t.fitness))]


def repeatability(text: str, results: Iterable[Any]) -> str:
    """A report's repeatability ``text`` and which Keras backend trained the finished ``results`` (trials or training
    results, ``metrics["backend"]``): the same seeds give other accuracies on another backend. Nothing is added for
    results recorded before the backend was."""
    names = sorted({(r.metrics or {}).get("backend") for r in results if r is not None and r.status == "done"} - {None})
    if not names:
        return text
    return (f"{text} Trained on the {' and '.join(names)} Keras backend{'s' if len(names) > 1 else ''} (the "
            f"executor's workers); another backend gives other accuracies for the same seeds.")


def best_trial(trials: Iterable[Any]) -> Any | None:
    """The finished trial of highest fitness (ties: the earlier index), or ``None`` when none finished. In a search
    with rungs, the highest rung reached comes first: a candidate stopped lower was trained less."""
    return max(finished(trials), key=lambda t: (getattr(t, "rung", None) or 0, float(t.fitness), -t.index),
               default=None)


def search_summary(trials: Iterable[Any]) -> dict[str, Any]:
    """One search's row: counts by outcome (rejections by constraint) and its best trial's figures (``None`` when
    nothing finished)."""
    trials = list(trials)
    best = best_trial(trials)
    rejected = [t for t in trials if t.status == "rejected"]
    return {
        "trials": len(trials),
        "done": len(finished(trials)),
        # The budget arms share: epochs trained, without rejected proposals or copies of a duplicate network.
        "epochs": sum(getattr(t, "epochs", None) or 0 for t in trials
                      if "reused_from" not in (getattr(t, "metrics", None) or {})),
        "failed": sum(t.status == "failed" for t in trials),
        "rejected": len(rejected),
        "rejected (P)": sum(t.rejected_by == "max_params" for t in rejected),
        "rejected (R)": sum(t.rejected_by == "max_latency_ms" for t in rejected),
        "best": None if best is None else float(best.fitness),
        "best trial": None if best is None else best.index,
        "best latency ms": None if best is None or best.latency_ms is None else float(best.latency_ms),
        "best params": None if best is None else best.params,
        "best MFLOPs": None if best is None or best.flops is None else best.flops / 1e6,
    }


def summary_rows(searches: Mapping[Any, Iterable[Any]]) -> list[dict[str, Any]]:
    """``search_summary`` of each search in ``{(label, seed): trials}`` (or ``{label: trials}``), labelled."""
    rows = []
    for key, trials in searches.items():
        label, seed = key if isinstance(key, tuple) else (key, None)
        rows.append({"search": label, **({} if seed is None else {"seed": seed}), **search_summary(trials)})
    return rows


def best_by_seed(searches: Mapping[Any, Iterable[Any]], *, label: str) -> dict[Any, float | None]:
    """``{seed: best fitness}`` of one arm in ``{(label, seed): trials}`` (``None`` where no trial finished): the
    per-seed values that ``videonas.experiments.compare`` pairs by seed."""
    values = {}
    for key, trials in searches.items():
        if isinstance(key, tuple) and key[0] == label:
            best = best_trial(trials)
            values[key[1]] = None if best is None else float(best.fitness)
    if not values:
        raise ValueError(f"label must name an arm of the searches, got {label!r}")
    return values


def overall_best(searches: Mapping[Any, Iterable[Any]], *, label: str) -> tuple[Any, Any]:
    """``(seed, trial)`` of the best finished trial of arm ``label`` over all its seeds (ties: the earlier seed, then
    the earlier trial); ``ValueError`` when none finished."""
    candidates = [((getattr(t, "rung", None) or 0, float(t.fitness)), -index, -t.index, key[1], t)
                  for index, (key, trials) in enumerate(searches.items())
                  if isinstance(key, tuple) and key[0] == label for t in finished(trials)]
    if not candidates:
        raise ValueError(f"no finished trial in arm {label!r}: see the failed and rejected trials in the summary")
    best = max(candidates, key=lambda item: item[:3])
    return best[3], best[4]


def chance_note(best: float | None, *, num_classes: int, factor: float = 2.5) -> str:
    """A sentence for conclusions when even the best accuracy is below ``factor`` times chance (``""`` otherwise):
    such a run only shows that the pipeline works."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes!r}")
    if best is not None and math.isfinite(best) and best >= factor / num_classes:
        return ""
    return (f"All accuracies are near chance (1/{num_classes} = {1 / num_classes:.3f}): this profile is too short to "
            "answer the question and only checks that the pipeline runs.")


def output_folder(name: str, *, output_dir: str | os.PathLike | None = None, store: str | None = None,
                  resume: bool = False) -> Path:
    """The notebook's output folder (``output_dir``, or ``runs/<name>`` under the project root), created. Unless
    ``resume``, a fresh run, not a continued one: the trial store file ``store`` (when given) and the fixed networks'
    trainings file (``TRAININGS``) are removed first."""
    if output_dir is None:
        from videonas.report.index import project_root

        output_dir = project_root() / "runs" / name
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not resume:
        for kept in ([store] if store is not None else []) + [TRAININGS]:
            for suffix in STORE_SUFFIXES:
                Path(f"{folder / kept}{suffix}").unlink(missing_ok=True)
    return folder


def stored_trainings(runner: Any, folder: str | os.PathLike) -> Any:
    """``runner`` (an executor) with the fixed networks' finished trainings kept in ``folder``'s ``TRAININGS`` file,
    so a comparison run again after a kill trains only what it had not finished. Closing it closes ``runner``."""
    from videonas.search.trainings import StoredExecutor

    return StoredExecutor(runner, Path(folder) / TRAININGS)


def require_test_split(dataset: Any, *, experiment: str) -> None:
    """Refuse, before anything trains, a data set without a held-out test split for an experiment whose comparisons
    report test scores (selection is on validation; a comparison scored on the split it selected on says nothing)."""
    if "test" not in dataset.splits:
        raise ValueError(f"{experiment} compares fixed networks on the held-out test split, but dataset "
                         f"{dataset.name!r} has only the splits {list(dataset.splits)}: give it a test split (for "
                         f"a CSV list, rows with split 'test')")


def dataset_value(dataset: Any, profile: str) -> Any:
    """The dataset a notebook opens: ``dataset`` when given, else the embedded dataset at ``profile``."""
    if dataset is None and not profile:
        raise ValueError(f"profile must name an embedded dataset profile when dataset is None, got {profile!r}")
    return dataset if dataset is not None else f"embedded:{profile}"
