"""Evaluation metrics: top-k accuracy (single-label) and mean average precision (multi-label, Charades)."""

from __future__ import annotations

import numpy as np


def top_k_accuracy(labels, scores, k: int = 1) -> float:
    """Fraction of rows whose label is among the k highest scores. Ties count in the label's favour: a row is
    correct when fewer than k classes score strictly higher than its label."""
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"labels must be (N,) and scores (N, C), got {labels.shape} and {scores.shape}")
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"k must be in [1, {scores.shape[1]}], got {k}")
    label_scores = scores[np.arange(len(labels)), labels]
    return float(np.mean((scores > label_scores[:, None]).sum(axis=1) < k))


def mean_average_precision(multi_hot, scores) -> float:
    """Mean over classes of average precision (sum over distinct score thresholds of recall step x precision).
    Classes with no positive example are excluded (their AP is undefined); NaN if no class has one."""
    targets, scores = np.asarray(multi_hot, np.float64), np.asarray(scores, np.float64)
    if targets.shape != scores.shape or targets.ndim != 2:
        raise ValueError(f"multi_hot and scores must both be (N, C), got {targets.shape} and {scores.shape}")
    precisions = []
    for column in range(targets.shape[1]):
        positives = targets[:, column] > 0
        if not positives.any():
            continue
        order = np.argsort(-scores[:, column], kind="stable")
        ranked_scores, ranked_hits = scores[order, column], positives[order]
        last_of_tie = np.r_[ranked_scores[1:] != ranked_scores[:-1], True]
        hits = np.cumsum(ranked_hits)[last_of_tie]
        seen = (np.arange(len(order)) + 1)[last_of_tie]
        recall_steps = np.diff(np.r_[0, hits]) / positives.sum()
        precisions.append(float(np.sum(recall_steps * hits / seen)))
    return float(np.mean(precisions)) if precisions else float("nan")


def accuracy_by_group(labels, scores, groups) -> dict[str, float]:
    """Top-1 over the rows of each group (argmax over ALL classes), e.g. the embedded dataset's "scene" and "motion"
    kinds; ``groups`` gives each row's group name. Groups are sorted by name."""
    labels, scores, groups = np.asarray(labels), np.asarray(scores, np.float64), np.asarray(groups)
    if groups.shape != labels.shape:
        raise ValueError(f"groups must have one entry per label, got {groups.shape} for labels {labels.shape}")
    return {str(group): top_k_accuracy(labels[groups == group], scores[groups == group], k=1)
            for group in sorted(set(groups.tolist()))}
