"""The seeded 200 random genomes and 200 mutants per family that the genome tests validate, the cheap checks every one
of them gets in the builder tests (no Keras), the ``BUILD_COUNT`` per family those tests build, chosen to cover the
space, and a process pool that builds them (600 tiny Keras models took 8.5 CPU minutes; the 3 x 32 built now, under 2)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import multiprocessing
import os

import numpy

from videonas import families, genome as genome_registry
from videonas.genome.assemblenet import AssembleNetGenome, AssembleNetSpace, Stem, edges
from videonas.genome.evanet import EvaNetGenome, EvaNetSpace
from videonas.genome.tvn import TVNGenome, TVNSpace

COUNT = 200
BUILD_COUNT = 32  # validating is cheap, building is not: the builder tests build this many genomes per family
FIRST_PAIRS = 4  # the build sample always holds these pairs, so a plain, a guided and a 1-3-change mutant are built
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


def to_build(pairs, *, tags, measures, count: int = BUILD_COUNT) -> list:
    """The ``count`` genomes (distinct keys) of ``pairs`` that the builder tests build, deterministically: the first
    ``FIRST_PAIRS`` pairs, the smallest and largest genome by each of ``measures`` (genome -> number), then greedily
    the genome that adds the most ``tags`` (genome -> set of labels: block types, kernels, strides...) not yet held
    until every tag of the whole set is held, then the following genomes in pair order. Returned in pair order."""
    genomes = [genome for pair in pairs for genome in pair]
    chosen: dict[str, int] = {}

    def take(index: int) -> None:
        if len(chosen) < count:
            chosen.setdefault(genomes[index].key, index)

    for index in range(2 * FIRST_PAIRS):
        take(index)
    for measure in measures:
        values = [measure(genome) for genome in genomes]
        take(values.index(min(values)))
        take(values.index(max(values)))
    labels = [tags(genome) for genome in genomes]
    held = set().union(*(labels[index] for index in chosen.values()))
    missing = set().union(*labels) - held
    while missing and len(chosen) < count:
        gains = [len(label & missing) for label in labels]
        best = gains.index(max(gains))
        take(best)
        missing -= labels[best]
    for index in range(len(genomes)):
        take(index)
    return [genomes[index] for index in sorted(chosen.values())]


def all_tags(genomes, tags) -> set:
    return set().union(*(tags(genome) for genome in genomes))


def tvn_tags(genome: TVNGenome) -> set[str]:
    """What a TVN build can differ in, at its tiny input."""
    genome = tiny_tvn(genome)
    labels = {f"image_size={genome.image_size}", f"num_frames={genome.num_frames}", f"blocks={len(genome.blocks)}"}
    for block in genome.blocks:
        labels |= {f"{name}={value}" for name, value in dataclasses.asdict(block).items()
                   if name not in ("filters", "squeeze")}
        labels.add(f"squeeze={block.squeeze > 0}")
    return labels


def evanet_tags(genome: EvaNetGenome) -> set[str]:
    labels = {f"stem={genome.stem.conv},{genome.stem.time}"}
    labels |= {f"{name}={getattr(genome, name)}" for name in ("max_pool1_time", "max_pool3_time", "max_pool4_time")}
    for block in genome.blocks:
        labels |= {f"repeats={block.repeats}", f"branches={len(block.layers)}"}
        for branch in block.layers:
            labels |= {f"{branch.layer}.{name}={value}" for name, value in branch.to_dict().items()}
    return labels


def assemblenet_tags(genome: AssembleNetGenome) -> set[str]:
    labels = {f"nodes={len(genome.nodes)}"}
    for node in genome.nodes:
        if isinstance(node, Stem):
            labels.add(f"stem={node.modality},{node.temporal_dilation}")
        else:
            labels |= {f"level={node.level}", f"filters={node.filters}", f"dilation={node.temporal_dilation}",
                       f"stride={node.spatial_stride}", f"fan_in={len(node.inputs)}",
                       f"level{node.level}_stride={node.spatial_stride}"}
    return labels


def _tiny_cost(name: str):
    def measure(genome: TVNGenome) -> int:
        genome = tiny_tvn(genome)
        return families.of(genome).estimate_cost(genome, num_classes=NUM_CLASSES)[name]
    return measure


TVN_MEASURES = [_tiny_cost("params"), _tiny_cost("flops"), lambda genome: sum(b.repeats for b in genome.blocks)]
EVANET_MEASURES = [lambda genome: sum(block.repeats for block in genome.blocks),
                   lambda genome: sum(len(block.layers) for block in genome.blocks)]
ASSEMBLENET_MEASURES = [AssembleNetGenome.weight_estimate, lambda genome: len(edges(genome))]


def build_sample(family: str) -> list:
    """Every genome of ``family``'s set (pairs flattened) passes ``assert_shapes_hold``; returns the ``BUILD_COUNT``
    of them that ``to_build`` picks, after checking they hold every tag of the whole set."""
    pairs_of, tags, measures = {"tvn": (tvn_pairs, tvn_tags, TVN_MEASURES),
                                "evanet": (evanet_pairs, evanet_tags, EVANET_MEASURES),
                                "assemblenet": (assemblenet_pairs, assemblenet_tags, ASSEMBLENET_MEASURES)}[family]
    pairs = pairs_of()
    genomes = [genome for pair in pairs for genome in pair]
    assert len(genomes) == 2 * COUNT
    assert_shapes_hold(genomes)
    chosen = to_build(pairs, tags=tags, measures=measures)
    assert len(chosen) == BUILD_COUNT
    assert all_tags(chosen, tags) == all_tags(genomes, tags)
    return chosen


def assert_shapes_hold(genomes) -> None:
    """The cheap checks every genome of a set gets (no Keras): it validates, its JSON decodes to an equal genome with
    the same key, and its family's cost estimate, where the family has one, is positive whole numbers."""
    for genome in genomes:
        genome.validate()
        again = genome_registry.decode(genome.to_json())
        assert again == genome and again.key == genome.key
        estimate = families.of(genome).estimate_cost(genome, num_classes=NUM_CLASSES, **TINY.get(genome.FAMILY, {}))
        if estimate is not None:
            assert set(estimate) == {"params", "flops", "train_memory_bytes"}
            assert all(isinstance(value, int) and value > 0 for value in estimate.values()), (genome.key, estimate)


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
