"""EvaNet's search experiment on EvaNet genomes with a synthetic trial function (no training)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import yaml  # noqa: E402

from videonas.experiments import evanet_search, prose  # noqa: E402
from videonas.genome.evanet import distance  # noqa: E402
from videonas.search.store import TrialResult  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"family": "evanet", "options": {"max_branches": 2, "max_repeats": 1, "temporal_sizes": [1, 3, 5]}}
CONFIG = {
    "search": {"space": SPACE, "num_trials": 6, "max_epochs": 6, "batch_size": 2,
               "evaluate": "test_experiments_evanet:evaluate",
               "executor": "inprocess"},
    "arms": {"evolution": {"name": "decaying-tournament", "options": {"population_size": 2, "tournament_size": 2,
                                                         "num_changes_start": 3, "num_changes_end": 1}},
             "random": "random"},
    "seeds": [0, 1, 2, 3, 4, 5], "top_k": 2, "min_distance": 2,
}


def evaluate(genome, *, seed, **options):
    """Fitness from the genome alone; the test score adds a seed-dependent wobble (the noise floor)."""
    fitness = int(genome.key[:6], 16) % 1000 / 1000
    test = fitness + (seed % 5) / 100
    return TrialResult(fitness=fitness, params=1, flops=1000,
                       metrics={"test": {"accuracy": test, "num_clips": 10}})


def config_with(**changes):
    return evanet_search.Config.from_dict({**copy.deepcopy(CONFIG), **changes})


def _experiment(tmp_path, seeds=(0, 1, 2, 3, 4, 5)):
    return evanet_search.run_searches(config_with(seeds=list(seeds)), folder=tmp_path, progress=False)


def test_equal_budgets_paired_verdicts_and_a_measured_noise_floor(tmp_path):
    result = _experiment(tmp_path)
    assert all(len(trials) == 6 for trials in result.runs.trials().values())
    assert [v.n for v in result.verdicts] == [6, 6]
    first = result.verdicts[0]
    expected = [100 * (result.runs.scores("evolution")[s] - result.runs.scores("random")[s]) for s in range(6)]
    assert first.estimate == pytest.approx(sum(expected) / 6)
    # The retrained genome's test scores move by seed only: their spread is the noise floor, in points.
    assert first.noise_floor is not None and first.noise_floor > 0
    assert {r.fitness for r in result.noise_runs.values()} == {result.noise_trial.fitness}


def test_diverse_pair_is_far_enough_apart(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    for seed in (0, 1):
        experiment = result.runs.experiments["evolution", seed]
        best, runner_up = evanet_search.diverse_pair(experiment, min_distance=2)
        assert best.fitness == max(t.fitness for t in experiment.trials())
        if runner_up is not None:
            assert distance(experiment.genome(best), experiment.genome(runner_up)) >= 2
    assert evanet_search.diverse_pair(experiment, min_distance=10**6)[1] is None


def test_diversity_data_and_notes(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    data = evanet_search.diversity(result.runs, seed=0, top_k=2)
    assert data["matrix"].shape == (len(data["labels"]),) * 2
    assert set(data["pairwise"]) == {"evolution", "random"}
    assert all(index >= 2 for index, _ in data["steps"])  # only children have a parent
    notes = " ".join(evanet_search.notes(result))
    assert "starting random samples" in notes and "of 2 seeds" in notes
    rows = evanet_search.headline(result)
    assert rows[0]["label"] == result.verdicts[0].question and rows[0]["paper"] == ""


def test_conclusion_never_claims_agreement_when_inconclusive(tmp_path):
    result = _experiment(tmp_path, seeds=(0, 1))
    assert all(v.verdict == "inconclusive" for v in result.verdicts)  # two seeds cannot decide
    text = prose.conclusion(result.verdicts, notes=evanet_search.notes(result))
    assert "supports" not in text and "cannot tell" in text
    forced = [dataclasses.replace(v, verdict="supported") for v in result.verdicts]
    assert "supports the paper's claim" in prose.conclusion(forced)


def test_run_writes_the_figures_and_results_the_report_reads(tmp_path):
    result = evanet_search.run(config_with(seeds=[0, 1]), output_dir=tmp_path / "evanet_search", progress=False)
    written = json.loads((tmp_path / "evanet_search" / "results.json").read_text())
    assert written["figures"] == ["verdicts.png", "top_architectures.png", "diversity.png"]
    assert all((tmp_path / "evanet_search" / name).is_file() for name in written["figures"])
    assert written["title"] == evanet_search.TITLE and written["question"] == evanet_search.QUESTION
    assert written["conclusion"] == result.conclusion and result.conclusion.startswith("2 questions judged")
    assert len(written["extra"]["summary"]) == 4 and written["extra"]["store"].endswith("search.sqlite")
    assert [v.question for v in result.verdicts] == [v["question"] for v in written["verdicts"]]
    assert result.outputs["store"].is_file() and result._repr_markdown_().startswith(f"### {evanet_search.TITLE}")


def test_the_schedule_spans_the_search_unless_given():
    assert config_with().arms[0].strategy_options["decay_trials"] == 5
    given = copy.deepcopy(CONFIG["arms"])
    given["evolution"]["options"]["decay_trials"] = 2
    assert config_with(arms=given).arms[0].strategy_options["decay_trials"] == 2
    assert "decay_trials" not in config_with().arms[1].strategy_options


def test_first_round_repeats_for_a_seed():
    config = config_with(search={**CONFIG["search"], "num_trials": 4})
    first = evanet_search.first_round(config)
    assert first == evanet_search.first_round(config)
    assert first["changes"] == [3, 2, 2, 1] and len(first["keys"]) == 2


def test_compared_searches_need_a_training_budget():
    search = {key: value for key, value in CONFIG["search"].items() if key != "max_epochs"}
    with pytest.raises(ValueError, match=r"config\.search\.max_epochs is missing"):
        config_with(search=search)


def test_the_default_profile_parses():
    with open(ROOT / "notebooks/params/default/evanet_search.yaml", encoding="utf-8") as handle:
        config = evanet_search.Config.from_dict(yaml.safe_load(handle)["config"])
    # Enough paired seeds for the exact test to decide at all: its smallest attainable p is 1/2^n.
    assert 2.0 ** -len(config.seeds) < 0.025 and config.search["num_trials"] == 12
    assert config.arms[0].strategy_options == {"decay_trials": 11, "population_size": 3, "tournament_size": 2,
                                               "num_changes_start": 3, "num_changes_end": 1}


@pytest.mark.parametrize("where, dotted", [
    ((), "config.top_kk"),
    (("search",), "config.search.top_kk"),
    (("search", "space", "options"), "config.search.space.options.top_kk"),
    (("search", "executor"), "config.search.executor.top_kk"),
    (("arms",), "config.arms.top_kk"),
    (("arms", "evolution"), "config.arms.evolution.top_kk"),
    (("arms", "evolution", "options"), "config.arms.evolution.options.top_kk"),
])
def test_a_misspelled_key_names_its_dotted_path(where, dotted):
    data = copy.deepcopy(CONFIG)
    data["search"]["executor"] = {"kind": "inprocess"}
    level = data
    for key in where:
        level = level[key]
    level["top_kk"] = 1
    with pytest.raises(ValueError, match=dotted.replace(".", r"\.")):
        evanet_search.Config.from_dict(data)


def test_a_misspelled_task_key_names_its_dotted_path():
    data = copy.deepcopy(CONFIG)
    del data["search"]["evaluate"]
    data["search"]["task"] = {"num_frame": 4}
    with pytest.raises(ValueError, match=r"config\.search\.task"):
        evanet_search.Config.from_dict(data)


@pytest.mark.parametrize("search, message", [
    ({"seed": 3}, r"config\.search\.seed is set by the experiment"),
    ({"store": "x.sqlite"}, r"config\.search\.store is set by the experiment"),
    ({"space": {"family": "tvn"}}, r"config\.search\.space\.family must be 'evanet'"),
])
def test_search_fields_the_experiment_sets_are_refused(search, message):
    with pytest.raises(ValueError, match=message):
        config_with(search={**CONFIG["search"], **search})


@pytest.mark.parametrize("changes, message", [
    ({"arms": {"evolution": "decaying-tournament"}}, r"config\.arms is missing"),
    ({"seeds": [0, 0]}, r"config\.seeds must be a non-empty list of distinct seeds"),
    ({"seeds": [-1]}, r"config\.seeds"),
    ({"top_k": 0}, r"config\.top_k"),
    ({"resume": "yes"}, r"config\.resume must be true or false"),
])
def test_bad_values_name_their_field(changes, message):
    with pytest.raises(ValueError, match=message):
        config_with(**changes)
