"""tvn_search: its Config (the default profile parses; a misspelled key at any level names its dotted path), the
exact SearchConfig of every search, the first round, and the comparison with hand-made networks: each network's
learning rate chosen once and reused over the comparison seeds, no baseline trained fewer steps than the found TVN,
two inputs with the task's ceiling at each, and the verdicts (training stands in for a worker pool here)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from videonas import config as config_module, search
from videonas.data import embedded
from videonas.experiments import claims, hand_made, retrain, tvn_common, tvn_search
from videonas.experiments.variants import VariantRuns
from videonas.genome.tvn import TVNBlock, TVNGenome
from videonas.search.store import TrialResult
from typos import assert_typo_named

ROOT = Path(__file__).resolve().parent.parent


def _default() -> dict:
    return yaml.safe_load((ROOT / "notebooks" / "params" / "default" / "tvn_search.yaml").read_text())["config"]


def _result(value):
    return TrialResult(fitness=0.5, metrics={"test": {"accuracy": value}})


def test_the_default_profile_parses_with_p_and_r_in_search_constraints():
    parsed = tvn_search.Config.from_dict(_default())
    assert parsed.seeds == (0,) and parsed.preset_image_size == 64 and parsed.resume is False
    assert parsed.search["constraints"]["max_params"] == 200_000 and parsed.search["constraints"]["max_latency_ms"] == 2
    assert parsed.baselines == ("R(2+1)D-18",) and parsed.baseline_budget.patience is not None
    # Fixed networks are compared over at least 10 paired seeds, each with a learning rate chosen from a grid on a
    # seed that is not scored, at the found TVN's input and at one where motion matters.
    assert len(parsed.comparison_seeds) >= 10 and parsed.selection_seed not in parsed.comparison_seeds
    assert len(parsed.learning_rates) >= 3 and parsed.latency_repeats >= 5
    assert parsed.common_input["num_frames"] >= 8 and parsed.comparison_train_clips is not None


def test_the_comparison_trains_on_its_own_clip_count_and_the_searches_keep_theirs():
    parsed = tvn_search.Config.from_dict(_default())
    shared = next(iter(tvn_search.search_configs(parsed, output_dir=None).values()))
    task = tvn_search.comparison_task(parsed, shared)
    assert shared.task.max_train_clips is None and task["max_train_clips"] == parsed.comparison_train_clips
    assert {key: value for key, value in task.items() if key != "max_train_clips"} == {
        key: value for key, value in shared.task.to_dict().items() if key != "max_train_clips"}
    unset = dataclasses.replace(parsed, comparison_train_clips=None)
    assert tvn_search.comparison_task(unset, shared)["max_train_clips"] is None
    with pytest.raises(ValueError, match=r"config\.comparison_train_clips"):
        tvn_search.Config.from_dict({**_default(), "comparison_train_clips": 0})


@pytest.mark.parametrize("path", [
    "seed", "search.num_trial", "search.task.batchsize", "search.constraints.max_param", "search.rungs.epoch",
    "search.space.options.max_block", "search.executor.options.max_worker", "arms.evolution.option",
    "baseline_budget.epoch", "baseline_budget.patienc", "common_input.num_frame", "comparison_seed"])
def test_a_misspelled_key_at_each_level_names_its_dotted_path(path):
    assert_typo_named(tvn_search.Config.from_dict, _default(), path)


def test_config_refuses_what_the_experiment_sets_or_needs():
    data = _default()
    del data["arms"]["evolution"]
    with pytest.raises(ValueError, match="config.arms must map arm labels to strategies, with evolution"):
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


@pytest.mark.parametrize("field, value, message", [
    ("comparison_seeds", [], r"config\.comparison_seeds"),
    ("learning_rates", [0.01, 0.01], r"config\.learning_rates must hold distinct learning rates"),
    ("learning_rates", [], r"config\.learning_rates must be a non-empty list"),
    ("learning_rates", [0.0], r"config\.learning_rates\[0\] must be in"),
    ("selection_seed", -1, r"config\.selection_seed must be in"),
    ("common_input", {"num_frames": 8, "image_size": 64}, r"config\.common_input"),
    ("common_input", {"num_frames": 0, "image_size": 64, "frame_stride": 2}, r"config\.common_input\.num_frames"),
    ("latency_repeats", 0, r"config\.latency_repeats must be in"),
])
def test_the_comparison_fields_are_checked_by_name(field, value, message):
    with pytest.raises(ValueError, match=message):
        tvn_search.Config.from_dict({**_default(), field: value})


def test_the_comparison_fields_default_and_may_leave_out_the_common_input():
    data = _default()
    for field in ("learning_rates", "selection_seed", "common_input", "latency_repeats"):
        del data[field]
    parsed = tvn_search.Config.from_dict(data)
    assert parsed.learning_rates == (0.001, 0.003, 0.01) and parsed.selection_seed == 0
    assert parsed.common_input == tvn_search.COMMON_INPUT and parsed.latency_repeats == 5
    assert tvn_search.Config.from_dict({**_default(), "common_input": None}).common_input is None
    data = _default()
    del data["comparison_seeds"]
    with pytest.raises(ValueError, match="comparison_seeds"):
        tvn_search.Config.from_dict(data)


def test_search_configs_are_the_searches_a_yaml_file_or_the_python_api_would_start(tmp_path):
    data = _default()
    data["arms"]["random"], data["seeds"] = "random", [0, 1]  # an optional arm (the default runs evolution only)
    parsed = tvn_search.Config.from_dict(data)
    configs = tvn_search.search_configs(parsed, output_dir=tmp_path)
    assert list(configs) == [(label, seed) for label in ("evolution", "random") for seed in parsed.seeds]
    evolution = configs["evolution", 1]
    assert (evolution.name, evolution.seed, evolution.store) == ("evolution-seed1", 1, str(tmp_path / "search.sqlite"))
    assert evolution.strategy.name == "mutate-best" and dict(evolution.strategy.options) == {"population_size": 4}
    assert configs["random", 0].strategy.name == "random"
    # The same search written as a run configuration file, and given to the Python API; an experiment's searches
    # score validation only and keep their weights beside the store (the test split is scored for the winners).
    search = copy.deepcopy(_default()["search"])
    search["task"]["score_test"] = False
    assert not evolution.task.score_test and evolution.save_weights == str(tmp_path / "weights")
    as_file = {"name": "evolution-seed1", "store": str(tmp_path / "search.sqlite"), "seed": 1,
               "strategy": {"name": "mutate-best", "options": {"population_size": 4}}, **search,
               "save_weights": str(tmp_path / "weights")}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(as_file))
    from_file = config_module.SearchConfig.from_dict(config_module.load_yaml(path))
    from_python = config_module.SearchConfig(
        name="evolution-seed1", store=str(tmp_path / "search.sqlite"),
        space=config_module.SpaceConfig.from_value(search["space"]), num_trials=60, seed=1, batch_size=9,
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
    data["seeds"], data["arms"]["random"] = [0], "random"
    text = tvn_search.first_rounds(tvn_search.Config.from_dict(data))
    evolution, random = text.splitlines()
    assert evolution.startswith("evolution seed 0: ") and random.startswith("random seed 0: ")
    # Evolution's first population_size candidates are random samples drawn exactly as random search draws them.
    assert evolution.split(": ")[1] == random.split(": ")[1] and "px/" in evolution


VAL_BY_RATE = {0.003: 0.50, 0.01: 0.55}  # validation score of every network by learning rate: 0.01 is chosen
STEPS_PER_EPOCH = 10


class _Pool(search.Executor):
    """Stands in for the worker pool: a job trains its budget's epochs at ten steps each (a network named in
    ``short`` gets one epoch less, as a smaller budget would give it), scores val by its learning rate, and is
    recorded as ``(network, seed, learning rate, frames)``."""

    def __init__(self, *, short=()):
        super().__init__()
        self.short, self.jobs = set(short), []

    def run(self, function, jobs, on_start=None):
        for position, job in enumerate(jobs):
            trial = getattr(job.options, "trial", job.options)
            name = getattr(job.options, "model", "TVN")
            frames = job.genome.num_frames if job.genome is not None else trial.task.num_frames
            self.jobs.append((name, job.seed, trial.task.learning_rate, frames))
            epochs = trial.budget.epochs - (name in self.short)
            metrics = {"steps": epochs * STEPS_PER_EPOCH, "test": {"accuracy": 0.4 + job.seed % 7 / 100}}
            if trial.budget.patience is not None:
                metrics.update(max_steps=epochs * STEPS_PER_EPOCH, patience=trial.budget.patience)
            yield position, TrialResult(fitness=VAL_BY_RATE[trial.task.learning_rate], metrics=metrics)


TASK = {"dataset": "embedded:smoke", "batch_size": 16, "learning_rate": 0.003}
BUDGET = {"epochs": 3, "patience": 1}
COMMON = hand_made.Input(hand_made.COMMON_INPUT, 8, 32, 2)


def test_each_network_gets_its_learning_rate_once_then_trains_over_the_comparison_seeds():
    pool = _Pool()
    networks, note = hand_made.networks_at(tvn_common.FRAMES_TVN, COMMON, baselines=["R(2+1)D-18"], width=0.25)
    assert note == "" and networks["found TVN"].num_frames == 8 and networks["found TVN"].blocks == \
        tvn_common.FRAMES_TVN.blocks
    choices, results, allowed = hand_made.train_networks(
        networks, task=COMMON.task(TASK), budget=BUDGET, seeds=list(range(10)), rates=(0.003, 0.01),
        selection_seed=10, executor=pool)
    assert {label: choice.rate for label, choice in choices.items()} == {"found TVN": 0.01, "R(2+1)D-18 x0.25": 0.01}
    selection = [job for job in pool.jobs if job[1] == retrain.training_seed(10)]
    assert sorted((name, rate) for name, _, rate, _ in selection) == [
        ("R(2+1)D-18", 0.003), ("R(2+1)D-18", 0.01), ("TVN", 0.003), ("TVN", 0.01)]
    compared = [job for job in pool.jobs if job[1] != retrain.training_seed(10)]
    assert len(compared) == 20 and {rate for _, _, rate, _ in compared} == {0.01}
    assert {frames for *_, frames in pool.jobs} == {8}  # both networks at the common input
    assert sorted(results["R(2+1)D-18 x0.25"]) == list(range(10)) and allowed == {"R(2+1)D-18 x0.25": 30}


@pytest.mark.parametrize("patience", [None, 2])
def test_a_baseline_trained_fewer_steps_than_the_found_tvn_stops_the_comparison(patience):
    """The experiment-level check of issue 30: a baseline whose budget allows fewer steps (with or without
    patience) than the found TVN trained is refused before anything is timed, naming both counts."""
    with pytest.raises(ValueError, match=r"arm 'R\(2\+1\)D-18 x0.25' seed 0: its budget allowed 20 training steps, "
                                         r"fewer than the 30 that 'found TVN' trained"):
        hand_made.against_hand_made(
            tvn_common.FRAMES_TVN, task=TASK, inputs=[COMMON], seeds=[0, 1], budget={"epochs": 3,
                                                                                    "patience": patience},
            rates=(0.003, 0.01), selection_seed=10, baselines=["R(2+1)D-18"], width=0.25, presets=["TVN-1"],
            preset_image_size=64, num_classes=13, runtime="onnxruntime", runs=5, repeats=3, threads=1,
            executor=_Pool(short={"R(2+1)D-18"}))


def test_inputs_carry_the_ceiling_and_a_tvn_that_does_not_fit_is_left_out_with_a_note():
    found = tvn_common.FRAMES_TVN
    own, common = hand_made.inputs_of(found, tvn_search.COMMON_INPUT, task=TASK)
    assert (own.name, own.clip, common.clip) == (hand_made.FOUND_INPUT, (1, 32, 1), (8, 64, 2))
    assert own.ceiling["overall"] == pytest.approx(0.446, abs=5e-4) and common.ceiling["motion"] == 1.0
    assert hand_made.inputs_of(found, {"num_frames": 1, "image_size": 32, "frame_stride": 1}, task=TASK) == [own]
    assert hand_made.inputs_of(found, None, task={**TASK, "classes": ["motion_left", "motion_right"]})[0].ceiling == {
        "overall": 0.5, "scene": None, "motion": 0.5}
    assert hand_made.ceiling({**TASK, "multi_label": True}, 8) is None  # mAP on multi-label data: no known ceiling
    deep = TVNGenome(image_size=32, num_frames=1, frame_stride=1, blocks=(
        *found.blocks, TVNBlock(spatial_kernel=3, spatial_stride=2, filters=16)))
    tiny = hand_made.Input(hand_made.COMMON_INPUT, 8, 8, 2)
    networks, note = hand_made.networks_at(deep, tiny, baselines=["X3D-XS"], width=0.25)
    assert list(networks) == ["X3D-XS x0.25"] and "cannot be built at the common input (8x8px): image_size" in note


def _compared(*, tvn=0.40, baseline=0.38):
    """The found TVN and one baseline at both inputs, 10 seeds, with repeated timings."""
    own = hand_made.Input(hand_made.FOUND_INPUT, 1, 32, 2, ceiling=embedded.input_ceiling(1))
    common = hand_made.Input(hand_made.COMMON_INPUT, 8, 64, 2, ceiling=embedded.input_ceiling(8))
    runs = VariantRuns({(label, where.name, s): _result(value + 0.01 * (s % 3))
                        for where in (own, common) for label, value in (("found TVN", tvn), ("R x0.25", baseline))
                        for s in range(10)})
    latency = [{"compared at": own.name, "variant": "found TVN", "params": 40_000, "latency_ms": 0.5,
                "latency_repeats_ms": [0.4, 0.5, 0.6]},
               {"compared at": own.name, "variant": "R x0.25", "params": 900_000, "latency_ms": 20.0,
                "latency_repeats_ms": [19.0, 20.0, 22.0]},
               {"compared at": common.name, "variant": "found TVN", "params": 40_000, "latency_ms": 2.0},
               {"compared at": common.name, "variant": "R x0.25", "params": 900_000, "latency_ms": 80.0},
               {"compared at": None, "variant": "TVN-1", "latency_ms": 9.0},
               {"compared at": None, "variant": "TVN-2", "latency_ms": None, "note": "too large"}]
    return hand_made.HandMade(runs=runs, latency=latency, inputs=[own, common], baselines=["R x0.25"],
                              presets=["TVN-1", "TVN-2"], learning_rates={own.name: {"R x0.25": {
                                  "learning_rate": 0.01}}}, width=0.25)


def test_hand_made_verdicts_table_and_notes_at_each_input():
    compared = _compared()
    verdicts = compared.verdicts()
    assert [v.question.rsplit("(", 1)[1] for v in verdicts] == [
        "R x0.25, found TVN's input, 1x32px)?", "R x0.25, common input, 8x64px)?"]  # accuracy only: speed is described
    assert verdicts[0].estimate == pytest.approx(2.0) and verdicts[0].n == 10
    speed = compared.speed_notes(runtime="ONNX Runtime")
    ratio = (19.0 * 20.0 * 22.0) ** (1 / 3) / (0.4 * 0.5 * 0.6) ** (1 / 3)  # geometric means of the repeats
    assert len(speed) == 2 and f"R x0.25 {ratio:.2f}x" in speed[0] and "R x0.25 40.00x" in speed[1]
    assert "runs in 0.50 ms on ONNX Runtime" in speed[0] and "published_architectures judges it" in speed[0]
    table = compared.table()
    assert list(table["variant"]) == ["found TVN", "R x0.25", "found TVN", "R x0.25", "TVN-1", "TVN-2"]
    row = table.iloc[1]
    assert row["learning rate"] == 0.01 and row["latency range"] == pytest.approx(3.0) and row["seeds"] == 10
    assert row["ceiling"] == pytest.approx(0.446, abs=5e-4)
    assert table.iloc[3]["ceiling"] == pytest.approx(0.908, abs=5e-4)
    references = {(row["label"], row["group"]) for row in compared.references()}
    assert ("TVN-1", "TVN presets") in references and len(references) == 3  # the common input has its own figure
    notes = " ".join(compared.conclusion_notes(max_params=200_000))
    assert "At the found TVN's input (1x32px) no network can beat 0.446 test top-1" in notes
    assert "one frame shows no motion" in notes and "motion classes at most 0.143" in notes
    assert "At the common input (8x64px) no network can beat 0.908" in notes
    assert "over it: R x0.25 (900,000)" in notes and "a Pareto picture" in notes and "not a constrained one" in notes
    extra = compared.extra()
    assert [row["task"] for row in extra["retrained"]] == [hand_made.FOUND_INPUT] * 2  # what the bench reads
    assert extra["inputs"][1]["ceiling"]["motion"] == 1.0


def test_hand_made_notes_and_keeps_the_trainings_the_epoch_cap_stopped_while_improving():
    compared = _compared()
    capped = {"steps": 60, "max_steps": 60, "epochs_trained": 6, "best_epoch": 6, "patience": 2}
    for seed in range(3):  # 3 of the baseline's 10 trainings at the common input peaked at their last epoch
        compared.runs.results[("R x0.25", hand_made.COMMON_INPUT, seed)] = TrialResult(
            fitness=0.5, metrics={"test": {"accuracy": 0.4}, **capped})
    for seed in range(3, 10):
        compared.runs.results[("R x0.25", hand_made.COMMON_INPUT, seed)] = TrialResult(
            fitness=0.5, metrics={"test": {"accuracy": 0.4}, **capped, "best_epoch": 4})
    notes = " ".join(compared.conclusion_notes())
    assert "At the common input (8x64px): still improving when the epoch cap stopped them" in notes
    assert "R x0.25 3 of 10." in notes and "At the found TVN's input (1x32px): still" not in notes  # no patience there
    assert compared.extra()["still_improving"] == {
        hand_made.FOUND_INPUT: {}, hand_made.COMMON_INPUT: {"R x0.25": {"still_improving": 3, "trainings": 10}}}


def test_a_latency_ratio_needs_both_timings_and_uses_every_repeat():
    assert hand_made.speed_ratio({"latency_ms": 10.0}, {"latency_ms": None}) is None
    assert hand_made.speed_ratio({"latency_ms": 10.0}, {"latency_ms": 0.5}) == pytest.approx(20.0)
    assert hand_made.speed_ratio({"latency_ms": 9.0, "latency_repeats_ms": [4.0, 16.0]},
                                 {"latency_ms": 1.0, "latency_repeats_ms": [1.0, 1.0]}) == pytest.approx(8.0)

class _Searches:
    """Per-seed test scores by arm, answering like ``ArmRuns``."""

    def __init__(self, scores):
        self.scores = scores
        self.labels = list(scores)

    def verdict(self, key, *, a, b):
        return claims.ask_scores(key, a=dict(enumerate(self.scores[a])), b=dict(enumerate(self.scores[b])))

    def top_score(self, label):
        return max(self.scores[label])


def test_answers_judge_evolution_against_random_and_note_the_found_tvn(tmp_path):
    searches = _Searches({"evolution": [0.60 + 0.01 * s for s in range(6)], "random": [0.50] * 6})
    own = hand_made.Input(hand_made.FOUND_INPUT, 1, 32, 2, ceiling=embedded.input_ceiling(1))
    runs = VariantRuns({**{("found TVN", own.name, s): _result(0.40) for s in range(10)},
                        **{("X x0.25", own.name, s): _result(0.35) for s in range(10)}})
    compared = hand_made.HandMade(runs=runs, latency=[
        {"compared at": own.name, "variant": "found TVN", "latency_ms": 0.25, "params": 12_345},
        {"compared at": own.name, "variant": "X x0.25", "latency_ms": 10.0, "params": 900_000}],
        inputs=[own], baselines=["X x0.25"], presets=[], width=0.25)
    found = (0, TrialResult(fitness=0.6, params=12_345), tvn_common.FRAMES_TVN)
    verdicts, text = tvn_search.answers_of(searches, compared, found=found, runtime="onnxruntime", num_classes=10,
                                           max_params=200_000)
    assert [v.question for v in verdicts][0] == claims.get("tvn_evolution_vs_random").question
    assert verdicts[0].estimate == pytest.approx(12.5) and len(verdicts) == 2  # search, then accuracy vs X
    assert "X x0.25 40.00x" in text  # speed at one input: described
    assert "12,345 parameters and takes 0.25 ms on onnxruntime (1 frames at 32 px)" in text
    assert "At the found TVN's input (1x32px) no network can beat 0.446 test top-1" in text
    assert "The baselines train at 0.25 of their width" in text and "Pareto" not in text  # one input only
    path = tvn_search.save_genome(tvn_common.FRAMES_TVN, tmp_path / "found_genome.json")
    assert TVNGenome.from_json(path.read_text()) == tvn_common.FRAMES_TVN
    # Three paired seeds cannot decide at any effect (smallest attainable p 1/8): described, not judged.
    few = _Searches({"evolution": [0.60, 0.61, 0.62], "random": [0.50] * 3})
    verdicts, text = tvn_search.answers_of(few, compared, found=found, runtime="onnxruntime", num_classes=10,
                                           max_params=200_000)
    assert claims.get("tvn_evolution_vs_random").question not in [v.question for v in verdicts]
    assert len(verdicts) == 1 and "described rather than judged: +11.0 points" in text
    assert "smallest attainable 0.12" in text and "search_strategies" in text
    alone = _Searches({"evolution": [0.60, 0.61, 0.62]})  # no random arm: the table's question, said so
    verdicts, text = tvn_search.answers_of(alone, compared, found=found, runtime="onnxruntime", num_classes=10,
                                           max_params=200_000)
    assert len(verdicts) == 1 and "this run searches with evolution only" in text
