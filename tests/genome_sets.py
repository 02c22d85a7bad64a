"""The seeded 200 random genomes and 200 mutants per family that the genome tests validate, the first ``BUILD_PAIRS``
of which the builder tests build, and a process pool that builds them (600 tiny Keras models take about 5 minutes on
2 cores)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os

import numpy

from videonas.genome.assemblenet import AssembleNetSpace, edges
from videonas.genome.evanet import EvaNetSpace
from videonas.genome.tvn import TVNGenome, TVNSpace

COUNT = 200
BUILD_PAIRS = 100  # validating is cheap, building is not: the builder tests build 200 genomes per family
NUM_CLASSES = 7
TINY = {"evanet": dict(num_frames=4, image_size=32, width_multiplier=1 / 16),
        "assemblenet": dict(num_frames=4, image_size=32, width_multiplier=0.25)}


def tvn_pairs() -> list[tuple]:
    space, rng = TVNSpace(), numpy.random.default_rng(0)
    parents = [space.sample(rng) for _ in range(COUNT)]
    return list(zip(parents, [space.mutate(parent, rng) for parent in parents]))


def evanet_pairs() -> list[tuple]:
    space, rng = EvaNetSpace(), numpy.random.default_rng(0)
    parents = [space.sample(rng) for _ in range(COUNT)]
    rng = numpy.random.default_rng(1)
    return [(parent, space.mutate(parent, rng)) for parent in parents]


def assemblenet_pairs() -> list[tuple]:
    """Half of the mutants are connection-guided (random parent edge weights); 1-3 changes each."""
    space, rng = AssembleNetSpace(), numpy.random.default_rng(1)
    pairs = []
    for trial in range(COUNT):
        parent = space.sample(rng)
        weights = {edge: float(w) for edge, w in zip(edges(parent), rng.random(len(edges(parent))))}
        child = space.mutate(parent, rng, num_changes=1 + trial % 3, edge_weights=weights if trial % 2 else None)
        pairs.append((parent, child))
    return pairs


def tiny_tvn(genome: TVNGenome) -> TVNGenome:
    """The same TVN at a cheap input: 32 px when its strides allow it, at most 4 frames."""
    frames = min(genome.num_frames, 4)
    try:
        return dataclasses.replace(genome, image_size=32, num_frames=frames)
    except ValueError:
        return dataclasses.replace(genome, num_frames=frames)


def build_all(genomes, *, workers: int | None = None) -> list[dict]:
    """Build each genome at its tiny input and run a batch of 2 through it, in ``workers`` fresh processes (spawned:
    forking a process that has TensorFlow loaded is unsafe). Returns one fact sheet per genome, in order."""
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    texts = [genome.to_json() for genome in genomes]
    chunks = [texts[index::workers] for index in range(workers)]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread) as pool:
        results = list(pool.map(_build_chunk, chunks))
    ordered = [None] * len(texts)
    for index, chunk in enumerate(results):
        ordered[index::workers] = chunk
    return ordered


def to_build(pairs) -> list:
    """The genomes the builder tests build: parent and mutant of the first ``BUILD_PAIRS`` pairs."""
    return [genome for pair in pairs[:BUILD_PAIRS] for genome in pair]


def assert_all_build(genomes, *, keys: list[str] | None = None) -> list[dict]:
    """Build every genome (see ``build_all``); each must give finite (2, NUM_CLASSES) logits. Returns the facts."""
    facts = build_all(genomes)
    assert [fact["key"] for fact in facts] == (keys or [genome.key for genome in genomes])
    assert [fact for fact in facts if fact["error"]] == []
    assert all(fact["logits_shape"] == (2, NUM_CLASSES) and fact["finite"] for fact in facts)
    return facts


def _one_thread() -> None:
    for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ[variable] = "1"


def _build_chunk(texts: list[str]) -> list[dict]:
    import keras

    from videonas import families, genome as genome_registry, measure, models

    facts = []
    for text in texts:
        genome = genome_registry.decode(text)
        keras.backend.clear_session()
        try:
            if genome.FAMILY == "tvn":
                genome = tiny_tvn(genome)
                model = models.build_model(genome, num_classes=NUM_CLASSES)
            else:
                model = models.build_model(genome, num_classes=NUM_CLASSES, **TINY[genome.FAMILY])
            inputs = {tensor.name: numpy.random.default_rng(0).random((2, *tensor.shape[1:]), dtype=numpy.float32)
                      for tensor in model.inputs}
            logits = keras.ops.convert_to_numpy(model(inputs if len(inputs) > 1 else next(iter(inputs.values())),
                                                      training=False))
        except Exception as error:  # reported per genome, so one bad build names itself instead of ending the pool
            facts.append({"key": genome.key, "error": f"{type(error).__name__}: {error}"})
            continue
        fact = {"key": genome.key, "error": None, "logits_shape": logits.shape,
                "finite": bool(numpy.isfinite(logits).all())}
        estimate = families.of(genome).estimate_cost(genome, num_classes=NUM_CLASSES, **TINY.get(genome.FAMILY, {}))
        if estimate is not None:
            fact["cost"] = {key: estimate[key] for key in ("params", "flops")}
            fact["counted"] = {"params": measure.count_params(model), "flops": measure.count_flops(model)}
        if genome.FAMILY == "tvn":
            fact["pool_input"] = tuple(model.get_layer("global_pool").input.shape[1:4])
            frames, size = genome.feature_sizes()[-1]
            fact["predicted_pool_input"] = (frames, size, size)
        if genome.FAMILY == "evanet":
            fact["residual_adds"] = sum(layer.name.endswith("_add") for layer in model.layers)
            fact["repeats"] = sum(block.repeats for block in genome.blocks)
        facts.append(fact)
    return facts
