"""What a search experiment reports beside its verdicts: per-arm test scores over seeds, where each seed's best came
from, and the verdicts as headline rows (with the paper's figure only where the paper measures the same quantity)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy

from videonas.experiments import prose, summaries
from videonas.experiments.verdicts import Verdict


def median_score(scores: Mapping[Any, float | None]) -> float | None:
    """The median of the finite per-seed scores, ``None`` when there is none."""
    values = [float(v) for v in scores.values() if v is not None and math.isfinite(float(v))]
    return float(numpy.median(values)) if values else None


def unmutated_bests(runs: Any, *, label: str) -> list[Any]:
    """The seeds of arm ``label`` whose validation-best trial is a starting random sample (no parent): there, the
    search's mutations found nothing better than where it started."""
    return [seed for seed, trial in runs.best(label).items() if trial is not None and trial.parent is None]


def chance_text(experiment: Any, scores: Mapping[Any, float | None]) -> str:
    """``videonas.experiments.summaries.chance_note`` for a top-1 experiment whose median test score is near chance
    (a smoke run: it only shows that the pipeline works); "" for mAP tasks or when accuracies are well above it."""
    task = experiment.trial_options().task
    if task.multi_label:
        return ""
    return summaries.chance_note(median_score(scores), num_classes=len(task.open_dataset().class_names))


def lineage_root(experiment: Any, trial: Any) -> Any:
    """The starting random sample that ``trial`` descends from (``trial`` itself when it has no parent)."""
    by_index = {t.index: t for t in experiment.trials()}
    while trial.parent is not None:
        trial = by_index[trial.parent]
    return trial


def verdict_rows(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    """Headline rows ``{"label", "value", "paper"}``: the question, our estimate with its interval (and, when
    inconclusive, what the run could have detected), and the paper's figure for that quantity ("" when the paper gives
    none)."""
    rows = []
    for verdict in verdicts:
        power = prose.power_text(verdict) if verdict.verdict == "inconclusive" else ""
        rows.append({"label": verdict.question,
                     "value": f"{prose.result_text(verdict)}: {verdict.verdict}{f' ({power})' if power else ''}",
                     "paper": prose.paper_figure_text(verdict)})
    return rows


def score_rows(scores: Mapping[str, Mapping[Any, float | None]], *, metric: str) -> list[dict[str, Any]]:
    """Headline rows of held-out test scores, one per model or arm: the median over seeds and the seed range. No
    paper figure: the papers' numbers are on other datasets at full scale."""
    rows = []
    for name, values in scores.items():
        finite = [float(v) for v in values.values() if v is not None and math.isfinite(float(v))]
        span = f" (seeds: {min(finite):.3f} to {max(finite):.3f})" if len(finite) > 1 else ""
        median = median_score(values)
        rows.append({"label": f"{name}: test {metric}, median of {len(finite)} seeds",
                     "value": None if median is None else f"{median:.3f}{span}", "paper": ""})
    return rows


def seeds_text(seeds: Sequence[Any], total: int) -> str:
    """"2 of 6 seeds"."""
    return f"{len(seeds)} of {total} {'seed' if total == 1 else 'seeds'}"
