"""tvn_search: its Config (the default profile parses; a misspelled key at any level names its dotted path), the
exact SearchConfig of every search, the first round, and the verdicts against hand-made networks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from videonas import config as config_module
from videonas.experiments import claims, tvn_common, tvn_search
from videonas.experiments.variants import VariantRuns
from videonas.genome.tvn import TVNGenome
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    return yaml.safe_load((ROOT / "notebooks" / "params" / "default" / "tvn_search.yaml").read_text())["config"]


def _result(value):
    return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})


def test_the_default_profile_parses_with_p_and_r_in_search_constraints():
    parsed = tvn_search.Config.from_dict(_default())
    assert parsed.seeds == (0, 1, 2) and parsed.preset_image_size == 64 and parsed.resume is False
    assert parsed.search["constraints"]["max_params"] == 200_000 and parsed.search["constraints"]["max_latency_ms"] == 2
    assert parsed.baseline_budget.epochs == 6 and parsed.baselines == ("R(2+1)D-18", "X3D-XS")


@pytest.mark.parametrize("path", [
    "seed", "search.num_trial", "search.task.batchsize", "search.constraints.max_param", "search.rungs.epoch",
    "search.space.options.max_block", "search.executor.options.max_worker", "arms.evolution.option",
    "baseline_budget.epoch"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(tvn_search.Config.from_dict, _default(), path)


def test_config_refuses_what_the_experiment_sets_or_needs():
    data = _default()
    del data["arms"]["random"]
    with pytest.raises(ValueError, match="config.arms must map arm labels .* evolution and random"):
        tvn_search.Config.from_dict(data)
    data = _default()
    del data["search"]["constraints"]["max_latency_ms"], data["search"]["constraints"]["latency_runs"]
    del data["search"]["constraints"]["latency_runtime"]
    with pytest.raises(ValueError, match=r"config\.search\.constraints\.max_latency_ms is R"):
        tvn_search.Config.from_dict(data)
    with pytest.raises(ValueError, match=r"config\.search\.store"):
        tvn_search.Config.from_dict({**_default(), "search": {**_default()["search"], "store": "x.sqlite"}})
    with pytest.raises(ValueError, match=r"config\.presets"):
        tvn_search.Config.from_dict({**_default(), "presets": ["EvaNet-A"]})
    data = _default()
    del data["search"]["max_epochs"]  # arms compared at a number of proposals would train unequal epochs
    with pytest.raises(ValueError, match=r"config\.search\.max_epochs is missing: .* compared"):
        tvn_search.Config.from_dict(data)


def test_search_configs_are_the_searches_a_yaml_file_or_the_python_api_would_start(tmp_path):
    parsed = tvn_search.Config.from_dict(_default())
    configs = tvn_search.search_configs(parsed, output_dir=tmp_path)
    assert list(configs) == [(label, seed) for label in ("evolution", "random") for seed in range(3)]
    evolution = configs["evolution", 2]
    assert (evolution.name, evolution.seed, evolution.store) == ("evolution-seed2", 2, str(tmp_path / "search.sqlite"))
    assert evolution.strategy.name == "mutate-best" and dict(evolution.strategy.options) == {"population_size": 4}
    assert configs["random", 0].strategy.name == "random"
    # The same search written as a run configuration file, and given to the Python API; an experiment's searches
    # score validation only and keep their weights beside the store (the test split is scored for the winners).
    search = copy.deepcopy(_default()["search"])
    search["task"]["score_test"] = False
    assert not evolution.task.score_test and evolution.save_weights == str(tmp_path / "weights")
    as_file = {"name": "evolution-seed2", "store": str(tmp_path / "search.sqlite"), "seed": 2,
               "strategy": {"name": "mutate-best", "options": {"population_size": 4}}, **search,
               "save_weights": str(tmp_path / "weights")}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(as_file))
    from_file = config_module.SearchConfig.from_dict(config_module.load_yaml(path))
    from_python = config_module.SearchConfig(
        name="evolution-seed2", store=str(tmp_path / "search.sqlite"),
        space=config_module.SpaceConfig.from_value(search["space"]), num_trials=60, seed=2, batch_size=9,
        max_epochs=32, rungs=config_module.RungsConfig(epochs=(1, 2, 6)),
        strategy=config_module.StrategyConfig("mutate-best", {"population_size": 4}),
        task=evolution.task, budget=evolution.budget, constraints=evolution.constraints,
        executor=config_module.ExecutorConfig("subprocess", {"max_workers": 2}), save_weights=str(tmp_path / "weights"))
    assert evolution.stored() == from_file.stored() == from_python.stored()
    assert evolution == from_file
    assert evolution.constraints.to_dict() == {"max_params": 200000, "max_latency_ms": 2.0, "latency_runs": 10,
                                               "latency_warmup": 3, "latency_runtime": "onnxruntime",
                                               "max_train_memory_mib": 4096}


def test_first_rounds_pair_the_arms_by_seed():
    data = _default()
    data["seeds"] = [0]
    text = tvn_search.first_rounds(tvn_search.Config.from_dict(data))
    evolution, random = text.splitlines()
    assert evolution.startswith("evolution seed 0: ") and random.startswith("random seed 0: ")
    # Evolution's first population_size candidates are random samples drawn exactly as random search draws them.
    assert evolution.split(": ")[1] == random.split(": ")[1] and "px/" in evolution


def test_hand_made_comparison_reads_scores_latency_and_verdicts_by_label():
    runs = VariantRuns({**{("found TVN", "same input", s): _result(0.60 + 0.01 * s) for s in range(6)},
                        **{("R(2+1)D-18 x0.25", "same input", s): _result(0.62 + 0.01 * s) for s in range(6)}})
    latency = [{"variant": "found TVN", "latency_ms": 0.5}, {"variant": "R(2+1)D-18 x0.25", "latency_ms": 20.0},
               {"variant": "TVN-1", "latency_ms": 9.0}, {"variant": "TVN-2", "latency_ms": None, "note": "too large"}]
    hand_made = tvn_search.HandMade(runs=runs, latency=latency, tvn_label="found TVN",
                                    baselines=["R(2+1)D-18 x0.25"], presets=["TVN-1", "TVN-2"])
    references = {row["label"]: row for row in hand_made.references()}
    assert references["TVN-1"]["accuracy"] is None and references["TVN-1"]["group"] == "TVN presets"
    assert references["found TVN"]["accuracy"] == pytest.approx(0.625)
    assert references["R(2+1)D-18 x0.25"]["group"] == "retrained, mean test" and "TVN-2" not in references
    table = hand_made.table()
    assert list(table["variant"]) == ["found TVN", "R(2+1)D-18 x0.25", "TVN-1", "TVN-2"]
    accuracy, speed = hand_made.verdicts()
    assert "(R(2+1)D-18 x0.25, same input)" in accuracy.question and accuracy.estimate == pytest.approx(-2.0)
    assert speed.estimate == pytest.approx(40.0)


class _Searches:
    """Per-seed test scores by arm, answering like ``ArmRuns``."""

    def __init__(self, scores):
        self.scores = scores

    def verdict(self, key, *, a, b):
        return claims.ask_scores(key, a=dict(enumerate(self.scores[a])), b=dict(enumerate(self.scores[b])))

    def top_score(self, label):
        return max(self.scores[label])


def test_answers_judge_evolution_against_random_and_note_the_found_tvn(tmp_path):
    searches = _Searches({"evolution": [0.60 + 0.01 * s for s in range(6)], "random": [0.50] * 6})
    runs = VariantRuns({**{("found TVN", "same input", s): _result(0.60) for s in range(6)},
                        **{("X x0.25", "same input", s): _result(0.55) for s in range(6)}})
    hand_made = tvn_search.HandMade(runs=runs, latency=[{"variant": "found TVN", "latency_ms": 0.25},
                                                        {"variant": "X x0.25", "latency_ms": 10.0}],
                                    tvn_label="found TVN", baselines=["X x0.25"], presets=[])
    found = (0, TrialResult(fitness=0.6, params=12_345), tvn_common.FRAMES_TVN)
    verdicts, text = tvn_search.answers_of(searches, hand_made, found=found, runtime="onnxruntime", num_classes=10)
    assert [v.question for v in verdicts][0] == claims.get("tvn_evolution_vs_random").question
    assert verdicts[0].estimate == pytest.approx(12.5) and len(verdicts) == 3
    assert "12,345 parameters and takes 0.25 ms on onnxruntime (1 frames at 32 px)" in text
    path = tvn_search.save_genome(tvn_common.FRAMES_TVN, tmp_path / "found_genome.json")
    assert TVNGenome.from_json(path.read_text()) == tvn_common.FRAMES_TVN
