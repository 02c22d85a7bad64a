"""Building the table: a tiny sub-space trained end to end at smoke size, killed after its first trial and resumed
to the table an uninterrupted build gives; the latency pass; provenance and the staleness check (and the check of
the committed table, once there is one)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from videonas.genome import tvn
from videonas.genome.tvn_genome import network_key
from videonas.search import TrialStore
from videonas.table import Table, build, load_table, provenance, stale_reasons

MENU = {"frame_counts": [1, 2], "image_sizes": [32], "widths": [16], "block_types": ["spatial", "spatiotemporal"],
        "max_blocks": 2}
TASK = {"dataset": "embedded:smoke", "data_seed": 0, "batch_size": 16, "learning_rate": 0.003,
        "max_train_clips": 16, "max_val_clips": 16, "threads": 1}
GENOMES, REPLICATES, RUNGS = 4, 2, (1, 2)


def _cli(store, out) -> list[str]:
    return [sys.executable, "-m", "videonas", "table", "build", "--store", str(store), "--out", str(out),
            "--menu", json.dumps(MENU), "--genomes", str(GENOMES), "--replicates", str(REPLICATES),
            "--dataset", TASK["dataset"], "--max-train-clips", "16", "--max-val-clips", "16",
            "--rungs", ",".join(map(str, RUNGS)), "--executor", "inprocess", "--no-latency", "--no-progress"]


def _scores(table):
    """Everything a build decides, less the training seconds (wall time)."""
    return [(row.index, row.key, row.network, row.params, row.flops,
             [(r.seed, r.status, r.val, r.val_scene, r.val_motion, r.test, r.test_scene, r.test_motion)
              for r in row.replicates]) for row in table.rows]


@pytest.mark.slow
def test_a_killed_build_resumes_to_the_table_of_an_uninterrupted_one(tmp_path):
    from videonas import data

    data.embedded_dataset("smoke", seed=0)
    store, out = tmp_path / "killed" / "search.sqlite", tmp_path / "killed" / "table.json.gz"
    store.parent.mkdir()
    driver = subprocess.Popen(_cli(store, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:  # kill once the first trial is stored as done
            time.sleep(0.2)
            if store.exists():
                with TrialStore(store, read_only=True) as reader:
                    if "replicate-0" in reader.experiments() and reader.trials("replicate-0", status="done"):
                        break
        driver.kill()
    finally:
        driver.wait()
    with TrialStore(store, read_only=True) as reader:
        stopped = [t for name in reader.experiments() for t in reader.trials(name) if t.status == "done"]
    assert 1 <= len(stopped) < GENOMES * REPLICATES and not out.exists()
    resumed = subprocess.run(_cli(store, out), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{GENOMES} of 8 genomes, {GENOMES} trained to the top rung (partial: 4 missing, 0 of them" in resumed.stdout
    reference = build.build(out=tmp_path / "reference.json.gz", store=tmp_path / "reference.sqlite", menu=MENU,
                            genomes=GENOMES, replicates=REPLICATES, task=TASK, rung_epochs=RUNGS,
                            executor="inprocess", latency=False, progress=False)
    table = load_table(out)
    assert _scores(table) == _scores(reference)
    assert len(table) == GENOMES and all(len(row.done()) == REPLICATES for row in table.rows)
    assert table.provenance["task"] == {**TASK} and table.rung_epochs == RUNGS
    # Genomes 0 and 2 build the same network (a temporal kernel at one frame is no layer): trained once, same scores.
    assert table.rows[0].network == table.rows[2].network and _scores(table)[0][-1] == _scores(table)[2][-1]
    assert stale_reasons(table) == []


@pytest.mark.slow
def test_validation_trains_drawn_genomes_with_a_new_seed_and_resumes(tmp_path):
    from videonas.table import validate

    out, store = tmp_path / "table.json.gz", tmp_path / "search.sqlite"
    build.build(out=out, store=store, menu=MENU, genomes=GENOMES, replicates=REPLICATES, task=TASK,
                rung_epochs=RUNGS, executor="inprocess", latency=False, progress=False)
    with pytest.raises(ValueError, match="new seed"):
        validate.validate(out, store=store, genomes=3, seed=1, executor="inprocess", progress=False)
    result = validate.validate(out, store=store, genomes=3, seed=5, executor="inprocess", progress=False)
    table = load_table(out)
    drawn = validate.draw(table, genomes=3, seed=5)  # the first 4 genomes build 3 networks
    assert [entry["key"] for entry in result["genomes"]] == [row.key for row in drawn]
    assert result["trained"] == 3 and set(result) >= {"tau", "ceiling"}
    written = validate.validation_path(out).read_text()  # text: a tau of tied smoke scores is NaN
    assert written == json.dumps(result, indent=1, sort_keys=True)
    with TrialStore(store, read_only=True) as reader:
        trials = reader.trials("validate-seed5")
        replicate = {t.genome_key: t.seed for t in reader.trials("replicate-0")}
    assert len(trials) == 3 and all(t.seed != replicate[t.genome_key] for t in trials)  # a new training seed
    again = validate.validate(out, store=store, genomes=3, seed=5, executor="inprocess", progress=False)
    assert json.dumps(again, sort_keys=True) == json.dumps(result, sort_keys=True)  # resumed: nothing trained again


@pytest.mark.slow
def test_the_latency_pass_times_each_network_once_and_resumes(tmp_path):
    from videonas.table import tables

    space = tvn.TVNSpace(table=MENU)
    rows = tuple(tables.TableRow(index=i, key=g.key, network=network_key(g), genome=g.to_dict(),
                                 choices=space.choices_of(g), params=None, flops=None, latency_ms=None,
                                 latency_cv=None, replicates=(tables.Replicate(seed=0, status="done", val=(0.5,)),))
                 for i, g in enumerate(space.genomes()[:3]))
    table = tables.Table({}, space.menu, (1,), rows)
    path = tmp_path / "latency.json"
    setup = {**build.LATENCY, "runs": 2, "warmup": 1}
    state = build.measure_latencies(table, path, setup=setup)
    assert set(state["by_network"]) == {row.network for row in rows} and len(state["by_network"]) == 2
    assert all(entry["median_ms"] > 0 for entry in state["by_network"].values())
    written = path.read_text()
    build.measure_latencies(table, path, setup=setup)  # nothing left to measure: the file is unchanged
    assert path.read_text() == written
    moved = json.loads(written)
    path.write_text(json.dumps({**moved, "machine": {**moved["machine"], "host": "elsewhere"}}))
    again = build.measure_latencies(table, path, setup=setup)  # another machine's figures are not mixed in
    assert again["machine"] == provenance.machine() and len(again["by_network"]) == 2


def test_a_table_is_stale_when_the_dataset_or_the_tvn_builder_changes():
    space = tvn.TVNSpace(table=MENU)
    recorded = {"builder_version": provenance.BUILDER_VERSION, "task": {"data_seed": 0},
                "dataset": provenance.dataset_fingerprint(),
                "tvn_builder": provenance.builder_fingerprint(provenance.fixed_genomes(space))}
    assert stale_reasons(Table(recorded, space.menu, (1,), ())) == []
    other_data = {**recorded, "dataset": {**recorded["dataset"], "render": "0"}}
    assert any("embedded dataset" in reason for reason in stale_reasons(Table(other_data, space.menu, (1,), ())))
    builder = json.loads(json.dumps(recorded["tvn_builder"]))
    builder["genomes"][0]["params"] += 1
    builder["hash"] = "changed"
    other_builder = Table({**recorded, "tvn_builder": builder}, space.menu, (1,), ())
    assert any("TVN builder changed" in reason for reason in stale_reasons(other_builder))


def test_the_committed_table_matches_this_checkout():
    if not build.TABLE.is_file():
        pytest.skip(f"no table committed yet ({build.TABLE}); build it with 'python -m videonas table build'")
    assert stale_reasons(load_table(build.TABLE)) == []
