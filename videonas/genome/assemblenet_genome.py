"""AssembleNet genomes: a multi-stream network as a graph of stems and blocks.

A genome is the released ``structure`` list: one entry per node, stems (an RGB or optical-flow input stream) and blocks
(a stack of (2+1)D residual bottleneck blocks at a level 0-3, like a ResNet stage). A block reads every node listed in
its ``inputs`` through a learned sigmoid-weighted sum; the nodes of the last level (3) feed the classifier head. Node
indices are the positions in ``nodes`` (stems included), exactly as in the released code, so learned connection weights
keyed ``(source, target)`` refer to the same numbers as the published specs. The search space is in
``videonas.genome.assemblenet``, which re-exports everything here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Union

import numpy

from videonas.checks import check_choice, check_int, check_keys, check_type
from videonas.genome.base import Genome

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
# Size caps, far above any published or CPU-searchable net (AssembleNet-101: 15 nodes, ~0.05 G weights), so a hostile
# or runaway genome fails validation in microseconds instead of building for hours.
MAX_NODES = 256
MAX_WEIGHT_ESTIMATE = 2_000_000_000


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


def network_key(genome: AssembleNetGenome) -> str:
    """Equal for genomes that build the same network: a flow stem's temporal dilation is left out, because the
    released flow stem (and ours) has no temporal layer for it to dilate. The search trains such genomes once."""
    nodes = tuple(dataclasses.replace(node, temporal_dilation=1) if isinstance(node, Stem) and node.modality == "flow"
                  else node for node in genome.nodes)
    return dataclasses.replace(genome, nodes=nodes).key


__all__ = [
    "BLOCKS_RANGE",
    "DILATION_RANGE",
    "FILTERS_RANGE",
    "MAX_NODES",
    "MAX_WEIGHT_ESTIMATE",
    "MODALITIES",
    "NUM_LEVELS",
    "PUBLISHED_STEM_TYPES",
    "RELEASED_DEPTHS",
    "STRIDE_RANGE",
    "AssembleNetGenome",
    "Block",
    "EdgeWeights",
    "Node",
    "Stem",
    "edges",
    "network_key",
    "node_level",
    "pruned_edge_ranks",
]
