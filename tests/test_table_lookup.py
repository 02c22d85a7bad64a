"""Searches on a tabulated benchmark: the table file round-trips, ``evaluate_table`` looks genomes up (rung columns,
replicate noise, P and R from the table's columns), and every strategy runs on it through ``run_search``."""

from __future__ import annotations

import time

import pytest

from videonas.genome import tvn
from videonas.genome.tvn_genome import network_key
from videonas.search import run_search
from videonas.search.strategies import STRATEGIES
from videonas.table import Replicate, Table, TableRow, evaluate_table, load_table, write_table
from videonas.task import Fidelity

RUNGS = (1, 3, 9)
EVALUATE = "videonas.table:evaluate_table"


def synthetic_table(menu=None) -> Table:
    """Every genome of the menu with made-up scores: more frames and width score higher, replicates differ, and
    genomes that build one network score the same (a build trains it once)."""
    space = tvn.TVNSpace(table=dict(menu or {}))
    rows, first_of_network = [], {}
    for index, genome in enumerate(space.genomes()):
        choices = space.choices_of(genome)
        first = first_of_network.setdefault(network_key(genome), index)
        quality = 0.1 * choices["num_frames"].bit_length() + 0.001 * choices["width"] + 0.0001 * (first % 7)
        replicates = tuple(Replicate(seed=seed, status="done", val=tuple(quality * e / 9 + 0.01 * seed for e in RUNGS),
                                     val_scene=quality, val_motion=quality / 2, test=quality + 0.01 * seed,
                                     test_scene=quality, test_motion=quality / 3, train_seconds=40.0)
                           for seed in (0, 1))
        rows.append(TableRow(index=index, key=genome.key, network=network_key(genome), genome=genome.to_dict(),
                             choices=choices, params=1000 * (index + 1), flops=10_000 * (index + 1),
                             latency_ms=0.5 + index / 100, latency_cv=0.05, replicates=replicates))
    return Table({"builder_version": 1}, space.menu, RUNGS, tuple(rows))


@pytest.fixture(scope="module")
def table_file(tmp_path_factory):
    return write_table(synthetic_table(), tmp_path_factory.mktemp("table") / "table.json.gz")


def test_the_file_round_trips_byte_for_byte(table_file, tmp_path):
    table = load_table(table_file)
    assert table == synthetic_table() and len(table) == 448 and table.complete()
    again = write_table(table, tmp_path / "again.json.gz")
    assert again.read_bytes() == table_file.read_bytes()  # no timestamp in the gzip header
    genome = table.space().genome_at(5)
    assert table.row(genome).index == 5
    with pytest.raises(KeyError, match="not in the table"):
        table.row("0" * 16)


def test_lookup_gives_the_rung_column_of_the_replicate_the_seed_draws(table_file):
    table = load_table(table_file)
    genome = table.space().genome_at(7)
    row = table.row(genome)
    results = [evaluate_table(genome, seed=seed, table=str(table_file)) for seed in range(20)]
    assert {r.metrics["replicate"] for r in results} == {0, 1}  # noise: seeds draw both replicates
    for result in results:
        replicate = row.replicates[result.metrics["replicate"]]
        assert result.fitness == replicate.val[-1] and result.metrics["test"]["accuracy"] == replicate.test
        assert (result.params, result.flops, result.latency_ms) == (row.params, row.flops, row.latency_ms)
    assert evaluate_table(genome, seed=4, table=table_file).fitness == results[4].fitness  # same seed, same answer
    low = evaluate_table(genome, seed=4, table=table_file, fidelity=Fidelity(epochs=3))
    assert low.fitness == row.replicates[low.metrics["replicate"]].val[1] and "test" not in low.metrics
    assert evaluate_table(genome, seed=4, table=table_file, epochs=1).metrics["val_by_epoch"] == {"1": low.metrics[
        "val_by_epoch"]["1"]}
    with pytest.raises(ValueError, match="not a rung"):
        evaluate_table(genome, seed=0, table=table_file, epochs=2)


def test_a_search_can_select_on_one_kind_of_class_at_the_top_rung(table_file):
    table = load_table(table_file)
    genome = table.space().genome_at(7)
    row = table.row(genome)
    for score in ("val_scene", "val_motion"):
        result = evaluate_table(genome, seed=3, table=table_file, score=score)
        assert result.fitness == getattr(row.replicates[result.metrics["replicate"]], score)
    with pytest.raises(ValueError, match="top rung only"):
        evaluate_table(genome, seed=3, table=table_file, score="val_motion", fidelity=Fidelity(epochs=3))
    with pytest.raises(ValueError, match="score must be one of"):
        evaluate_table(genome, seed=3, table=table_file, score="test")


def test_limits_reject_from_the_table_columns(table_file):
    genome = load_table(table_file).space().genome_at(9)  # 10,000 params, 0.59 ms
    assert evaluate_table(genome, seed=0, table=table_file, max_params=10_000).status == "done"
    rejected = evaluate_table(genome, seed=0, table=table_file, max_params=9_999)
    assert (rejected.status, rejected.rejected_by, rejected.params) == ("rejected", "max_params", 10_000)
    slow = evaluate_table(genome, seed=0, table=table_file, max_latency_ms=0.5)
    assert (slow.status, slow.rejected_by) == ("rejected", "max_latency_ms")


def test_a_lookup_takes_well_under_a_millisecond(table_file):
    genomes = load_table(table_file).space().genomes()
    evaluate_table(genomes[0], seed=0, table=table_file)  # the file is read once per process
    start = time.perf_counter()
    for seed, genome in enumerate(genomes):
        evaluate_table(genome, seed=seed, table=table_file)
    assert (time.perf_counter() - start) / len(genomes) < 0.002


@pytest.mark.parametrize("rungs", [None, {"epochs": list(RUNGS), "keep": 0.5}])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_runs_on_the_table(table_file, tmp_path, strategy, rungs):
    table = load_table(table_file)
    options = {"population_size": 4} if STRATEGIES[strategy][0].__name__ == "Evolution" else {}
    experiment = run_search(
        f"{strategy}-on-table", store=tmp_path / "s.sqlite", space={"family": "tvn", "options": {"table": table.menu}},
        strategy={"name": strategy, "options": options}, seed=1, num_trials=16, batch_size=4, rungs=rungs,
        evaluate={"function": EVALUATE, "options": {"table": str(table_file), "max_params": 500_000}},
        executor="inprocess", progress=False)
    trials = experiment.trials()
    assert len(trials) == 16 and all(t.status in ("done", "rejected") for t in trials), [t.error for t in trials]
    for trial in trials:
        row = table.row(trial.genome_key)
        if trial.status == "rejected":
            assert trial.params > 500_000 and trial.rejected_by == "max_params"
            continue
        epochs = RUNGS[trial.rung or 0] if rungs else RUNGS[-1]
        assert trial.fitness == row.replicates[trial.metrics["replicate"]].val[RUNGS.index(epochs)]
    if rungs:
        assert any((t.rung or 0) == 2 for t in trials) and any((t.rung or 0) == 0 for t in trials)
    if strategy != "random" and strategy != "enumerate":
        assert any(t.parent is not None for t in trials)  # evolution mutated the table space's genomes
    if strategy == "enumerate":
        assert [t.genome_key for t in trials] == [g.key for g in table.space().genomes()[:16]]
