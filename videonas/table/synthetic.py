"""A SYNTHETIC table: made-up scores from a formula, for tests and smoke runs while no measured table exists.

No network is trained: every score comes from a fixed formula of the genome's choices plus seeded noise, so the
table is cheap (about a second for the 576 genomes of the default menu) and the same for the same arguments. It has
the shape of a measured table (rows, replicates, rung columns, params, MACs, latency), and its provenance says
``"synthetic": true`` so that everything showing it can label it as such; it must never stand for a measured result.

The formula mimics what a measured table should show, so that searches on it have something to find: scene classes
improve with input size, width and depth; motion classes rise above chance (1/7) only for networks that mix frames
(more than one frame and a temporal block), more with more frames; deeper networks learn more slowly (a lower rung
ranks them differently from the top rung); latency grows with frames, pixels, width and blocks.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy

from videonas.checks import check_int
from videonas.genome import tvn
from videonas.genome.tvn_genome import network_key
from videonas.genome.tvn_table_space import NO_BLOCK
from videonas.table.tables import Replicate, Table, TableRow

SCENE_SHARE = 6 / 13  # the embedded dataset's 6 scene and 7 motion classes
MOTION_CHANCE = 1 / 7
NOISE = 0.02  # standard deviation of one training's score around the genome's own


def synthetic_table(menu: Mapping[str, Any] | None = None, *, rung_epochs: Sequence[int] = (1, 2, 6),
                    replicates: int = 2, seed: int = 0) -> Table:
    """A SYNTHETIC table of every genome of ``menu`` (``TVNSpace(table=menu)``; default: the default menu), with
    ``replicates`` trainings each at ``rung_epochs``; scores from the formula in the module docstring, noise from
    ``seed``."""
    check_int("replicates", replicates, 1, 100)
    check_int("seed", seed, 0, 2**32 - 1)
    epochs = tuple(int(e) for e in rung_epochs)
    if not epochs or list(epochs) != sorted(set(epochs)) or epochs[0] < 1:
        raise ValueError(f"rung_epochs must be increasing positive epoch counts, got {list(rung_epochs)!r}")
    space = tvn.TVNSpace(table=dict(menu or {}))
    rows = []
    for index, genome in enumerate(space.genomes()):
        choices = space.choices_of(genome)
        rng = numpy.random.default_rng([seed, index])
        scene, motion, pace = _quality(space, choices, rng)
        trainings = tuple(_replicate(replicate, scene, motion, pace, epochs, rng) for replicate in range(replicates))
        blocks = len(genome.blocks)
        width = choices["width"]
        pixels = (genome.image_size / 32) ** 2
        rows.append(TableRow(
            index=index, key=genome.key, network=network_key(genome), genome=genome.to_dict(), choices=choices,
            params=int(width * width * 9 * 4 * blocks + width * 13), flops=int(genome.num_frames * pixels * width
                                                                              * 1e5 * blocks),
            latency_ms=round(0.2 + 0.05 * genome.num_frames * pixels * (width / 16) * blocks, 4), latency_cv=0.05,
            replicates=trainings))
    provenance = {"synthetic": True, "builder": "videonas.table.synthetic_table", "seed": seed,
                  "note": "SYNTHETIC: scores from a formula, no network was trained"}
    return Table(provenance, space.menu, epochs, tuple(rows))


def is_synthetic(table: Table) -> bool:
    """Whether ``table`` was made by ``synthetic_table`` (its provenance says so)."""
    return bool(table.provenance.get("synthetic"))


def _quality(space: Any, choices: Mapping[str, Any], rng: numpy.random.Generator) -> tuple[float, float, float]:
    """The genome's own scene and motion top-1 at the top rung, and its learning pace (lower: slower)."""
    def rank(name: str) -> float:  # position of the choice in its menu, 0 (first) to 1 (last)
        values = space.choices[name]
        return values.index(choices[name]) / max(1, len(values) - 1)

    kinds = [value for name, value in choices.items() if name.startswith("block_") and value != NO_BLOCK]
    temporal = sum(kind != "spatial" for kind in kinds) / len(kinds)
    scene = 0.45 + 0.15 * rank("image_size") + 0.1 * rank("width") + 0.05 * (len(kinds) - 2) + rng.normal(0, 0.04)
    frames = math.log2(choices["num_frames"]) / 3 if choices["num_frames"] > 1 else 0.0
    motion = MOTION_CHANCE + 0.55 * min(1.0, frames) * temporal * (0.7 + 0.3 * rank("width")) + rng.normal(0, 0.03)
    pace = 1.5 / (len(kinds) - 1) + rng.uniform(0, 0.5)
    return float(numpy.clip(scene, 0.05, 0.97)), float(numpy.clip(motion, 0.05, 0.97)), float(pace)


def _replicate(seed: int, scene: float, motion: float, pace: float, epochs: Sequence[int],
               rng: numpy.random.Generator) -> Replicate:
    def scored(value: float) -> float:
        return float(numpy.clip(value + rng.normal(0, NOISE), 0.0, 1.0))

    overall = SCENE_SHARE * scene + (1 - SCENE_SHARE) * motion
    shift = rng.normal(0, NOISE)  # this training's luck, shared by its rungs
    top = epochs[-1]
    val = tuple(round(float(numpy.clip((overall + shift) * (1 - math.exp(-pace * e)) / (1 - math.exp(-pace * top))
                                       + rng.normal(0, NOISE / 2), 0.0, 1.0)), 4) for e in epochs)
    return Replicate(seed=seed, status="done", val=val, val_scene=round(scored(scene), 4),
                     val_motion=round(scored(motion), 4), test=round(scored(overall + shift), 4),
                     test_scene=round(scored(scene), 4), test_motion=round(scored(motion), 4),
                     train_seconds=round(10.0 * top * (1 + pace), 2))


__all__ = ["is_synthetic", "synthetic_table"]
