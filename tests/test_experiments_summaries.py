"""Search summaries from stored trials: counts by outcome, each seed's best, the best over seeds, chance, folders."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from videonas.experiments import summaries


@dataclasses.dataclass
class _Trial:
    index: int
    status: str
    fitness: float | None = None
    latency_ms: float | None = None
    params: int | None = None
    flops: int | None = None
    rejected_by: str | None = None
    epochs: int | None = None
    metrics: dict | None = None


SEARCHES = {
    ("evolution", 0): [_Trial(0, "done", 0.4, 5.0, 1000, 2_000_000), _Trial(1, "rejected", rejected_by="max_params"),
                       _Trial(2, "done", 0.6, 7.5, 1200, 3_000_000, epochs=3),
                       _Trial(3, "failed"), _Trial(4, "done", 0.6, 7.5, 1200, 3_000_000, epochs=3,
                                                   metrics={"reused_from": 2})],
    ("evolution", 1): [_Trial(0, "done", 0.7, 6.0, 900, 1_000_000), _Trial(1, "done", 0.7, 4.0, 800, 1_000_000)],
    ("random", 0): [_Trial(0, "rejected", rejected_by="max_latency_ms"), _Trial(1, "done", float("nan"))],
    ("random", 1): [_Trial(0, "done", 0.5, 3.0, 700, 500_000)],
}


def test_search_summary_counts_outcomes_and_reports_the_best_trial():
    row = summaries.search_summary(SEARCHES["evolution", 0])
    assert row["trials"] == 5 and row["done"] == 3 and row["failed"] == 1 and row["rejected (P)"] == 1
    assert row["epochs"] == 3  # a copy of a duplicate network trained nothing
    assert row["best"] == 0.6 and row["best trial"] == 2 and row["best latency ms"] == 7.5
    assert row["best MFLOPs"] == pytest.approx(3.0)
    empty = summaries.search_summary(SEARCHES["random", 0])
    assert empty["best"] is None and empty["done"] == 0 and empty["rejected (R)"] == 1  # NaN fitness is not done


def test_summary_rows_are_labelled_by_search_and_seed():
    rows = summaries.summary_rows(SEARCHES)
    assert [(row["search"], row["seed"]) for row in rows] == list(SEARCHES)


def test_best_by_seed_feeds_a_paired_comparison():
    assert summaries.best_by_seed(SEARCHES, label="evolution") == {0: 0.6, 1: 0.7}
    assert summaries.best_by_seed(SEARCHES, label="random") == {0: None, 1: 0.5}
    with pytest.raises(ValueError, match="label must name an arm of the searches, got 'guided'"):
        summaries.best_by_seed(SEARCHES, label="guided")


def test_overall_best_breaks_ties_by_earlier_trial():
    seed, trial = summaries.overall_best(SEARCHES, label="evolution")
    assert seed == 1 and trial.index == 0
    with pytest.raises(ValueError, match="no finished trial in arm 'random'"):
        summaries.overall_best({("random", 0): SEARCHES["random", 0]}, label="random")


def test_chance_note_only_near_chance():
    assert summaries.chance_note(0.9, num_classes=13) == ""
    assert "near chance (1/13 = 0.077)" in summaries.chance_note(0.1, num_classes=13)
    assert summaries.chance_note(None, num_classes=13) != ""


def test_output_folder_removes_the_old_store_unless_resuming(tmp_path: Path):
    folder = tmp_path / "exp"
    folder.mkdir()
    for name in ("search.sqlite", "search.sqlite-wal", "keep.png"):
        (folder / name).write_text("x")
    assert summaries.output_folder("exp", output_dir=folder, store="search.sqlite", resume=True) == folder
    assert (folder / "search.sqlite").exists()
    summaries.output_folder("exp", output_dir=folder, store="search.sqlite")
    assert sorted(p.name for p in folder.iterdir()) == ["keep.png"]
    assert summaries.dataset_value(None, "smoke") == "embedded:smoke"
    assert summaries.dataset_value("/data/k400.csv", "smoke") == "/data/k400.csv"


def test_a_result_shows_the_datasets_load_report_once(tmp_path):
    """``experiment.finish(dataset=...)``: the load report goes into results.json and the notebook's conclusion."""
    from videonas import data
    from videonas.experiments import experiment

    dataset = data.DatasetSpec.from_value("embedded:smoke").open()
    result = experiment.finish(tmp_path, title="T", question="Q?", headline=[], conclusion="Done.", dataset=dataset)
    shown = result._repr_markdown_()
    assert shown.count("#### Data") == 1 and "train: 208 videos, 16-16 per class" in shown
    assert result.results.extra["data"]["splits"]["val"]["videos"] == 78
    plain = experiment.finish(tmp_path, title="T", question="Q?", headline=[], conclusion="Done.")
    assert "#### Data" not in plain._repr_markdown_()


def test_the_report_says_which_backend_trained_the_finished_results():
    torch = [_Trial(0, "done", 0.5, metrics={"backend": "torch"}), _Trial(1, "failed", metrics={"backend": "jax"})]
    assert summaries.repeatability("Seeded.", torch).startswith(
        "Seeded. Trained on the torch Keras backend (the executor's workers)")
    both = [*torch, _Trial(2, "done", 0.4, metrics={"backend": "tensorflow"})]
    assert "Trained on the tensorflow and torch Keras backends" in summaries.repeatability("Seeded.", both)
    assert summaries.repeatability("Seeded.", [_Trial(0, "done", 0.5), None]) == "Seeded."  # before backends were
