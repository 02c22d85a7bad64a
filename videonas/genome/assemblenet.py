"""AssembleNet: the search space (overly-connected sampling, connection-learning-guided mutation), and the family's
import point for the genome.

The genome (a graph of stems and blocks), ``edges`` and ``pruned_edge_ranks`` live in
``videonas.genome.assemblenet_genome`` and are re-exported here, so ``videonas.genome.assemblenet`` names everything
AssembleNet (as stored experiments and notebooks expect).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import numpy

from videonas.checks import check_choice, check_float, check_int, check_type
from videonas.genome import assemblenet_genome
from videonas.genome.assemblenet_genome import (
    BLOCKS_RANGE,
    DILATION_RANGE,
    FILTERS_RANGE,
    MAX_NODES,
    MAX_WEIGHT_ESTIMATE,
    MODALITIES,
    NUM_LEVELS,
    PUBLISHED_STEM_TYPES,
    RELEASED_DEPTHS,
    STRIDE_RANGE,
    AssembleNetGenome,
    Block,
    EdgeWeights,
    Node,
    Stem,
    edges,
    node_level,
    pruned_edge_ranks,
)
from videonas.genome.base import Genome, SearchSpace, edge_weights_from

OPERATIONS = ("add_edge", "remove_edge", "dilation", "filters")
# Guided connectivity mutation prunes every edge whose learned sigmoid weight is below this, besides the weakest edge.
GUIDED_PRUNE_THRESHOLD = 0.2


class AssembleNetSpace(SearchSpace):
    """Random overly-connected graphs and connection-learning-guided mutation.

    Every sampled genome has the same node layout (``stem_modalities``, then ``nodes_per_level`` blocks per level);
    evolution changes the connectivity, the temporal dilations and the widths. Each block connects to each node of a
    lower level with ``initial_edge_probability`` (the paper's overly-connected starting pool), and mutation prunes
    and adds edges. Spatial strides follow the published nets (1 at level 0, 2 above) and are not mutated.

    The defaults are CPU-friendly (2 cores, 64x64 clips): 4 stems, 2+2+2+1 blocks of one residual block each, bottleneck
    widths 8-64 (outputs 4x). ``AssembleNetSpace.paper()`` is the published nets' layout: 4+4+2+1 blocks at depth 50.
    ``operations`` restricts the elementary mutations (for ablations and tests).
    """

    family: ClassVar[str] = "assemblenet"
    genome_type: ClassVar[type[Genome]] = AssembleNetGenome
    _MAX_TRIES = 1000

    def __init__(
        self,
        *,
        nodes_per_level: Sequence[int] = (2, 2, 2, 1),
        filters_per_level: Sequence[Sequence[int]] = ((8, 16), (16, 32), (32, 48), (48, 64)),
        dilations: Sequence[int] = (1, 2, 4, 8),
        stem_modalities: Sequence[str] = ("rgb", "rgb", "flow", "flow"),
        blocks_per_level: Sequence[int] = (1, 1, 1, 1),
        initial_edge_probability: float = 0.8,
        operations: Sequence[str] = OPERATIONS,
    ) -> None:
        self.nodes_per_level = self._ints("nodes_per_level", nodes_per_level, 1, 16, exact=NUM_LEVELS)
        self.blocks_per_level = self._ints("blocks_per_level", blocks_per_level, *BLOCKS_RANGE, exact=NUM_LEVELS)
        if isinstance(filters_per_level, (str, bytes)) or len(filters_per_level) != NUM_LEVELS:
            raise ValueError(f"filters_per_level must have {NUM_LEVELS} entries, got {filters_per_level!r}")
        self.filters_per_level = tuple(
            self._ints(f"filters_per_level[{level}]", values, *FILTERS_RANGE)
            for level, values in enumerate(filters_per_level)
        )
        self.dilations = self._ints("dilations", dilations, *DILATION_RANGE)
        if isinstance(stem_modalities, str) or set(stem_modalities) != set(MODALITIES):
            raise ValueError(f"stem_modalities must hold 'rgb' and 'flow' and nothing else, got {stem_modalities!r}")
        self.stem_modalities = tuple(stem_modalities)
        check_float("initial_edge_probability", initial_edge_probability, 0.0, 1.0)
        self.initial_edge_probability = float(initial_edge_probability)
        if isinstance(operations, str) or not operations:
            raise ValueError(f"operations must be a non-empty sequence, got {operations!r}")
        for index, operation in enumerate(operations):
            check_choice(f"operations[{index}]", operation, OPERATIONS)
        self.operations = tuple(dict.fromkeys(operations))

    @staticmethod
    def _ints(name: str, values: Any, low: int, high: int, exact: int | None = None) -> tuple[int, ...]:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"{name} must be a non-empty sequence, got {values!r}")
        if exact is not None and len(values) != exact:
            raise ValueError(f"{name} must have {exact} entries, got {values!r}")
        for index, value in enumerate(values):
            check_int(f"{name}[{index}]", value, low, high)
        return tuple(values) if exact is not None else tuple(dict.fromkeys(values))

    @classmethod
    def paper(cls) -> "AssembleNetSpace":
        """The published nets' layout: 2 RGB + 2 flow stems, 4/4/2/1 blocks, depth 50, dilations 1-8.

        Widths per level are those of AssembleNet-50 and -101 (they differ at levels 2 and 3, so both are choices).
        """
        return cls(
            nodes_per_level=(4, 4, 2, 1),
            filters_per_level=((32,), (64,), (128, 192, 256), (256, 512)),
            blocks_per_level=RELEASED_DEPTHS[50],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "nodes_per_level": list(self.nodes_per_level),
            "filters_per_level": [list(values) for values in self.filters_per_level],
            "dilations": list(self.dilations),
            "stem_modalities": list(self.stem_modalities),
            "blocks_per_level": list(self.blocks_per_level),
            "initial_edge_probability": self.initial_edge_probability,
            "operations": list(self.operations),
        }

    @staticmethod
    def _choose(values: Sequence[Any], rng: numpy.random.Generator) -> Any:
        value = values[int(rng.integers(len(values)))]
        return value.item() if isinstance(value, numpy.generic) else value

    def _stems(self, rng: numpy.random.Generator) -> list[Stem]:
        """Streams of one modality get distinct dilations while there are enough (different temporal resolutions)."""
        stems, used = [], {name: [] for name in MODALITIES}
        for modality in self.stem_modalities:
            fresh = [d for d in self.dilations if d not in used[modality]] or list(self.dilations)
            dilation = self._choose(fresh, rng)
            used[modality].append(dilation)
            stems.append(Stem(modality, dilation))
        return stems

    def sample(self, rng: numpy.random.Generator) -> AssembleNetGenome:
        """A random overly-connected graph: each edge to a lower level kept with ``initial_edge_probability``.

        A block left without inputs gets one random input; a node left without a consumer feeds a random block of a
        higher level, so the graph is valid by construction.
        """
        nodes: list[Node] = list(self._stems(rng))
        for level, count in enumerate(self.nodes_per_level):
            for _ in range(count):
                candidates = [i for i, node in enumerate(nodes) if node_level(node) < level]
                keep = rng.random(len(candidates)) < self.initial_edge_probability
                inputs = [source for source, kept in zip(candidates, keep) if kept]
                if not inputs:
                    inputs = [self._choose(candidates, rng)]
                stride = 1 if level == 0 else 2
                filters = self._choose(self.filters_per_level[level], rng)
                nodes.append(Block(level, tuple(inputs), filters, self._choose(self.dilations, rng), stride))
        consumed = {source for node in nodes if isinstance(node, Block) for source in node.inputs}
        for index, node in enumerate(nodes):
            if index in consumed or node_level(node) == NUM_LEVELS - 1:
                continue
            targets = [j for j in range(index + 1, len(nodes)) if node_level(nodes[j]) > node_level(node)]
            target = self._choose(targets, rng)
            nodes[target] = dataclasses.replace(nodes[target], inputs=tuple(sorted((*nodes[target].inputs, index))))
        return AssembleNetGenome(nodes=tuple(nodes), blocks_per_level=self.blocks_per_level)

    def _candidates(self, genome: AssembleNetGenome, operation: str) -> list[AssembleNetGenome]:
        """Every valid child one ``operation`` away (removals are filtered by validity; additions are always valid)."""
        nodes, children = list(genome.nodes), []

        def child(index: int, **changes: Any) -> AssembleNetGenome | None:
            changed = list(nodes)
            changed[index] = dataclasses.replace(nodes[index], **changes)
            try:
                return dataclasses.replace(genome, nodes=tuple(changed))
            except ValueError:
                return None

        for index, node in enumerate(nodes):
            if operation == "dilation":
                children += [child(index, temporal_dilation=d) for d in self.dilations if d != node.temporal_dilation]
            if not isinstance(node, Block):
                continue
            if operation == "filters":
                choices = self.filters_per_level[node.level]
                children += [child(index, filters=f) for f in choices if f != node.filters]
            elif operation == "add_edge":
                sources = [s for s in range(index) if node_level(nodes[s]) < node.level and s not in node.inputs]
                children += [child(index, inputs=tuple(sorted((*node.inputs, s)))) for s in sources]
            elif operation == "remove_edge":
                children += [child(index, inputs=tuple(s for s in node.inputs if s != gone)) for gone in node.inputs]
        return [c for c in children if c is not None]

    def _remove_edge(self, genome: AssembleNetGenome, rng: numpy.random.Generator) -> AssembleNetGenome | None:
        """Unguided: a uniformly random removable edge."""
        children = self._candidates(genome, "remove_edge")
        return children[int(rng.integers(len(children)))] if children else None

    def guided_connectivity(
        self,
        genome: AssembleNetGenome,
        rng: numpy.random.Generator,
        edge_weights: EdgeWeights,
        *,
        prune_threshold: float = GUIDED_PRUNE_THRESHOLD,
    ) -> AssembleNetGenome | None:
        """The connection-learning-guided connectivity change, used for every edge mutation when weights are known.

        Rule (the paper prunes weak connections and tries new ones; its exact rule is not published): remove the
        removable edge of lowest learned weight (rank rule, ties at random), then every other removable edge whose
        weight is below ``prune_threshold``, weakest first; then add one random new edge (never one just pruned), so
        the graph keeps exploring. Edges without a weight (added earlier in the same mutation) are never pruned.
        """
        pruned: set[tuple[int, int]] = set()
        child = genome
        while True:
            options = [(c, (set(edges(child)) - set(edges(c))).pop()) for c in self._candidates(child, "remove_edge")]
            weights = numpy.array([edge_weights.get(edge, numpy.inf) for _, edge in options], dtype=float)
            if not options or not numpy.isfinite(weights).any():
                break
            if pruned and weights.min() >= prune_threshold:
                break
            weakest = numpy.flatnonzero(weights == weights.min())
            child, edge = options[int(rng.choice(weakest))]
            pruned.add(edge)
        additions = [c for c in self._candidates(child, "add_edge") if not (set(edges(c)) - set(edges(child))) & pruned]
        if additions:
            child = additions[int(rng.integers(len(additions)))]
        return child if child != genome else None

    def _mutate_once(
        self, genome: AssembleNetGenome, rng: numpy.random.Generator, edge_weights: EdgeWeights | None
    ) -> AssembleNetGenome | None:
        operations = list(self.operations)
        for operation in rng.permutation(len(operations)):
            name = operations[int(operation)]
            if edge_weights is not None and name in ("add_edge", "remove_edge"):
                child = self.guided_connectivity(genome, rng, edge_weights)
            elif name == "remove_edge":
                child = self._remove_edge(genome, rng)
            else:
                children = self._candidates(genome, name)
                child = children[int(rng.integers(len(children)))] if children else None
            if child is not None:
                return child
        return None

    def mutate(
        self,
        genome: Genome,
        rng: numpy.random.Generator,
        *,
        num_changes: int = 1,
        **context: Any,
    ) -> AssembleNetGenome:
        """A valid child ``num_changes`` elementary changes away (add/remove an edge, a dilation, a width).

        With ``context["edge_weights"]`` (the parent's learned sigmoid connection weights, ``(source, target) ->
        weight`` in node indexing, or the stored ``[[source, target, weight], ...]`` form of
        ``videonas.models.assemblenet.learned_context``) every edge mutation is ``guided_connectivity``: prune the
        weakest and the sub-threshold edges, then try one new edge.
        """
        check_type("genome", genome, AssembleNetGenome)
        check_int("num_changes", num_changes, 1, 100)
        edge_weights = edge_weights_from(context.get("edge_weights"))
        if edge_weights is not None:
            if not isinstance(edge_weights, Mapping):
                raise ValueError(f"edge_weights must be a mapping, got {edge_weights!r}")
            for edge, weight in edge_weights.items():
                if not (isinstance(edge, tuple) and len(edge) == 2):
                    raise ValueError(f"edge_weights keys must be (source, target) pairs, got {edge!r}")
                check_float(f"edge_weights[{edge}]", weight, 0.0, 1.0)
        for _ in range(self._MAX_TRIES):
            child: AssembleNetGenome | None = genome
            for _ in range(num_changes):
                child = self._mutate_once(child, rng, edge_weights)
                if child is None:
                    raise RuntimeError(f"no mutation in {self.operations} applies to {genome.key}")
            if child != genome:
                return child
        raise RuntimeError(f"no valid mutant of {genome.key} in {self._MAX_TRIES} tries")


__all__ = [*assemblenet_genome.__all__, "AssembleNetSpace"]  # the genome's names stay importable from here
