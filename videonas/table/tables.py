"""The table file: what one tabulated build holds, its typed form, and its export from the build's trial store.

One gzipped JSON file (``FILE_FORMAT``) holds the provenance, the sub-space's menu, the rung epochs and one row per
genome of the sub-space that has a result, in index order. A row holds the genome's counts (params, MACs), its ONNX
Runtime batch-1 latency (median and coefficient of variation, all rows measured in one pass on one machine) and one
entry per training replicate: validation top-1 after each rung's epochs, top-1 on the scene and the motion classes at
the top rung (validation and test), test top-1, training seconds. The file is written with a fixed gzip header and
sorted keys, so the same store exports the same bytes.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from videonas.checks import check_keys, quote
from videonas.genome import tvn
from videonas.genome.tvn_genome import TVNGenome, network_key
from videonas.search import loop

FILE_FORMAT = 1
SCORES = ("val", "val_scene", "val_motion", "test", "test_scene", "test_motion")


@dataclasses.dataclass(frozen=True)
class Replicate:
    """One training of a genome (seed ``seed``): ``val[i]`` is validation top-1 after ``rung_epochs[i]`` epochs; the
    other scores are at the top rung. ``status`` is the trial's (``done``, ``failed``, ``rejected``)."""

    seed: int
    status: str
    val: tuple[float, ...] = ()
    val_scene: float | None = None
    val_motion: float | None = None
    test: float | None = None
    test_scene: float | None = None
    test_motion: float | None = None
    train_seconds: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "val": list(self.val)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Replicate":
        check_keys("replicate", data, ("seed", "status"), [f.name for f in dataclasses.fields(cls)])
        return cls(**{**data, "val": tuple(float(v) for v in data.get("val") or ())})


@dataclasses.dataclass(frozen=True)
class TableRow:
    """One genome of the sub-space: its index, key, network key, choices, counts, latency and replicates."""

    index: int
    key: str
    network: str
    genome: Mapping[str, Any]
    choices: Mapping[str, Any]
    params: int | None
    flops: int | None
    latency_ms: float | None
    latency_cv: float | None
    replicates: tuple[Replicate, ...]

    def done(self) -> tuple[Replicate, ...]:
        """The replicates that trained to the top rung."""
        return tuple(r for r in self.replicates if r.status == "done")

    def to_dict(self) -> dict[str, Any]:
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "replicates"},
                "genome": dict(self.genome), "choices": dict(self.choices),
                "replicates": [r.to_dict() for r in self.replicates]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TableRow":
        check_keys("row", data, [f.name for f in dataclasses.fields(cls)])
        return cls(**{**data, "replicates": tuple(Replicate.from_dict(r) for r in data["replicates"])})


@dataclasses.dataclass(frozen=True)
class Table:
    """A tabulated benchmark: ``rows`` in index order of the sub-space ``menu`` (``TVNSpace(table=menu)``)."""

    provenance: Mapping[str, Any]
    menu: Mapping[str, Any]
    rung_epochs: tuple[int, ...]
    rows: tuple[TableRow, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {row.key: row for row in self.rows})

    def __len__(self) -> int:
        return len(self.rows)

    def space(self) -> "tvn.TVNSpace":
        return tvn.TVNSpace(table=dict(self.menu))

    def row(self, genome: TVNGenome | str) -> TableRow:
        """The row of a genome (or genome key); ``KeyError`` naming it when the table has none."""
        key = genome if isinstance(genome, str) else genome.key
        if key not in self._by_key:
            raise KeyError(f"genome {key} is not in the table ({len(self.rows)} rows of the menu {dict(self.menu)})")
        return self._by_key[key]

    def complete(self) -> bool:
        """Every genome of the sub-space has a row with at least one replicate at the top rung."""
        return len(self.rows) == len(self.space()) and all(row.done() for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FILE_FORMAT, "provenance": dict(self.provenance), "menu": dict(self.menu),
                "rung_epochs": list(self.rung_epochs), "rows": [row.to_dict() for row in self.rows]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Table":
        check_keys("table", data, ("format", "provenance", "menu", "rung_epochs", "rows"))
        if data["format"] != FILE_FORMAT:
            raise ValueError(f"table format must be {FILE_FORMAT}, got {quote(data['format'])}: rebuild or export it "
                             f"again with this version")
        return cls(dict(data["provenance"]), dict(data["menu"]), tuple(int(e) for e in data["rung_epochs"]),
                   tuple(TableRow.from_dict(row) for row in data["rows"]))


def load_table(path: str | os.PathLike) -> Table:
    """The table in ``path`` (gzipped JSON when the name ends in ``.gz``, else JSON)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"table {str(path)!r} not found (build it with 'python -m videonas table build')")
    raw = path.read_bytes()
    text = gzip.decompress(raw) if path.suffix == ".gz" else raw
    return Table.from_dict(json.loads(text))


def write_table(table: Table, path: str | os.PathLike) -> Path:
    """Write ``table`` atomically; the same table gives the same bytes (no gzip timestamp, sorted keys)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(table.to_dict(), sort_keys=True, separators=(",", ":")).encode("utf-8")
    data = gzip.compress(text, mtime=0) if path.suffix == ".gz" else text
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def replicate_of(trial: Any, rung_epochs: Sequence[int], seed: int) -> Replicate:
    """A stored trial of the default trial function (``budget.score_epochs`` set) as a table replicate."""
    metrics = trial.metrics or {}
    if trial.status != "done":
        return Replicate(seed=seed, status=trial.status, error=(trial.error or "")[:300] or None)
    curve = metrics.get("val_by_epoch") or {}
    missing = [epochs for epochs in rung_epochs if str(epochs) not in curve]
    if missing:  # stopped by a time budget: it has no fitness at every rung
        return Replicate(seed=seed, status="failed", error=f"no validation score after {missing} epochs")
    by_kind = metrics.get("accuracy_by_kind") or {}
    test = metrics.get("test") or {}
    test_kind = test.get("accuracy_by_kind") or {}
    return Replicate(seed=seed, status="done", val=tuple(float(curve[str(e)]) for e in rung_epochs),
                     val_scene=by_kind.get("scene"), val_motion=by_kind.get("motion"), test=test.get("accuracy"),
                     test_scene=test_kind.get("scene"), test_motion=test_kind.get("motion"),
                     train_seconds=metrics.get("train_seconds"))


def export_table(store: str | os.PathLike, *, menu: Mapping[str, Any], rung_epochs: Sequence[int],
                 replicates: int, provenance: Mapping[str, Any], latency: Mapping[str, Any] | None = None) -> Table:
    """The table of what the build's store holds so far: experiments ``replicate-<r>``, ``r < replicates``, and the
    latency pass's ``{network key: {"median_ms", "cv"}}``.

    A row needs a finished trial (done, failed or rejected) under every replicate: replicates advance a chunk at a
    time, so a stopped build has genomes that only the first replicates reached, and a row of fewer replicates would
    give a look-up less noise than the others. How many genomes are left out, and how many of those only some
    replicates trained, is recorded in the provenance's ``coverage``."""
    space = tvn.TVNSpace(table=dict(menu))
    by_key: dict[str, dict[int, Replicate]] = {}
    counts: dict[str, tuple[int | None, int | None]] = {}
    for replicate in range(replicates):
        experiment = _open_replicate(store, replicate)
        if experiment is None:
            continue
        for trial in experiment.trials():
            if trial.status not in ("done", "failed", "rejected"):
                continue
            by_key.setdefault(trial.genome_key, {})[replicate] = replicate_of(trial, rung_epochs, replicate)
            if trial.params is not None:
                counts[trial.genome_key] = (trial.params, trial.flops)
    measured = dict((latency or {}).get("by_network") or {})
    rows = []
    for index, genome in enumerate(space.genomes()):
        if len(by_key.get(genome.key, ())) < replicates:
            continue
        network = network_key(genome)
        timing = measured.get(network) or {}
        params, flops = counts.get(genome.key, (None, None))
        rows.append(TableRow(index=index, key=genome.key, network=network, genome=genome.to_dict(),
                             choices=space.choices_of(genome), params=params, flops=flops,
                             latency_ms=timing.get("median_ms"), latency_cv=timing.get("cv"),
                             replicates=tuple(by_key[genome.key][r] for r in range(replicates))))
    some = sum(0 < len(found) < replicates for found in by_key.values())
    coverage = {"genomes": len(space), "rows": len(rows), "missing": len(space) - len(rows),
                "some_replicates_only": some}
    return Table({**provenance, "coverage": coverage}, dict(space.to_dict()["table"]), tuple(rung_epochs),
                 tuple(rows))


def coverage_text(table: Table) -> str:
    """How complete ``table`` is, in words (from its provenance's ``coverage``, where the export recorded it)."""
    done = sum(bool(row.done()) for row in table.rows)
    coverage = table.provenance.get("coverage") or {}
    text = f"{len(table)} of {len(table.space())} genomes, {done} trained to the top rung"
    if table.complete():
        return f"{text} (complete)"
    replicates = table.provenance.get("replicates", "all")
    some = coverage.get("some_replicates_only")
    return (f"{text} (partial: {len(table.space()) - len(table)} missing"
            + ("" if some is None else f", {some} of them trained under only some of the {replicates} replicates")
            + ")")


def _open_replicate(store: str | os.PathLike, replicate: int):
    if not Path(store).exists():
        return None
    try:
        return loop.Experiment(f"replicate-{replicate}", store)
    except ValueError:  # that replicate has not started
        return None


__all__ = ["FILE_FORMAT", "Replicate", "SCORES", "Table", "TableRow", "coverage_text", "export_table", "load_table",
           "replicate_of", "write_table"]
