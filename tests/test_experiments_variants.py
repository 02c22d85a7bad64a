"""Fixed networks over seeds: test scores paired by seed, noise floors, and real training of a genome and a baseline."""

from __future__ import annotations

import pytest

from videonas.checks import check_seeds
from videonas.experiments import retrain
from videonas.experiments.variants import Variant, VariantRuns, train_variants
from videonas.search import trial_seed
from videonas.genome.tvn import TVNBlock, TVNGenome
from videonas.search.store import TrialResult

GENOME = TVNGenome(image_size=32, num_frames=2, frame_stride=1, blocks=(
    TVNBlock(spatial_kernel=3, spatial_stride=2, filters=8), TVNBlock(spatial_kernel=3, spatial_stride=2, filters=8)))


def _result(test, fitness=0.5, flops=100):
    return TrialResult(fitness=fitness, flops=flops, params=10, metrics={"test": {"accuracy": test}})


def test_scores_pair_by_seed_and_verdicts_use_points():
    runs = VariantRuns({("many", "scene", s): _result(0.70 + 0.01 * s) for s in range(6)}
                       | {("few", "scene", s): _result(0.50 + 0.01 * s) for s in range(6)}
                       | {("few", "motion", 0): TrialResult.failed("boom")})
    assert runs.scores("many", "scene") == {s: pytest.approx(0.70 + 0.01 * s) for s in range(6)}
    assert runs.scores("few", "motion") == {0: None} and runs.figure("few", "scene", "flops") == 100
    verdict = runs.verdict("tvn_scaling_width_vs_depth", a=("many", "scene"), b=("few", "scene"))
    assert verdict.estimate == pytest.approx(20.0) and verdict.n == 6 and verdict.verdict == "supported"
    assert runs.noise_floor("many", "scene") == pytest.approx(runs.noise_floor("few", "scene"))
    rows = {(row["variant"], row["task"]): row for row in runs.table()}
    assert rows["many", "scene"]["mean test"] == pytest.approx(0.725) and rows["few", "motion"]["seeds"] == 0
    with pytest.raises(ValueError, match="no runs of variant"):
        runs.scores("many", "motion")


def test_a_finished_training_without_a_test_score_is_an_error_not_a_dropped_seed():
    """A comparison on a task that does not score test (a search's) once reported 'n/a, 10 failed seeds dropped'."""
    runs = VariantRuns({("found", "input", 0): _result(0.6), ("found", "input", 1): TrialResult(fitness=0.5)})
    with pytest.raises(ValueError, match=r"variant 'found' on task 'input' seed 1 finished without a test score"):
        runs.scores("found", "input")
    assert runs.scores("found", "input", split="val") == {0: 0.5, 1: 0.5}
    with pytest.raises(ValueError, match="seed 3 finished without a test score"):
        retrain.held_out_scores({3: TrialResult(fitness=0.5)})


def test_bad_variants_raise_value_error():
    with pytest.raises(ValueError, match="exactly one of genome and model"):
        Variant("x")
    with pytest.raises(ValueError, match="exactly one of genome and model"):
        Variant("x", genome=GENOME, model="r3d-18")
    with pytest.raises(ValueError, match="distinct labels"):
        train_variants([Variant("a", genome=GENOME), Variant("a", genome=GENOME)], tasks={"all": {}}, seeds=[0],
                       budget={"epochs": 1})
    with pytest.raises(ValueError, match="model"):
        train_variants([Variant("a", model="r3d-181")], tasks={"all": {}}, seeds=[0], budget={"epochs": 1})
    with pytest.raises(ValueError, match="budget.epochs"):
        train_variants([Variant("a", genome=GENOME)], tasks={"all": {}}, seeds=[0], budget={"epochs": 0})


def record_seed(genome, *, seed, **options):
    return TrialResult(fitness=0.5, metrics={"training_seed": seed})


def test_a_declared_seed_means_one_training_seed_in_retrain_and_in_variants():
    retrained = retrain.retrain(GENOME, seeds=[0, 5], executor="inprocess", options={},
                                function="test_experiments_variants:record_seed")
    for seed in (0, 5):
        job = Variant("v", genome=GENOME).job(seed=seed, task={}, budget={"epochs": 1})
        assert job.seed == retrained[seed].metrics["training_seed"] == retrain.training_seed(seed)
        assert job.seed == trial_seed(seed, 0)
    assert Variant("v", model="r3d-18").job(seed=0, task={}, budget={}).seed != 0  # derived, not the raw seed


@pytest.mark.parametrize("seeds", [[], [1, 1], (2, 0, 2), [-1], [0.5], [True], "01", None])
def test_seeds_are_checked_by_one_function_everywhere(seeds):
    with pytest.raises(ValueError, match="seeds must be") as checked:
        check_seeds("seeds", seeds)
    with pytest.raises(ValueError, match="seeds must be") as in_retrain:
        retrain.retrain(GENOME, seeds=seeds, executor="inprocess", options={})
    with pytest.raises(ValueError, match="seeds must be") as in_variants:
        train_variants([Variant("a", genome=GENOME)], tasks={"all": {}}, seeds=seeds, budget={"epochs": 1})
    assert str(checked.value) == str(in_retrain.value) == str(in_variants.value)


@pytest.mark.slow
def test_a_genome_and_a_named_baseline_train_over_seeds_with_one_recipe():
    task = {"dataset": "embedded:smoke", "batch_size": 8, "max_train_clips": 16, "max_val_clips": 13,
            "num_frames": 2, "image_size": 32, "run_eagerly": True}
    runs = train_variants([Variant("tvn", genome=GENOME),
                           Variant("r3d", model="r3d-18", model_options={"width_multiplier": 0.0625})],
                          tasks={"all": task}, seeds=[0, 1], budget={"epochs": 1}, executor="inprocess",
                          progress=False)
    for label in ("tvn", "r3d"):
        scores = runs.scores(label, "all")
        assert set(scores) == {0, 1} and all(0.0 <= value <= 1.0 for value in scores.values())
        assert all(runs.results[label, "all", s].metrics["test"]["num_clips"] == 13 for s in (0, 1))
    assert runs.figure("r3d", "all", "params") > runs.figure("tvn", "all", "params")
