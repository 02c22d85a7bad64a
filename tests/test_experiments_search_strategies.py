"""search_strategies: the synthetic table, the landscape computations, the simulated searches (deterministic, the
same in parallel), their records and curves, the verdicts, and one tiny run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy
import pytest
import yaml

from videonas.experiments import landscape, search_strategies as strategies, table_frames, table_searches as searches
from videonas.search import run_search
from videonas.search.store import Trial
from videonas.table import is_synthetic, synthetic_table, write_table
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent
MENU = {"frame_counts": [1, 2, 4], "image_sizes": [32, 48], "widths": [16],
        "block_types": ["spatial", "spatiotemporal"], "min_blocks": 2, "max_blocks": 3}


def _default() -> dict:
    return yaml.safe_load((ROOT / "notebooks" / "params" / "default" / "search_strategies.yaml").read_text())["config"]


def _tiny(**changes) -> dict:
    return {**_default(), "table": {"synthetic": {"menu": MENU}}, "num_seeds": 3, "max_epochs": 36,
            "max_proposals": 12, "latency_seeds": 2, "latency_quantiles": [0.5, 1.0], "workers": 1, **changes}


@pytest.fixture(scope="module")
def table():
    return synthetic_table(MENU)


@pytest.fixture(scope="module")
def budget(table, tmp_path_factory):
    path = write_table(table, tmp_path_factory.mktemp("table") / "synthetic.json.gz")
    return searches.Budget(str(path), dict(table.menu), max_epochs=36, max_proposals=40)


def test_the_synthetic_table_is_deterministic_labelled_and_shaped_like_a_measured_one(table):
    assert synthetic_table(MENU) == table and synthetic_table(MENU, seed=1) != table
    assert is_synthetic(table) and "SYNTHETIC" in table.provenance["note"] and table.complete()
    assert len(table) == len(table.space()) == 72 and table.rung_epochs == (1, 2, 6)
    row = table.rows[5]
    assert [r.seed for r in row.replicates] == [0, 1] and len(row.replicates[0].val) == 3
    assert row.replicates[0].test != row.replicates[1].test  # replicates differ: the searches' noise
    one_frame = [r for r in table.rows if r.choices["num_frames"] == 1]
    assert max(numpy.mean([x.test_motion for x in r.replicates]) for r in one_frame) < 0.25  # no motion from 1 frame
    with pytest.raises(ValueError, match="rung_epochs"):
        synthetic_table(MENU, rung_epochs=(6, 2))


def test_neighbour_pairs_are_the_mutations_support(table):
    space = table.space()
    pairs = landscape.neighbour_pairs(table)
    for position in (0, 17, 71):
        expected = {space.index_of(g) for g in space.neighbours(space.genome_at(position))}
        assert {table.rows[b].index for a, b in pairs if a == position} == expected
    rng = numpy.random.default_rng(0)
    child = space.mutate(space.genome_at(17), rng)
    assert (17, space.index_of(child)) in pairs


def test_landscape_oracle_motion_rule_and_limits(table):
    test, val = landscape.scores(table, "test"), landscape.scores(table, "val")
    best = landscape.oracle(table)
    assert best["val"] == pytest.approx(numpy.max(val)) and best["best_test"] == pytest.approx(numpy.max(test))
    motion = landscape.motion_learners(table, above_chance=2.0)
    assert motion["threshold"] == pytest.approx(2 / 7) and motion["known"] == 72
    assert 0 < motion["count"] < 72 and motion["share"] == pytest.approx(motion["count"] / 72)
    assert landscape.motion_learners(table, above_chance=50.0)["count"] == 0
    pairs = landscape.parent_child(table)
    assert pairs["pairs"] == len(landscape.neighbour_pairs(table)) and -1 <= pairs["spearman"] <= 1
    limits = landscape.latency_limits(table, [0.0, 1.0])
    fastest, every = landscape.oracle_under_limits(table, limits)
    assert every["admitted"] == 72 and every["index"] == best["index"]
    assert fastest["admitted"] >= 1 and fastest["num_frames"] == 1  # the fastest genomes see one frame
    assert landscape.replicate_spread(table) > 0


def _trial(index, round_, fitness, *, rung=0, epochs=6, status="done", test=None, reused=False):
    metrics = {"test": {"accuracy": test}} if test is not None else {}
    if reused:
        metrics["reused_from"] = 0
    return Trial(experiment="x", index=index, round=round_, parent=None, genome=json.dumps({"num_frames": 4}),
                 genome_key=str(index), status=status, fitness=fitness, metrics=metrics, rung=rung,
                 epochs=None if reused else epochs)


def test_a_record_follows_the_validation_best_at_the_top_rung_within_the_budget():
    trials = [_trial(0, 0, 0.5, rung=1, test=0.4), _trial(1, 0, 0.9, rung=0, epochs=1),  # rung 0: not comparable
              _trial(2, 1, 0.6, rung=1, test=0.7), _trial(3, 1, 0.6, rung=1, test=0.1, reused=True),
              _trial(4, 2, 0.8, rung=1, test=0.3)]
    record = searches.record_of(trials, top_rung=1, max_epochs=15)
    assert record["rounds"] == [[7, 2, 0.5, 0.4], [13, 3, 0.6, 0.7], [19, 4, 0.8, 0.3]]
    assert record["winner"]["test"] == 0.7 and record["epochs"] == 13  # round 2 passed the budget
    assert record["proposals"] == 5 and record["winner"]["num_frames"] == 4 and not record["stopped_early"]
    assert searches.record_of(trials, top_rung=1, max_epochs=30)["stopped_early"]  # proposals ran out first
    grid = numpy.array([0.0, 7.0, 12.0, 13.0, 20.0])
    assert numpy.allclose(searches.curve(record, grid), [numpy.nan, 0.4, 0.4, 0.7, 0.3], equal_nan=True)
    assert searches.trained_at(record, 12) == 2 and searches.first_reaching(grid, [0.1, 0.4, 0.5, 0.7, 0.7], 0.5) == 12


def test_band_is_nan_until_every_seed_has_an_incumbent():
    curves = numpy.array([[numpy.nan, 0.5, 0.6], [0.4, 0.5, 0.8]])
    band = searches.band(curves)
    assert numpy.isnan(band["mean"][0]) and band["mean"][2] == pytest.approx(0.7)
    assert band["low"][2] < 0.7 < band["high"][2] and band["low"][1] == band["high"][1] == pytest.approx(0.5)


def test_same_seed_same_history_and_the_same_records_in_parallel(budget):
    specs = [searches.SearchSpec("regularized + rungs", "regularized", {"population_size": 4}, 3, (1, 2, 6)),
             searches.SearchSpec("mutate-best", "mutate-best", {"population_size": 4}, 3, (6,))]
    once, again = searches.run_chunk(specs, budget), searches.run_chunk(specs, budget)
    assert once == again and all(r["epochs"] <= 36 and r["winner"] for r in once)
    assert once[0]["trained"] > once[1]["trained"]  # rungs train more candidates for the same epochs
    assert searches.run_specs(specs, budget, workers=2, chunk=1) == once


def test_same_seed_same_trial_history(budget, tmp_path):
    spec = searches.SearchSpec("regularized", "regularized", {"population_size": 4}, 7, (1, 2, 6))
    histories = []
    for store in ("a.sqlite", "b.sqlite"):
        experiment = run_search(searches.search_config(spec, budget, store=tmp_path / store), progress=False)
        histories.append([(t.index, t.parent, t.genome_key, t.status, t.fitness, t.rung, t.epochs, t.seed)
                          for t in experiment.trials()])
    assert histories[0] == histories[1] and len(histories[0]) > 8
    other = searches.SearchSpec("regularized", "regularized", {"population_size": 4}, 8, (1, 2, 6))
    keys = [t.genome_key for t in run_search(searches.search_config(other, budget, store=tmp_path / "c.sqlite"),
                                             progress=False).trials()]
    assert keys != [entry[2] for entry in histories[0]]


def test_the_default_profile_parses_and_a_misspelled_key_is_named():
    parsed = strategies.Config.from_dict(_default())
    assert parsed.num_seeds >= 200 and [a.label for a in parsed.strategies] == list(strategies.STRATEGIES)
    assert parsed.rungs.epochs == (1, 2, 6) and parsed.table == "reports/bench/table/tvn_table.json.gz"
    for path in ("num_seed", "rungs.keeps", "strategies.regularized.option", "table.synthetic.replicate"):
        data = _tiny() if path.startswith("table.") else _default()
        assert_typo_named(strategies.Config.from_dict, data, path)


def test_a_missing_table_says_how_to_build_it_and_rungs_must_be_the_tables(tmp_path):
    missing = strategies.Config.from_dict({**_default(), "table": str(tmp_path / "none.json.gz")})
    with pytest.raises(ValueError, match="python -m videonas table build"):
        strategies.run(missing, output_dir=tmp_path / "out")
    wrong = strategies.Config.from_dict(_tiny(rungs={"epochs": [1, 3, 6]}))
    with pytest.raises(ValueError, match=r"rungs.epochs \[1, 3, 6\] must be rungs of the table \[1, 2, 6\]"):
        strategies.open_table(wrong, tmp_path)


def _records(shift: dict[str, float], seeds: int = 40) -> list[dict]:
    rng = numpy.random.default_rng(0)
    base = rng.uniform(0.5, 0.7, seeds)
    return [{"arm": label, "seed": seed, "winner": {"test": float(base[seed] + shift.get(label, 0.0)
                                                                  + rng.normal(0, 0.005))}}
            for label in ("random", "mutate-best", "regularized", "random + rungs", "mutate-best + rungs",
                          "regularized + rungs") for seed in range(seeds)]


def test_verdicts_pair_seeds_name_each_strategy_and_label_a_synthetic_table():
    # margins: 1 point (our minimum effect of interest); regularized gains about that much, which cannot be told
    records = _records({"mutate-best": 0.05, "regularized": 0.01, "random + rungs": -0.05})
    verdicts = strategies.verdicts_of(records, noise_floor=0.01, synthetic=False)
    assert [v.verdict for v in verdicts[:3]] == ["supported", "inconclusive", "contradicted"]
    assert verdicts[0].estimate == pytest.approx(5.0, abs=0.5) and verdicts[0].n == 40
    assert verdicts[2].question.endswith("(random)?") and verdicts[4].question.endswith("(regularized)?")
    synthetic = strategies.verdicts_of(records, noise_floor=None, synthetic=True)
    assert all(v.question.startswith("SYNTHETIC table, not a measurement: ") for v in synthetic)


def test_a_tiny_run_end_to_end(tmp_path):
    config = strategies.Config.from_dict(_tiny())
    text = strategies.describe_table(config, output_dir=tmp_path)
    assert text.startswith("SYNTHETIC table (made-up scores, no network trained): 72 genomes")
    result = strategies.run(config, output_dir=tmp_path)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["verdicts"]) == 7 and all("SYNTHETIC" in v["question"] for v in saved["verdicts"])
    most = max(_tiny()["table"]["synthetic"]["menu"]["frame_counts"])
    assert f"the most frames ({most})" in saved["verdicts"][-1]["question"]
    assert [row["search"] for row in saved["extra"]["frames"]] == [
        table_frames.SCENE, table_frames.MOTION, "mutate-best", table_frames.FORCED]
    forced = saved["extra"]["frames_per_seed"][table_frames.FORCED]
    assert len(forced) == 3 and set(forced.values()) <= {most}  # forced to the menu's most frames
    assert set(saved["extra"]["per_seed"]) == {"random", "mutate-best", "regularized", "random + rungs",
                                               "mutate-best + rungs", "regularized + rungs"}
    assert all(len(values) == 3 for values in saved["extra"]["per_seed"].values())
    assert saved["extra"]["table"]["synthetic"] and "SYNTHETIC" in saved["conclusion"] and "SYNTHETIC" in saved["title"]
    reach = [row for row in saved["headline"] if "budget to reach random search's final mean best" in row["label"]]
    assert len(reach) == 6 and reach[0]["label"].startswith("random: ")
    assert len(saved["extra"]["latency_sweep"]) == 2 and (tmp_path / "best_so_far.png").is_file()
    assert (tmp_path / "landscape.png").is_file() and (tmp_path / strategies.SYNTHETIC_FILE).is_file()
    assert len(result.details.records) == 6 * 3 + 2 * 2 + 3 * 3  # arms, the R sweep, the frames searches
    assert all(record["epochs"] <= 36 for record in result.details.records)
    # 12 proposals: three rounds of rungs spend 30 epochs, short of 36; two rounds without rungs spend 48
    stalled = [row["arm"] for row in result.details.arms if row["stopped by max_proposals"] == 1.0]
    assert stalled == ["random + rungs", "mutate-best + rungs", "regularized + rungs"]
    assert "Stopped by max_proposals before the budget of 36 epochs: random + rungs" in saved["conclusion"]


def test_the_tables_validation_is_a_headline_row_beside_the_verdicts():
    assert strategies.validation_rows(None, synthetic=True) == []  # a synthetic table is never validated
    assert strategies.validation_rows(None, synthetic=False)[0]["value"] == "not validated yet"
    validated = {"trained": 20, "drawn": 20, "seed": 7, "tau": {"tau": 0.61, "interval": [0.4, 0.78]},
                 "ceiling": {"tau": 0.7, "interval": [0.5, 0.85]}}
    (row,) = strategies.validation_rows(validated, synthetic=False)
    assert row["label"].startswith("Table validation: Kendall tau")
    assert row["value"] == "0.61 (0.40 to 0.78), 20 genomes; the table's replicates 0.70"


def _frames_records(picks: dict, tests: dict) -> list[dict]:
    # a winner's table index: 100 + its frame count, so a test can name which genomes learn motion
    return [{"arm": label, "seed": seed, "winner": {"num_frames": frames, "test": tests[label][seed], "latency_ms": 1.0,
                                                    "table_index": 100 + frames}}
            for label, by_seed in picks.items() for seed, frames in by_seed.items()]


def test_frames_questions_compare_the_winners_frames_by_kind_and_the_forced_search():
    seeds = range(12)
    picks = {table_frames.SCENE: {s: 1 if s % 3 else 2 for s in seeds}, table_frames.MOTION: {s: 8 for s in seeds},
             "mutate-best": {s: 4 for s in seeds}, table_frames.FORCED: {s: 8 for s in seeds}}
    tests = {label: {s: 0.5 + 0.01 * (s % 2) for s in seeds} for label in picks}
    tests[table_frames.FORCED] = {s: 0.49 + 0.01 * (s % 3) for s in seeds}
    picked, forced = table_frames.frames_verdicts(_frames_records(picks, tests), free="mutate-best", most_frames=8)
    # motion winners use 8 frames, scene winners 1-2: a ratio of about 6x, far beyond the 1.5x margin
    assert picked.verdict == "supported" and picked.estimate > 4 and picked.n == 12
    assert picked.values_a == {str(s): 8.0 for s in seeds}  # per-seed values, stored as results.json keeps them
    assert forced.verdict == "supported" and "the most frames (8)" in forced.question  # within 5 points
    picks[table_frames.MOTION] = dict(picks[table_frames.SCENE])
    same, _ = table_frames.frames_verdicts(_frames_records(picks, tests), free="mutate-best", most_frames=8)
    assert same.verdict != "supported"
    rows = table_frames.frames_rows(_frames_records(picks, tests), free="mutate-best")
    assert rows[2]["4 frames"] == 12 and rows[3]["mean test"] == pytest.approx(0.5, abs=0.01)


def test_the_forced_search_is_judged_only_when_its_winners_learn_motion():
    seeds = range(12)
    picks = {table_frames.SCENE: {s: 1 for s in seeds}, table_frames.MOTION: {s: 8 for s in seeds},
             "mutate-best": {s: 4 for s in seeds}, table_frames.FORCED: {s: 8 for s in seeds}}
    tests = {label: {s: 0.5 + 0.01 * (s % 2) for s in seeds} for label in picks}
    records = _frames_records(picks, tests)
    _, judged = table_frames.frames_verdicts(records, free="mutate-best", most_frames=8, motion_learners={108})
    assert judged.verdict == "supported" and judged.p_value is not None
    _, vacuous = table_frames.frames_verdicts(records, free="mutate-best", most_frames=8, motion_learners={104})
    assert vacuous.verdict == "inconclusive" and vacuous.p_value is None and vacuous.t_p_value is None
    assert vacuous.reason.startswith("none of the 12 forced searches' winners learns motion")
    assert vacuous.values_a == judged.values_a  # the per-seed values stay
    assert table_frames.motion_share(records, table_frames.FORCED, {108}) == "12 of 12"
    assert table_frames.motion_share(records, table_frames.SCENE, {108}) == "0 of 12"
