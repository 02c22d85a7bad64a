"""Where a table came from, and whether it still describes this checkout.

A table is only worth its look-ups while the clips it was trained on and the networks its genomes build are the
ones a fresh training would use. Its provenance records both as fingerprints that this module can recompute:

- the embedded dataset: generator and clip-cache versions, the generation parameters, and a hash of a few clips
  rendered afresh (one per class), so a change to the renderer that forgot to bump the version still shows;
- the TVN builder: for three fixed genomes of the table's sub-space, the built model's parameters, MACs and layer
  structure (class, output shape and weight count of every layer), hashed.

``stale_reasons`` compares a table's provenance with the current fingerprints; a test fails on any difference, so a
stale table is rebuilt, not silently used. The commit, the budgets and the machines are recorded for people.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from typing import Any, Mapping, Sequence

import numpy

from videonas.data import cache as data_cache, embedded
from videonas.genome import tvn
from videonas.genome.tvn_genome import TVNGenome

BUILDER_VERSION = 1  # of this package's build and export: bump when a column's meaning changes
NUM_CLASSES = len(embedded.SCENE_CLASSES) + len(embedded.MOTION_CLASSES)


def dataset_fingerprint(*, seed: int = 0) -> dict[str, Any]:
    """The embedded (single-label) dataset's versions, parameters and a hash of one freshly rendered clip per class."""
    classes = sorted([*embedded.SCENE_CLASSES, *embedded.MOTION_CLASSES])
    digest = hashlib.sha256()
    for index, name in enumerate(classes):
        digest.update(embedded.render_clip(name, numpy.random.default_rng([seed, 0, index, 0])).tobytes())
    parameters = {"profiles": embedded.PROFILES, "frame_size": embedded.FRAME_SIZE,
                  "num_frames": embedded.NUM_FRAMES, "fps": embedded.FPS, "classes": classes, "seed": seed}
    return {"generator_version": embedded.GENERATOR_VERSION, "cache_version": data_cache.CACHE_VERSION,
            "parameters": hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest()[:16],
            "render": digest.hexdigest()[:16]}


def fixed_genomes(space: "tvn.TVNSpace") -> list[TVNGenome]:
    """The first, middle and last genome of a table space: those whose built models fingerprint the builder."""
    size = len(space)
    return [space.genome_at(index) for index in sorted({0, size // 2, size - 1})]


def builder_fingerprint(genomes: Sequence[TVNGenome | Mapping[str, Any]]) -> dict[str, Any]:
    """Params, MACs and a structure hash of each genome's built model (``NUM_CLASSES`` classes)."""
    from videonas import families, measure  # Keras: deferred to the checks that build models

    family = families.get("tvn")
    rows = []
    for genome in genomes:
        genome = genome if isinstance(genome, TVNGenome) else TVNGenome.from_dict(genome)
        model = family.build(genome, num_classes=NUM_CLASSES)
        layers = [[type(layer).__name__, str(layer.output.shape), int(layer.count_params())]
                  for layer in model.layers]
        rows.append({"genome": genome.to_dict(), "params": measure.count_params(model),
                     "flops": measure.count_flops(model),
                     "structure": hashlib.sha256(json.dumps(layers).encode()).hexdigest()[:16]})
    return {"genomes": rows, "hash": hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]}


def machine() -> dict[str, Any]:
    """This machine, as people tell machines apart: host, CPU model, cores, system."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "system": platform.system()}


def provenance(space: "tvn.TVNSpace", *, task: Mapping[str, Any], rung_epochs: Sequence[int], replicates: int,
               latency: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything a table records about how it was made."""
    from videonas.report import index  # the report package: only for the commit

    return {"builder_version": BUILDER_VERSION, "commit": index.git_commit(), "dataset": dataset_fingerprint(
        seed=int(task.get("data_seed", 0))), "tvn_builder": builder_fingerprint(fixed_genomes(space)),
        "task": dict(task), "rung_epochs": list(rung_epochs), "replicates": replicates, "machine": machine(),
        "latency": {key: value for key, value in (latency or {}).items() if key != "by_network"}}


def stale_reasons(table: Any) -> list[str]:
    """Why ``table`` (a ``videonas.table.Table``) no longer matches this checkout; empty when it does."""
    recorded = table.provenance
    reasons = []
    if recorded.get("builder_version") != BUILDER_VERSION:
        reasons.append(f"builder version {recorded.get('builder_version')} != {BUILDER_VERSION}")
    seed = int((recorded.get("task") or {}).get("data_seed", 0))
    current = dataset_fingerprint(seed=seed)
    if recorded.get("dataset") != current:
        reasons.append(f"embedded dataset {recorded.get('dataset')} != current {current}")
    builder = recorded.get("tvn_builder") or {}
    now = builder_fingerprint([row["genome"] for row in builder.get("genomes") or ()])
    if builder.get("hash") != now["hash"]:
        changed = [f"{old['genome']['num_frames']} frames: params {old['params']}->{new['params']}, MACs "
                   f"{old['flops']}->{new['flops']}, structure {old['structure']}->{new['structure']}"
                   for old, new in zip(builder.get("genomes") or (), now["genomes"]) if old != new]
        reasons.append(f"TVN builder changed ({'; '.join(changed) or 'no genomes recorded'})")
    return reasons


__all__ = ["BUILDER_VERSION", "NUM_CLASSES", "builder_fingerprint", "dataset_fingerprint", "fixed_genomes", "machine",
           "provenance", "stale_reasons"]
