"""The landscape of a tabulated benchmark (``videonas.table.Table``): what a search walks on, computed from the table
alone, with no search.

- ``scores``: each genome's top-rung score (mean over the replicates that trained), one value per row;
- ``oracle``: the genome a search would ideally return (best mean validation top-1) and the best on test;
- ``neighbour_pairs`` and ``parent_child``: the one-choice mutation's pairs (every genome with every genome one choice
  away: the support of the table space's ``mutate``) and how well a parent's score predicts its child's;
- ``motion_learners``: which genomes learn motion, by a stated rule;
- ``oracle_under_limits``: the best genome under each latency limit R, and its frame count.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy
import scipy.stats

from videonas.checks import check_float
from videonas.data.embedded import MOTION_CLASSES

SCORE_COLUMNS = ("val", "val_scene", "val_motion", "test", "test_scene", "test_motion")
MOTION_CHANCE = 1 / len(MOTION_CLASSES)  # a network that tells motion clips from scene clips, and no more


def scores(table: Any, column: str = "test") -> numpy.ndarray:
    """Each row's ``column`` at the top rung, averaged over its replicates that trained (NaN where none did);
    ``val`` is the top rung's validation top-1."""
    if column not in SCORE_COLUMNS:
        raise ValueError(f"column must be one of {list(SCORE_COLUMNS)}, got {column!r}")
    values = numpy.full(len(table.rows), numpy.nan)
    for position, row in enumerate(table.rows):
        found = [r.val[-1] if column == "val" else getattr(r, column) for r in row.done()]
        found = [float(v) for v in found if v is not None]
        if found:
            values[position] = float(numpy.mean(found))
    return values


def replicate_spread(table: Any, column: str = "test") -> float | None:
    """The median over genomes of the standard deviation of ``column`` between a genome's replicates: how far one
    training moves a score (the noise floor of one search's winner); ``None`` without a genome of two replicates."""
    spreads = []
    for row in table.rows:
        found = [getattr(r, column) for r in row.done() if getattr(r, column) is not None]
        if len(found) >= 2:
            spreads.append(float(numpy.std(found, ddof=1)))
    return float(numpy.median(spreads)) if spreads else None


def oracle(table: Any) -> dict[str, Any]:
    """The best genome by mean validation top-1 (what a search that tried everything would pick) with its test
    top-1, and the best test top-1 of any genome (the ceiling)."""
    val, test = scores(table, "val"), scores(table, "test")
    if numpy.all(numpy.isnan(val)):
        raise ValueError(f"table has no genome with a finished replicate ({len(table.rows)} rows)")
    picked = int(numpy.nanargmax(val))
    row = table.rows[picked]
    return {"index": row.index, "val": float(val[picked]), "test": float(test[picked]),
            "num_frames": row.genome["num_frames"], "choices": dict(row.choices),
            "best_test": float(numpy.nanmax(test)), "best_test_index": table.rows[int(numpy.nanargmax(test))].index}


def neighbour_pairs(table: Any) -> list[tuple[int, int]]:
    """``(parent, child)`` row positions for every row and every row that differs from it in exactly one choice:
    the pairs the table space's mutation (one choice changed, a uniformly drawn neighbour) can make."""
    names = sorted({name for row in table.rows for name in row.choices})
    by_choices = {tuple(row.choices.get(name) for name in names): position for position, row in enumerate(table.rows)}
    values = {name: sorted({row.choices.get(name) for row in table.rows}, key=str) for name in names}
    pairs = []
    for position, row in enumerate(table.rows):
        own = [row.choices.get(name) for name in names]
        for slot, name in enumerate(names):
            for value in values[name]:
                if value == own[slot]:
                    continue
                other = by_choices.get(tuple(own[:slot] + [value] + own[slot + 1:]))
                if other is not None:
                    pairs.append((position, other))
    return pairs


def parent_child(table: Any, column: str = "test") -> dict[str, Any]:
    """How well a parent's score predicts its one-choice child's: Pearson and Spearman correlation over every
    (genome, neighbour) pair of ``neighbour_pairs`` (1: mutation keeps quality, 0: a child is a random draw)."""
    values = scores(table, column)
    pairs = [(a, b) for a, b in neighbour_pairs(table) if math.isfinite(values[a]) and math.isfinite(values[b])]
    if len(pairs) < 3:
        return {"pairs": len(pairs), "pearson": None, "spearman": None, "parents": [], "children": []}
    parents = values[[a for a, _ in pairs]]
    children = values[[b for _, b in pairs]]
    return {"pairs": len(pairs), "pearson": float(scipy.stats.pearsonr(parents, children)[0]),
            "spearman": float(scipy.stats.spearmanr(parents, children)[0]),
            "parents": parents.tolist(), "children": children.tolist()}


def motion_learners(table: Any, *, above_chance: float = 2.0) -> dict[str, Any]:
    """The rule: a genome learns motion when its test top-1 on the motion classes, averaged over its replicates,
    is at least ``above_chance`` times chance on them (1/7: telling motion clips from scene clips, then guessing).
    Returns the threshold, the share of the genomes with a motion score that pass it, and the passing rows' mask."""
    check_float("above_chance", above_chance, 1.0, 100.0)
    threshold = above_chance * MOTION_CHANCE
    motion = scores(table, "test_motion")
    known = numpy.isfinite(motion)
    learns = known & (numpy.nan_to_num(motion, nan=-1.0) >= threshold)
    share = float(learns.sum() / known.sum()) if known.any() else None
    return {"threshold": threshold, "above_chance": above_chance, "share": share, "count": int(learns.sum()),
            "known": int(known.sum()), "mask": learns}


def latency_limits(table: Any, quantiles: Sequence[float]) -> list[float]:
    """Latency limits R at ``quantiles`` (0 to 1) of the table's latency column, increasing, without repeats."""
    latency = [row.latency_ms for row in table.rows if row.latency_ms is not None]
    if not latency:
        raise ValueError("the table has no latency column (latency_ms of every row is missing): R cannot apply")
    for index, quantile in enumerate(quantiles):
        check_float(f"latency_quantiles[{index}]", quantile, 0.0, 1.0)
    return sorted({round(float(numpy.quantile(latency, q)), 4) for q in quantiles})


def oracle_under_limits(table: Any, limits: Sequence[float]) -> list[dict[str, Any]]:
    """Per latency limit R: the best genome by mean validation top-1 among those no slower than R, its frame count
    and test top-1, and how many genomes R admits."""
    val, test = scores(table, "val"), scores(table, "test")
    rows = []
    for limit in limits:
        admitted = [p for p, row in enumerate(table.rows) if row.latency_ms is not None and row.latency_ms <= limit
                    and math.isfinite(val[p])]
        if not admitted:
            rows.append({"max_latency_ms": limit, "admitted": 0, "num_frames": None, "test": None, "index": None})
            continue
        best = max(admitted, key=lambda p: (val[p], -p))
        rows.append({"max_latency_ms": limit, "admitted": len(admitted), "index": table.rows[best].index,
                     "num_frames": table.rows[best].genome["num_frames"], "test": float(test[best])})
    return rows


__all__ = ["MOTION_CHANCE", "latency_limits", "motion_learners", "neighbour_pairs", "oracle", "oracle_under_limits",
           "parent_child", "replicate_spread", "scores"]
