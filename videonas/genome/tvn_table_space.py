"""A closed, enumerable TVN sub-space: the architectures of the tabulated benchmark (``videonas.table``).

A tabulated benchmark trains every genome of a space once, so the space must be small and closed: here a genome is
a handful of *choices* (frame count, input size, width, and a block type from a short menu at each of 2-4 block
positions), and every combination of choices is one genome. The menu holds scene-only networks (one frame, or
spatial-only blocks) and motion-capable ones (temporal convolutions over 2-8 frames), so the table can answer which
of them a search finds.

The default menu (``DEFAULTS``: 448 genomes, 300 distinct networks) is sized by measurement: fitted to the 24
trainings the rank-fidelity bench had timed at the table's budget (732 steps, two workers on this 2-core machine,
2026-12-06), a training costs about 48 s plus a part that grows with MACs times activations
(``videonas.table.cost``, median error 35% leave-one-out), so the fixed part dominates and the build is set by the
number of distinct networks: 300 x 2 seeds / 2 workers at about 54 s each is a predicted 5.2 h of training, 6.0 h
with the latency pass. Widths 8/16 and inputs of 32/40 px keep every network near the fixed cost (the former menu,
widths 16/32 at 32/48 px with a depthwise block type, 576 genomes: a predicted 20.6 h); the depthwise block, slow
per MAC on CPU, is left out, and depth (2-4 blocks) is a choice instead.

The space is ``videonas.genome.tvn.TVNTableSpace``: this module's ``TableMenu`` (the menu, the enumeration and the
one-choice mutation) on ``TVNSpace``, composed there so that this module does not import the one that selects it. It
is a space of the ``tvn`` family, not a family of its own: a run configuration selects it with
``space: {family: tvn, options: {table: {...}}}`` (``table: true`` for the default menu). Its genomes are ordinary
``TVNGenome``s, so the builder, the cost estimate, the constraints and the network dedupe of the search loop apply
unchanged.

The index of a genome is its position in the product of the choices (the first choice varies fastest), so it is
stable for a given menu: ``genome_at(index_of(g)) == g``. Mutation changes exactly one choice (its neighbourhood is
every genome one choice away), which is the TVN mutation restricted to the sub-space.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar, Mapping, Sequence

import numpy

from videonas.checks import check_choice, check_int, check_keys, check_type, quote
from videonas.genome.base import Genome
from videonas.genome.tvn_genome import TVNBlock, TVNGenome

# The block menu: every block is one repeat of a 3x3 spatial layer (stride 2) and, for the temporal types, a 3-tap
# temporal convolution. "spatial" sees one frame at a time (scene only); the others mix frames (motion capable).
BLOCK_TYPES: dict[str, dict[str, Any]] = {
    "spatial": {"spatial_type": "std", "temporal_kernel": 1},
    "spatiotemporal": {"spatial_type": "std", "temporal_kernel": 3},
    "depthwise": {"spatial_type": "depth", "temporal_kernel": 3},
    "gated": {"spatial_type": "std", "temporal_kernel": 3, "squeeze": 0.25, "context_gate": True},
}
NO_BLOCK = "none"  # an optional block position left empty
# Enumerations by menu: (genomes, choice rows, index by genome key, index by choice values); the genomes are frozen.
_ENUMERATIONS: dict[str, tuple[list[TVNGenome], list[dict[str, Any]], dict[str, int], dict[tuple[Any, ...], int]]] = {}
DEFAULTS: dict[str, Any] = {
    "frame_counts": [1, 2, 4, 8],
    "frame_stride": 2,
    "image_sizes": [32, 40],
    "widths": [8, 16],
    "block_types": ["spatial", "spatiotemporal"],
    "min_blocks": 2,
    "max_blocks": 4,
    "temporal_stride": 2,
}


class TableMenu:
    """Every combination of a small menu of TVN choices, enumerable with a stable index (default: 448 genomes); mixed
    into ``TVNSpace`` as ``videonas.genome.tvn.TVNTableSpace``.

    Choices, in index order (the first varies fastest): ``num_frames`` (``frame_counts``, all at ``frame_stride``),
    ``image_size`` (``image_sizes``), ``width`` (``widths``: the first block's filters; later blocks have twice as
    many), then ``block_1`` .. ``block_<max_blocks>``, each a name of ``BLOCK_TYPES`` from ``block_types``; the
    positions past ``min_blocks`` may also be ``"none"`` (no block; an empty position is never followed by a block).
    Every block halves the image; blocks after the first stride time by ``temporal_stride``.

    Built by ``TVNSpace(table=...)``: ``table`` is ``True`` (the default menu) or a mapping of the keys of
    ``DEFAULTS``. Other ``TVNSpace`` options are refused: the menu is the whole space.
    """

    family: ClassVar[str] = "tvn"
    genome_type: ClassVar[type[Genome]] = TVNGenome

    def __init__(self, *, table: bool | Mapping[str, Any] = True, **options: Any) -> None:
        if options:
            raise ValueError(f"space.options {quote(sorted(options))}: a table space takes only 'table' (its menu), "
                             f"whose keys are {', '.join(DEFAULTS)}")
        menu = table_menu(table)
        self.menu = menu
        widths = menu["widths"]
        super().__init__(image_sizes=menu["image_sizes"], frame_counts=menu["frame_counts"],
                         frame_strides=[menu["frame_stride"]], min_blocks=menu["min_blocks"],
                         max_blocks=menu["max_blocks"], filters=sorted({*widths, *(2 * w for w in widths)}),
                         max_repeats=1, allow_non_local=False,
                         spatial_types=sorted({BLOCK_TYPES[name]["spatial_type"] for name in menu["block_types"]}))
        self.choices: dict[str, tuple[Any, ...]] = {
            "num_frames": tuple(menu["frame_counts"]),
            "image_size": tuple(menu["image_sizes"]),
            "width": tuple(widths),
        }
        for position in range(menu["max_blocks"]):
            optional = (NO_BLOCK,) if position >= menu["min_blocks"] else ()
            self.choices[f"block_{position + 1}"] = optional + tuple(menu["block_types"])
        self._genomes: list[TVNGenome] | None = None
        self._index: dict[str, int] = {}
        self._choice_rows: list[dict[str, Any]] = []
        self._row_index: dict[tuple[Any, ...], int] = {}  # a row's choice values (in ``choices`` order): its index

    # --- enumeration ------------------------------------------------------------------------------------------

    def _enumerate(self) -> None:
        if self._genomes is not None:
            return
        menu_key = repr(sorted((name, _plain(value)) for name, value in self.menu.items()))
        if menu_key not in _ENUMERATIONS:  # shared by every space of this menu: hundreds of searches build one each
            names = list(self.choices)
            genomes, rows = [], []
            # itertools.product varies the last name fastest; reversed names make the first choice (frames)
            # fastest, so a partial table already covers every frame count.
            for values in itertools.product(*(self.choices[name] for name in reversed(names))):
                row = dict(zip(reversed(names), values))
                if not _blocks_contiguous(row, self.menu["max_blocks"]):
                    continue
                genomes.append(self.genome_from_choices(row))
                rows.append({name: row[name] for name in names})
            _ENUMERATIONS[menu_key] = (genomes, rows, {genome.key: index for index, genome in enumerate(genomes)},
                                       {tuple(row.values()): index for index, row in enumerate(rows)})
        self._genomes, self._choice_rows, self._index, self._row_index = _ENUMERATIONS[menu_key]

    def __len__(self) -> int:
        self._enumerate()
        return len(self._genomes)

    def genomes(self) -> list[TVNGenome]:
        """Every genome of the space, in index order."""
        self._enumerate()
        return list(self._genomes)

    def genome_at(self, index: int) -> TVNGenome:
        self._enumerate()
        check_int("index", index, 0, len(self._genomes) - 1)
        return self._genomes[index]

    def index_of(self, genome: Genome) -> int:
        """The genome's index; ``ValueError`` when it is not in this space."""
        self._enumerate()
        check_type("genome", genome, TVNGenome)
        if genome.key not in self._index:
            raise ValueError(f"genome {genome.key} is not in the table space {self.menu}")
        return self._index[genome.key]

    def choices_of(self, genome: Genome) -> dict[str, Any]:
        """The choices that make ``genome`` (``{"num_frames": 4, ..., "block_3": "none"}``)."""
        return dict(self._choice_rows[self.index_of(genome)])

    def genome_from_choices(self, choices: Mapping[str, Any]) -> TVNGenome:
        check_keys("choices", choices, list(self.choices))
        for name, values in self.choices.items():
            check_choice(f"choices.{name}", choices[name], values)
        blocks = []
        for position in range(self.menu["max_blocks"]):
            kind = choices[f"block_{position + 1}"]
            if kind == NO_BLOCK:
                continue
            blocks.append(TVNBlock(spatial_kernel=3, spatial_stride=2, temporal_type="1d",
                                   temporal_stride=1 if position == 0 else self.menu["temporal_stride"],
                                   filters=choices["width"] * (1 if position == 0 else 2), **BLOCK_TYPES[kind]))
        return TVNGenome(image_size=choices["image_size"], num_frames=choices["num_frames"],
                         frame_stride=self.menu["frame_stride"], blocks=tuple(blocks))

    # --- search ------------------------------------------------------------------------------------------------

    def sample(self, rng: numpy.random.Generator) -> TVNGenome:
        """A uniformly random genome of the space."""
        return self.genome_at(int(rng.integers(len(self))))

    def neighbours(self, genome: Genome) -> list[TVNGenome]:
        """Every genome of the space that differs from ``genome`` in exactly one choice, in a fixed order."""
        row = self.choices_of(genome)
        found = []
        for name, values in self.choices.items():
            for value in values:
                if value == row[name]:
                    continue
                changed = {**row, name: value}
                if _blocks_contiguous(changed, self.menu["max_blocks"]):
                    found.append(self._genomes[self._row_index[tuple(changed.values())]])
        return found

    def mutate(self, genome: Genome, rng: numpy.random.Generator, *, num_changes: int = 1,
               **context: Any) -> TVNGenome:
        """``num_changes`` steps, each to a uniformly drawn neighbour (one choice changed); never the parent.

        ``context`` is ignored (TVN learns no mutation context)."""
        check_int("num_changes", num_changes, 1, 100)
        child = genome
        for _ in range(num_changes):
            options = [g for g in self.neighbours(child) if g != genome]
            if not options:
                break
            child = options[int(rng.integers(len(options)))]
        return child

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "table": {key: _plain(value) for key, value in self.menu.items()}}


def table_menu(table: bool | Mapping[str, Any]) -> dict[str, Any]:
    """The menu of a ``table`` option, checked, with every default written out (the normalised form a store keeps)."""
    if table is True:
        table = {}
    if not isinstance(table, Mapping):
        raise ValueError(f"table must be true or a mapping of {', '.join(DEFAULTS)}, got {quote(table)}")
    check_keys("table", table, (), list(DEFAULTS))
    menu = {**DEFAULTS, **table}
    for name in ("frame_counts", "image_sizes", "widths", "block_types"):
        values = menu[name]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"table.{name} must be a non-empty list, got {quote(values)}")
        if len(set(values)) != len(values):
            raise ValueError(f"table.{name} must not repeat a value, got {quote(list(values))}")
        menu[name] = list(values)
    for index, name in enumerate(menu["block_types"]):
        check_choice(f"table.block_types[{index}]", name, list(BLOCK_TYPES))
    check_int("table.min_blocks", menu["min_blocks"], 2, 10)
    check_int("table.max_blocks", menu["max_blocks"], menu["min_blocks"], 10)
    check_int("table.frame_stride", menu["frame_stride"], 1, 30)
    check_int("table.temporal_stride", menu["temporal_stride"], 1, 4)
    return menu


def _blocks_contiguous(row: Mapping[str, Any], max_blocks: int) -> bool:
    """No block after an empty position (that genome is already there with the block moved up)."""
    kinds = [row[f"block_{position + 1}"] for position in range(max_blocks)]
    return all(not (kinds[i] == NO_BLOCK and kinds[i + 1] != NO_BLOCK) for i in range(max_blocks - 1))


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


__all__ = ["BLOCK_TYPES", "DEFAULTS", "NO_BLOCK", "TableMenu", "table_menu"]
