"""The frames questions on the tabulated benchmark: does a search pick more frames on motion classes than on scene
classes, and is forcing it to the most frames hardly more accurate than the free search?

The TVN paper's frames claim is about what the *search* picks: on scene-heavy data (Moments in Time) few frames, on
motion-heavy data (Charades) many. A fixed network trained with more frames does better on motion classes by how the
embedded data set is built, so that is a description, not evidence. Here the same strategy (the TVN schedule,
``mutate-best``, without rungs) searches the table twice per seed, once selecting on the scene classes' validation
top-1 and once on the motion classes' (``videonas.table.lookup`` scores ``val_scene`` and ``val_motion``: the
per-kind accuracy of networks trained on all classes, the table's closest stand-in for a scene-only and a
motion-only data set), and the winners' frame counts are compared, paired by seed. The forced search is the same
strategy on the menu restricted to the table's most frames, selecting on all classes, against the free search. The
paper's forced search is about what more frames buy on motion, so that comparison is judged only when some forced
winner learns motion (the landscape's rule); otherwise it is reported inconclusive with that reason and without
p-values, so it takes no part in the multiplicity adjustment: a "hardly more accurate" from networks that learn no
motion could not have gone the other way.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Collection, Mapping, Sequence

from videonas.experiments import claims
from videonas.experiments.table_searches import SearchSpec

SCENE, MOTION, FORCED = "TVN schedule on scene classes", "TVN schedule on motion classes", "TVN schedule forced"


def frames_specs(arm: Any, *, seeds: Sequence[int], top_epochs: int, keep: float, frame_counts: Sequence[int],
                 max_latency_ms: float | None = None) -> list[SearchSpec]:
    """The searches of the frames questions with ``arm`` (an ``Arm``: the TVN schedule) at each seed: selecting on
    the scene classes, on the motion classes, and forced to the menu's most frames (all without rungs: the per-kind
    scores are in the table at its top rung only)."""
    options = dict(arm.strategy_options)
    top = (top_epochs,)
    most = (max(frame_counts),)
    specs = []
    for seed in seeds:
        specs += [SearchSpec(SCENE, arm.strategy, options, seed, top, keep, max_latency_ms, score="val_scene"),
                  SearchSpec(MOTION, arm.strategy, options, seed, top, keep, max_latency_ms, score="val_motion"),
                  SearchSpec(FORCED, arm.strategy, options, seed, top, keep, max_latency_ms, frame_counts=most)]
    return specs


def winner_field(records: Sequence[Mapping[str, Any]], label: str, field: str) -> dict[int, float | None]:
    """``{seed: the winner's field}`` of arm ``label`` (``None`` where no candidate reached the top rung)."""
    return {r["seed"]: (r["winner"] or {}).get(field) for r in records if r["arm"] == label}


def frames_verdicts(records: Sequence[Mapping[str, Any]], *, free: str, most_frames: int,
                    motion_learners: Collection[int] | None = None) -> list[Any]:
    """Motion-selected against scene-selected winners' frame counts (a ratio, paired by seed), then the free search
    (arm ``free``) against the forced one on test top-1. ``motion_learners``: the table indices of the genomes that
    learn motion; when no forced winner is one, the forced verdict is inconclusive, saying why (``None``: no gate)."""
    picked = claims.ask("table_frames_by_kind", a=winner_field(records, MOTION, "num_frames"),
                        b=winner_field(records, SCENE, "num_frames"))
    forced = claims.ask_scores("table_forced_frames", a=winner_field(records, free, "test"),
                               b=winner_field(records, FORCED, "test"))
    forced = dataclasses.replace(forced, question=forced.question.replace(
        "the most frames", f"the most frames ({most_frames})"))
    if motion_learners is not None:
        winners = [index for index in winner_field(records, FORCED, "table_index").values() if index is not None]
        if not any(index in motion_learners for index in winners):
            reason = (f"none of the {len(winners)} forced searches' winners learns motion, so what more frames buy "
                      f"on motion (the paper's point) is not tested here")
            forced = dataclasses.replace(forced, verdict="inconclusive", reason=reason, detectable=None, p_value=None,
                                         t_p_value=None)
    return [picked, forced]


def motion_share(records: Sequence[Mapping[str, Any]], label: str, motion_learners: Collection[int]) -> str:
    """"3 of 200": how many of arm ``label``'s winners learn motion."""
    winners = [index for index in winner_field(records, label, "table_index").values() if index is not None]
    return f"{sum(index in motion_learners for index in winners)} of {len(winners)}"


def frames_rows(records: Sequence[Mapping[str, Any]], *, free: str) -> list[dict[str, Any]]:
    """Per arm: how often its winners use each frame count, their mean test top-1 and latency."""
    rows = []
    for label in (SCENE, MOTION, free, FORCED):
        frames = [v for v in winner_field(records, label, "num_frames").values() if v is not None]
        tests = [v for v in winner_field(records, label, "test").values() if v is not None]
        latency = [v for v in winner_field(records, label, "latency_ms").values() if v is not None]
        row = {"search": label, "seeds": len(frames)}
        row.update({f"{count} frames": sum(f == count for f in frames) for count in sorted(set(frames))})
        row["mean test"] = sum(tests) / len(tests) if tests else None
        row["mean latency ms"] = sum(latency) / len(latency) if latency else None
        rows.append(row)
    return rows


__all__ = ["FORCED", "MOTION", "SCENE", "frames_rows", "frames_specs", "frames_verdicts", "motion_share",
           "winner_field"]
