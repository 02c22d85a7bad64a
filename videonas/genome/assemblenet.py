"""AssembleNet: a multi-stream network as a graph of stems and blocks, and its search space.

A genome is the released ``structure`` list: one entry per node, stems (an RGB or optical-flow input stream) and blocks
(a stack of (2+1)D residual bottleneck blocks at a level 0-3, like a ResNet stage). A block reads every node listed in
its ``inputs`` through a learned sigmoid-weighted sum; the nodes of the last level (3) feed the classifier head. Node
indices are the positions in ``nodes`` (stems included), exactly as in the released code, so learned connection weights
keyed ``(source, target)`` refer to the same numbers as the published specs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence, Union

import numpy

from videonas.checks import check_choice, check_float, check_int, check_keys, check_type
from videonas.genome.base import Genome, SearchSpace, edge_weights_from

MODALITIES = ("rgb", "flow")
PUBLISHED_STEM_TYPES = {-1: "rgb", -2: "flow"}
NUM_LEVELS = 4
# Residual blocks per node of each level, by network depth, as in the released code (depth = 3 * sum + 2).
RELEASED_DEPTHS = {
    26: (2, 2, 2, 2),
    38: (2, 4, 4, 2),
    50: (3, 4, 6, 3),
    68: (3, 4, 12, 3),
    77: (3, 4, 15, 3),
    101: (3, 4, 23, 3),
}
DILATION_RANGE = (1, 16)
FILTERS_RANGE = (1, 4096)
STRIDE_RANGE = (1, 4)
BLOCKS_RANGE = (1, 64)
OPERATIONS = ("add_edge", "remove_edge", "dilation", "filters")
# Size caps, far above any published or CPU-searchable net (AssembleNet-101: 15 nodes, ~0.05 G weights), so a hostile
# or runaway genome fails validation in microseconds instead of building for hours.
MAX_NODES = 256
MAX_WEIGHT_ESTIMATE = 2_000_000_000
# Guided connectivity mutation prunes every edge whose learned sigmoid weight is below this, besides the weakest edge.
GUIDED_PRUNE_THRESHOLD = 0.2


@dataclasses.dataclass(frozen=True)
class Stem:
    """An input stream: ``modality`` "rgb" or "flow" seen at a temporal resolution (the temporal conv's dilation)."""

    modality: str
    temporal_dilation: int

    def validate(self, field: str) -> None:
        check_choice(f"{field}.modality", self.modality, MODALITIES)
        check_int(f"{field}.temporal_dilation", self.temporal_dilation, *DILATION_RANGE)


@dataclasses.dataclass(frozen=True)
class Block:
    """A node of residual blocks: bottleneck width ``filters`` (output 4x), dilation, stride of its first block."""

    level: int
    inputs: tuple[int, ...]
    filters: int
    temporal_dilation: int
    spatial_stride: int

    def __post_init__(self) -> None:
        if isinstance(self.inputs, list):
            object.__setattr__(self, "inputs", tuple(self.inputs))

    def validate(self, field: str) -> None:
        check_int(f"{field}.level", self.level, 0, NUM_LEVELS - 1)
        check_type(f"{field}.inputs", self.inputs, tuple)
        for position, source in enumerate(self.inputs):
            check_type(f"{field}.inputs[{position}]", source, int)
        check_int(f"{field}.filters", self.filters, *FILTERS_RANGE)
        check_int(f"{field}.temporal_dilation", self.temporal_dilation, *DILATION_RANGE)
        check_int(f"{field}.spatial_stride", self.spatial_stride, *STRIDE_RANGE)


Node = Union[Stem, Block]
EdgeWeights = Mapping[tuple[int, int], float]


def node_level(node: Node) -> int:
    """Stems count as level -1, below every block."""
    return -1 if isinstance(node, Stem) else node.level


@dataclasses.dataclass(frozen=True)
class AssembleNetGenome(Genome):
    """The node list (stems and blocks in one indexing) plus residual blocks per node of each level.

    ``blocks_per_level`` replaces the released "depth": (3, 4, 6, 3) is AssembleNet-50, (3, 4, 23, 3) AssembleNet-101,
    and the default (1, 1, 1, 1) (depth 14) is what a 2-core CPU can train during a search.
    """

    FAMILY: ClassVar[str] = "assemblenet"

    nodes: tuple[Node, ...]
    blocks_per_level: tuple[int, ...] = (1, 1, 1, 1)

    def __post_init__(self) -> None:
        for name in ("nodes", "blocks_per_level"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        self.validate()

    @property
    def depth(self) -> int:
        """ResNet-style depth: three layers per bottleneck block plus the stem and the classifier."""
        return 3 * sum(self.blocks_per_level) + 2

    @property
    def head(self) -> list[int]:
        """The nodes of the last level, whose pooled features are averaged by the classifier (as the released code)."""
        return [i for i, node in enumerate(self.nodes) if node_level(node) == NUM_LEVELS - 1]

    def validate(self) -> None:
        check_type("blocks_per_level", self.blocks_per_level, tuple)
        if len(self.blocks_per_level) != NUM_LEVELS:
            raise ValueError(f"blocks_per_level must have {NUM_LEVELS} entries, got {self.blocks_per_level!r}")
        for level, count in enumerate(self.blocks_per_level):
            check_int(f"blocks_per_level[{level}]", count, *BLOCKS_RANGE)
        check_type("nodes", self.nodes, tuple)
        if len(self.nodes) > MAX_NODES:
            raise ValueError(f"nodes must hold at most {MAX_NODES} nodes, got {len(self.nodes)}")
        for index, node in enumerate(self.nodes):
            field = f"nodes[{index}]"
            check_type(field, node, (Stem, Block))
            node.validate(field)
            if isinstance(node, Block):
                self._validate_inputs(index, node)
        modalities = {node.modality for node in self.nodes if isinstance(node, Stem)}
        if modalities != set(MODALITIES):
            raise ValueError(f"nodes must hold an 'rgb' and a 'flow' stem, got stems of {sorted(modalities)}")
        levels = {node.level for node in self.nodes if isinstance(node, Block)}
        missing = sorted(set(range(NUM_LEVELS)) - levels)
        if missing:
            raise ValueError(f"nodes must hold a block at every level 0-{NUM_LEVELS - 1}, none at levels {missing}")
        self._validate_strides()
        estimate = self.weight_estimate()
        if estimate > MAX_WEIGHT_ESTIMATE:
            raise ValueError(f"nodes are too large: about {estimate:.3g} weights, over the cap {MAX_WEIGHT_ESTIMATE:.3g}")
        reaches_head = self._reaches_head()
        for index, reaches in enumerate(reaches_head):
            if not reaches:
                raise ValueError(f"nodes[{index}] does not reach the head (level-{NUM_LEVELS - 1} nodes {self.head})")

    def _validate_inputs(self, index: int, node: Block) -> None:
        field = f"nodes[{index}].inputs"
        if not node.inputs:
            raise ValueError(f"{field} is empty: nodes[{index}] is unreachable from every stem")
        if len(set(node.inputs)) != len(node.inputs):
            raise ValueError(f"{field} has duplicate edges: {list(node.inputs)}")
        for source in node.inputs:
            if not 0 <= source < index:
                raise ValueError(f"{field} references node {source} which does not precede it")
            if node_level(self.nodes[source]) > node.level:
                raise ValueError(
                    f"{field} references node {source} of level {node_level(self.nodes[source])}, above its level "
                    f"{node.level}"
                )

    def cumulative_strides(self) -> list[int]:
        """Each node's spatial stride relative to the stems' output: a block's is its widest-strided input's times its
        own ``spatial_stride`` (its fusion max-pools every input down to the smallest map)."""
        strides: list[int] = []
        for node in self.nodes:
            strides.append(1 if isinstance(node, Stem) else max(strides[s] for s in node.inputs) * node.spatial_stride)
        return strides

    def _validate_strides(self) -> None:
        """A fusion max-pools each input by an integer window, so every input's stride must divide the largest one
        (inputs at strides 2 and 3 give maps of 28 and 19 from 56, which no pooling window brings together)."""
        strides = self.cumulative_strides()
        for index, node in enumerate(self.nodes):
            if isinstance(node, Block):
                largest = max(strides[s] for s in node.inputs)
                for source in node.inputs:
                    if largest % strides[source]:
                        raise ValueError(
                            f"nodes[{index}].inputs mixes spatial strides {strides[source]} (node {source}) and "
                            f"{largest}: one must divide the other"
                        )

    def weight_estimate(self) -> int:
        """A rough parameter count: ~17 f^2 per bottleneck of width f (1x1 in and out at 4f, (2+1)D 3x3 in between)."""
        return sum(17 * node.filters ** 2 * self.blocks_per_level[node.level]
                   for node in self.nodes if isinstance(node, Block))

    def _reaches_head(self) -> list[bool]:
        """Every node must feed the head, else it is dead weight (its edges could never be learned)."""
        reaches = [node_level(node) == NUM_LEVELS - 1 for node in self.nodes]
        for index in range(len(self.nodes) - 1, -1, -1):
            node = self.nodes[index]
            if reaches[index] and isinstance(node, Block):
                for source in node.inputs:
                    reaches[source] = True
        return reaches

    def to_dict(self) -> dict[str, Any]:
        nodes = []
        for node in self.nodes:
            data = dataclasses.asdict(node)
            if isinstance(node, Block):
                data["inputs"] = list(node.inputs)
            nodes.append(data)
        return {"family": self.FAMILY, "blocks_per_level": list(self.blocks_per_level), "nodes": nodes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AssembleNetGenome":
        check_keys("genome", data, ("family", "blocks_per_level", "nodes"))
        if data["family"] != cls.FAMILY:
            raise ValueError(f"family must be {cls.FAMILY!r}, got {data['family']!r}")
        check_type("nodes", data["nodes"], list)
        check_type("blocks_per_level", data["blocks_per_level"], list)
        nodes = []
        for index, entry in enumerate(data["nodes"]):
            field = f"nodes[{index}]"
            if isinstance(entry, Mapping) and "modality" in entry:
                check_keys(field, entry, [f.name for f in dataclasses.fields(Stem)])
                nodes.append(Stem(**entry))
            else:
                check_keys(field, entry, [f.name for f in dataclasses.fields(Block)])
                check_type(f"{field}.inputs", entry["inputs"], list)
                nodes.append(Block(**{**entry, "inputs": tuple(entry["inputs"])}))
        return cls(nodes=tuple(nodes), blocks_per_level=tuple(data["blocks_per_level"]))

    def to_published(self) -> dict[str, Any]:
        """The released form ``{"depth", "structure"}``; a depth the released code lacks adds its block counts."""
        structure: list[list[Any]] = []
        stem_types = {name: code for code, name in PUBLISHED_STEM_TYPES.items()}
        for node in self.nodes:
            if isinstance(node, Stem):
                structure.append([stem_types[node.modality], node.temporal_dilation])
            else:
                structure.append(
                    [node.level, list(node.inputs), node.filters, node.temporal_dilation, node.spatial_stride, 0]
                )
        spec: dict[str, Any] = {"depth": self.depth, "structure": structure}
        if RELEASED_DEPTHS.get(self.depth) != self.blocks_per_level:
            spec["blocks_per_level"] = list(self.blocks_per_level)
        return spec

    @classmethod
    def from_published(cls, spec: Mapping[str, Any]) -> "AssembleNetGenome":
        spec = {k: v for k, v in spec.items() if not k.startswith("_")}
        check_keys("spec", spec, ("depth", "structure"), ("blocks_per_level",))
        depth, structure = spec["depth"], spec["structure"]
        if "blocks_per_level" in spec:
            check_type("spec.blocks_per_level", spec["blocks_per_level"], list)
            blocks = tuple(spec["blocks_per_level"])
        else:
            check_choice("spec.depth", depth, sorted(RELEASED_DEPTHS))
            blocks = RELEASED_DEPTHS[depth]
        check_type("spec.structure", structure, list)
        nodes: list[Node] = []
        for index, entry in enumerate(structure):
            field = f"structure[{index}]"
            check_type(field, entry, list)
            if len(entry) == 2:
                check_choice(f"{field}[0] (stem type)", entry[0], sorted(PUBLISHED_STEM_TYPES))
                nodes.append(Stem(PUBLISHED_STEM_TYPES[entry[0]], entry[1]))
            elif len(entry) == 6:
                check_type(f"{field}[1] (inputs)", entry[1], list)
                check_choice(f"{field}[5]", entry[5], (0,))
                nodes.append(Block(entry[0], tuple(entry[1]), entry[2], entry[3], entry[4]))
            else:
                raise ValueError(f"{field} must be [stem_type, dilation] or a 6-entry block, got {entry!r}")
        genome = cls(nodes=tuple(nodes), blocks_per_level=blocks)
        if genome.depth != depth:
            raise ValueError(f"spec.depth must be {genome.depth} for blocks_per_level {list(blocks)}, got {depth!r}")
        return genome


def edges(genome: AssembleNetGenome) -> list[tuple[int, int]]:
    """Every connection ``(source, target)`` in node indexing, targets in order, sources in each block's input order."""
    blocks = [(index, node) for index, node in enumerate(genome.nodes) if isinstance(node, Block)]
    return [(source, index) for index, node in blocks for source in node.inputs]


def pruned_edge_ranks(parent: AssembleNetGenome, child: AssembleNetGenome,
                      parent_weights: Mapping[tuple[int, int], float]) -> list[float]:
    """Where each edge the child lost sat in the parent's learned weights: 0 = the parent's weakest edge, 1 = its
    strongest (ties share their mean rank). Guided mutation should give ranks near 0, unguided ones spread over [0, 1]:
    this is how a search shows that connection learning steered its pruning."""
    parent_edges = edges(parent)
    missing = [edge for edge in parent_edges if edge not in parent_weights]
    if missing:
        raise ValueError(f"parent_weights lacks parent edges {missing}")
    removed = [edge for edge in parent_edges if edge not in set(edges(child))]
    if len(parent_edges) < 2:
        return [0.0 for _ in removed]
    values = numpy.array([float(parent_weights[edge]) for edge in parent_edges])
    ranks = []
    for edge in removed:
        weight = float(parent_weights[edge])
        below, equal = int(numpy.sum(values < weight)), int(numpy.sum(values == weight))
        ranks.append((below + (equal - 1) / 2) / (len(parent_edges) - 1))
    return ranks


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


__all__ = ["AssembleNetGenome", "AssembleNetSpace", "Block", "Stem", "edges", "node_level", "pruned_edge_ranks", "RELEASED_DEPTHS",
           "MAX_NODES", "MAX_WEIGHT_ESTIMATE", "GUIDED_PRUNE_THRESHOLD"]
