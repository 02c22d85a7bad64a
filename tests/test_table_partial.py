"""A partial build: the export keeps the genomes every replicate finished and says how many are missing (the command
line too); the cost model predicts the default menu's build and refits from a store's timed trials; the validation
draws distinct networks of a table and ranks a fresh training against the table's replicate mean."""

from __future__ import annotations

import json

import pytest

from videonas.genome import tvn
from videonas.search import run_search
from videonas.table import cost, tables, validate, write_table
from videonas.table.cli import main

from tests.test_table_lookup import RUNGS, synthetic_table

TINY = {"frame_counts": [1, 2], "image_sizes": [32], "widths": [16], "block_types": ["spatial", "spatiotemporal"],
        "max_blocks": 2}


def _partial_store(tmp_path, trained=(6, 3)):
    """A build store whose replicate r ran the first ``trained[r]`` genomes (looked up in a synthetic table)."""
    table_file = write_table(synthetic_table(TINY), tmp_path / "synthetic.json.gz")
    store = tmp_path / "search.sqlite"
    for replicate, count in enumerate(trained):
        run_search(f"replicate-{replicate}", store=store, space={"family": "tvn", "options": {"table": TINY}},
                   strategy="enumerate", seed=replicate, num_trials=count, batch_size=3, executor="inprocess",
                   evaluate={"function": "videonas.table:evaluate_table", "options": {"table": str(table_file)}},
                   progress=False)
    return store


def test_a_partial_build_exports_the_genomes_every_replicate_finished(tmp_path):
    store = _partial_store(tmp_path)
    table = tables.export_table(store, menu=TINY, rung_epochs=RUNGS, replicates=2, provenance={"replicates": 2})
    space = tvn.TVNSpace(table=TINY)
    assert [row.index for row in table.rows] == [0, 1, 2]  # genomes 3-5: replicate 0 only, left out
    assert all([r.seed for r in row.replicates] == [0, 1] and len(row.done()) == 2 for row in table.rows)
    assert table.provenance["coverage"] == {"genomes": len(space), "rows": 3, "missing": 5,
                                            "some_replicates_only": 3}
    assert not table.complete()
    assert tables.coverage_text(table) == ("3 of 8 genomes, 3 trained to the top rung (partial: 5 missing, 3 of them "
                                           "trained under only some of the 2 replicates)")
    alone = tables.export_table(store, menu=TINY, rung_epochs=RUNGS, replicates=1, provenance={})
    assert len(alone) == 6 and alone.provenance["coverage"]["some_replicates_only"] == 0


def test_the_export_command_writes_a_partial_table(tmp_path, capsys):
    store = _partial_store(tmp_path, trained=(4, 2))
    out = tmp_path / "table.json.gz"
    assert main(["export", "--store", str(store), "--out", str(out), "--menu", json.dumps(TINY),
                 "--rungs", ",".join(map(str, RUNGS))]) == 0
    printed = capsys.readouterr().out
    assert "2 of 8 genomes, 2 trained to the top rung (partial: 6 missing, 2 of them" in printed
    table = tables.load_table(out)
    assert len(table) == 2 and table.provenance["coverage"]["missing"] == 6 and table.provenance["replicates"] == 2


def test_the_default_menu_is_predicted_to_build_in_about_six_hours():
    prediction = cost.predicted_build(True)
    assert (prediction["genomes"], prediction["networks"]) == (448, 300)
    assert 4.0 < prediction["hours"] <= 6.5, prediction
    space = tvn.TVNSpace(table=True)
    small, large = space.genome_at(0), space.genome_at(len(space) - 1)  # 1 frame, 2 blocks; 8 frames, 4 blocks
    assert cost.predicted_seconds(small) < cost.predicted_seconds(large)
    assert cost.predicted_seconds(small) >= cost.COEFFICIENTS[0]
    wider = cost.predicted_build({"widths": [16, 32]})
    assert wider["networks"] == prediction["networks"] and wider["hours"] > prediction["hours"]


def test_the_cost_model_refits_from_a_store(tmp_path):
    fitted = cost.fit(_partial_store(tmp_path, trained=(8,)))  # 8 genomes, 5 networks: 3 results are copies
    assert fitted.trainings == 5 and len(fitted.coefficients) == 3 and all(c >= 0 for c in fitted.coefficients)
    few = tmp_path / "few"
    few.mkdir()
    with pytest.raises(ValueError, match="at least 4"):
        cost.fit(_partial_store(few, trained=(2,)))


def test_validation_draws_distinct_networks_and_ranks_a_fresh_training(tmp_path):
    table = synthetic_table(TINY)
    rows = validate.draw(table, genomes=20, seed=7)
    assert len({row.network for row in rows}) == len(rows) == 5  # 8 genomes, 5 networks: every network once
    assert validate.draw(table, genomes=3, seed=7) == validate.draw(table, genomes=3, seed=7)
    assert [row.index for row in rows] == sorted(row.index for row in rows)
    configuration = validate.search_config(
        tables.Table({"task": {"dataset": "embedded:smoke"}}, table.menu, table.rung_epochs, table.rows), rows,
        store=tmp_path / "s.sqlite", seed=7, executor="inprocess")
    assert configuration["strategy"] == {"name": "enumerate", "options": {"indices": [row.index for row in rows]}}
    assert configuration["budget"] == {"epochs": RUNGS[-1], "score_epochs": list(RUNGS[:-1])}
    # A fresh training that ranks as the table's mean does: tau 1; reversed: tau -1.
    fresh = {row.key: tables.Replicate(seed=7, status="done", val=(0.0, 0.0, sum(r.val[-1] for r in row.done())))
             for row in rows}
    result = validate.summary(rows, fresh, seed=7, store="s.sqlite")
    assert result["trained"] == 5 and result["tau"]["tau"] == pytest.approx(1.0)
    reversed_fresh = {key: tables.Replicate(seed=7, status="done", val=(0.0, 0.0, -r.val[-1]))
                      for key, r in fresh.items()}
    assert validate.summary(rows, reversed_fresh, seed=7, store="s.sqlite")["tau"]["tau"] == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="genomes"):
        validate.draw(table, genomes=2, seed=7)


def test_a_validation_is_read_back_beside_its_table_and_told_in_one_sentence(tmp_path):
    table = synthetic_table(TINY)
    path = write_table(table, tmp_path / "table.json.gz")
    assert validate.read(path, table) is None and validate.describe(None).startswith("Not validated yet")
    rows = validate.draw(table, genomes=4, seed=7)
    fresh = {row.key: tables.Replicate(seed=7, status="done", val=(0.0, 0.0, sum(r.val[-1] for r in row.done())))
             for row in rows}
    written = validate.summary(rows, fresh, seed=7, store="s.sqlite")
    validate.validation_path(path).write_text(json.dumps(written))
    assert validate.read(path, table) == json.loads(json.dumps(written))
    text = validate.describe(validate.read(path, table))
    assert text.startswith("4 of 4 genomes drawn from the table trained afresh (seed 7): Kendall tau 1.00")
    assert "the table's own two replicates agree at tau" in text
    other = synthetic_table({**TINY, "image_sizes": [40]})  # another menu: the validated genomes are not in it
    with pytest.raises(ValueError, match="validated genomes are not in the table"):
        validate.read(path, other)
