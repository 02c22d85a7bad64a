"""Arms over seeds: same budget per arm, one executor for all searches, best chosen on val and reported on test."""

from __future__ import annotations

import pytest

from videonas.experiments.arms import Arm, ArmRuns, held_out_score, run_arms
from videonas.search.store import TrialResult
from videonas.search.synthetic import ToySpace, evaluate as toy_evaluate

SPACE = {"family": "toy", "options": {"length": 6, "choices": 3}}


def evaluate(genome, *, seed, **options):
    """The toy trial function plus a test score that disagrees with val: 1 - fitness."""
    result = toy_evaluate(genome, seed=seed, **options)
    return TrialResult(fitness=result.fitness, params=result.params,
                       metrics={**result.metrics, "test": {"accuracy": 1.0 - result.fitness, "num_clips": 10,
                                                            "accuracy_by_kind": {"motion": result.fitness / 2}}})


def _runs(tmp_path, seeds=(0, 1, 2, 3, 4, 5)):
    search = {"space": SPACE, "num_trials": 6, "batch_size": 2, "evaluate": "test_experiments_arms:evaluate",
              "executor": "inprocess"}
    return run_arms(arms=[Arm("evolution", "mutate-best", {"population_size": 2}), Arm("random", "random")], seeds=seeds,
                    search=search, store=tmp_path / "arms.sqlite", progress=False)


def test_each_arm_runs_once_per_seed_at_the_same_budget_and_resumes(tmp_path):
    runs = _runs(tmp_path)
    assert runs.labels == ["evolution", "random"] and runs.seeds == [0, 1, 2, 3, 4, 5]
    assert all(len(trials) == 6 for trials in runs.trials().values())
    again = _runs(tmp_path)  # resuming a finished experiment proposes nothing new
    assert [(k, [t.genome_key for t in v]) for k, v in again.trials().items()] == \
        [(k, [t.genome_key for t in v]) for k, v in runs.trials().items()]


def test_best_is_chosen_on_val_and_reported_on_test(tmp_path):
    runs = _runs(tmp_path, seeds=(0, 1))
    space = ToySpace(length=6, choices=3)
    for seed, trial in runs.best("evolution").items():
        fitnesses = [t.fitness for t in runs.experiments["evolution", seed].trials()]
        assert trial.fitness == max(fitnesses)
        assert runs.scores("evolution")[seed] == pytest.approx(1.0 - trial.fitness)
        assert runs.scores("evolution", split="val")[seed] == trial.fitness
        assert trial.fitness == space.fitness(space.genome_type.from_json(trial.genome))
    rows = runs.summary()
    assert [row["best test"] for row in rows] == [pytest.approx(1 - row["best"]) for row in rows]
    assert held_out_score(None) is None


def test_children_leave_out_the_starting_samples_the_arms_share(tmp_path):
    runs = _runs(tmp_path, seeds=(0, 1))
    for seed, child in runs.best("evolution", children=True).items():
        trials = runs.experiments["evolution", seed].trials()
        assert child.parent is not None
        assert child.fitness == max(t.fitness for t in trials if t.parent is not None)
    assert runs.scores("random", children=True) == {0: None, 1: None}  # random search mutates nothing


def test_verdict_pairs_seeds_in_points(tmp_path):
    runs = _runs(tmp_path)
    verdict = runs.verdict("tvn_evolution_vs_random", a="evolution", b="random", split="val")
    expected = [100 * (runs.scores("evolution", split="val")[s] - runs.scores("random", split="val")[s])
                for s in runs.seeds]
    assert verdict.n == 6 and verdict.unit == "points"
    assert verdict.estimate == pytest.approx(sum(expected) / len(expected))
    assert verdict.verdict in ("supported", "contradicted", "inconclusive")


def test_bad_arms_and_labels_raise_value_error(tmp_path):
    with pytest.raises(ValueError, match="label"):
        Arm("", "random")
    with pytest.raises(ValueError, match="distinct labels"):
        run_arms(arms=[Arm("a", "random"), Arm("a", "mutate-best")], seeds=[0], store=tmp_path / "s.sqlite",
                 search={"space": SPACE, "num_trials": 2, "executor": "inprocess"})
    with pytest.raises(ValueError, match="seeds"):
        run_arms(arms=[Arm("a", "random")], seeds=[], search={"space": SPACE, "num_trials": 2},
                 store=tmp_path / "s.sqlite")
    with pytest.raises(ValueError, match=r"search\.budget has unknown keys"):
        run_arms(arms=[Arm("a", "random")], seeds=[0], search={"space": SPACE, "num_trials": 2, "budget": {"x": 1}},
                 store=tmp_path / "s.sqlite")
    assert not (tmp_path / "s.sqlite").exists()
    runs = ArmRuns({})
    with pytest.raises(ValueError, match="label must be one of"):
        runs.best("evolution")
    with pytest.raises(ValueError, match="split"):
        _runs(tmp_path, seeds=(0,)).scores("random", split="train")


def test_first_round_is_fixed_by_the_seed_and_uses_the_arms_space():
    from videonas.experiments.arms import first_round

    arm = Arm("evolution", "mutate-best", {"population_size": 2})
    narrow = Arm("narrow", "random", space={"family": "toy", "options": {"length": 6, "choices": 2}})
    first = first_round(arm, space=SPACE, seed=3, batch_size=2)
    assert [g.key for g in first] == [g.key for g in first_round(arm, space=SPACE, seed=3, batch_size=2)]
    assert all(max(g.values) <= 1 for g in first_round(narrow, space=SPACE, seed=3, batch_size=4))


def test_first_rounds_list_each_arm_and_seed_with_an_optional_description():
    from videonas.experiments.arms import first_round, first_rounds

    arms = [Arm("evolution", "mutate-best", {"population_size": 2}), Arm("random", "random")]
    text = first_rounds(arms, space=SPACE, seeds=[0, 1], batch_size=2, describe=lambda g: f"sum {sum(g.values)}")
    lines = text.splitlines()
    assert [line.split(":")[0] for line in lines] == ["evolution seed 0", "evolution seed 1", "random seed 0",
                                                      "random seed 1"]
    first = first_round(arms[1], space=SPACE, seed=1, batch_size=2)
    assert lines[3] == "random seed 1: " + ", ".join(f"{g.key} (sum {sum(g.values)})" for g in first)
    assert first_rounds(arms, space=SPACE, seeds=[0, 1], batch_size=2, describe=None) != text


def test_overall_best_returns_the_genome_and_top_score_the_best_test(tmp_path):
    runs = _runs(tmp_path, seeds=(0, 1))
    seed, trial, genome = runs.overall_best("evolution")
    assert trial.fitness == max(best.fitness for best in runs.best("evolution").values())
    assert runs.best("evolution")[seed] == trial and genome.key == trial.genome_key
    assert runs.top_score("random") == pytest.approx(max(runs.scores("random").values()))


def test_scores_by_kind_and_summary_show_what_each_winner_learned(tmp_path):
    runs = _runs(tmp_path, seeds=(0, 1))
    motion = runs.scores_by_kind("random")["motion"]
    assert motion == {seed: pytest.approx(trial.fitness / 2) for seed, trial in runs.best("random").items()}
    assert [row["best test (motion)"] for row in runs.summary()] == [pytest.approx(row["best"] / 2)
                                                                     for row in runs.summary()]


def test_points_hold_every_trial_of_every_search(tmp_path):
    runs = _runs(tmp_path, seeds=(0, 1))
    points = runs.points()
    assert len(points) == sum(len(trials) for trials in runs.trials().values()) == 24
    done = [p for p in points if p["status"] == "done"]
    assert done and all(p["accuracy"] is not None for p in done)
