from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from videonas.ensemble import (
    Member,
    distance_matrix,
    ensemble_cost,
    ensemble_scores,
    evaluate_ensemble,
    ranked_trials,
    select_diverse_trials,
)
from videonas.genome.evanet import EvaNetSpace, distance
from videonas.genome.published import load

# Two models whose argmaxes differ: each is right on two of four clips, their average on three.
LOGITS_A = [[2.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]  # argmax 0 0 2 1
LOGITS_B = [[0.0, 1.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]  # argmax 1 1 2 1
LABELS = [0, 1, 2, 0]


def test_ensemble_scores_average_the_logits() -> None:
    scores = ensemble_scores([LOGITS_A, LOGITS_B])
    numpy.testing.assert_allclose(scores, [[1.0, 0.5, 0.0], [0.25, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    numpy.testing.assert_array_equal(ensemble_scores([LOGITS_A]), LOGITS_A)


def test_ensemble_accuracy_beats_both_members() -> None:
    result = evaluate_ensemble([LOGITS_A, LOGITS_B], LABELS)
    assert result["metric"] == "accuracy" and result["members"] == 2
    assert result["single"] == [0.5, 0.5]
    assert result["ensemble"] == pytest.approx(0.75)
    assert result["gain"] == pytest.approx(0.25)


def test_ensemble_map_on_multi_label_clips() -> None:
    # Class 0 (clips 0 and 2 positive): each member ranks one negative above a positive, AP = (1 + 2/3) / 2;
    # their average ranks both positives first (AP 1). Class 1 is ranked perfectly by both.
    labels = [[1, 0], [0, 1], [1, 0], [0, 1]]
    a = numpy.array([[0.9, 0.0], [0.8, 0.9], [0.7, 0.1], [0.0, 0.8]])
    b = numpy.array([[0.1, 0.0], [0.0, 0.9], [0.9, 0.1], [0.2, 0.8]])
    result = evaluate_ensemble([a, b], labels, multi_label=True)
    member_map = ((1 + 2 / 3) / 2 + 1) / 2
    assert result["metric"] == "mAP"
    assert result["single"] == pytest.approx([member_map, member_map])
    assert result["ensemble"] == pytest.approx(1.0)
    assert result["gain"] == pytest.approx(1.0 - member_map)


def test_bad_logits_are_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        ensemble_scores([])
    with pytest.raises(ValueError, match=r"logits\[1\] has shape"):
        ensemble_scores([LOGITS_A, [[0.0, 1.0]]])
    with pytest.raises(ValueError, match="non-finite"):
        ensemble_scores([LOGITS_A, [[float("nan"), 0, 0]] * 4])
    with pytest.raises(ValueError, match="labels has 3 clips"):
        evaluate_ensemble([LOGITS_A], LABELS[:3])


def test_ensemble_cost_adds_up_members() -> None:
    members = [Member("a", numpy.zeros((1, 2)), params=10, flops=1000, latency_ms=2.5),
               {"params": 5, "flops": 300, "latency_ms": 1.0}]
    assert ensemble_cost(members) == {"members": 2, "params": 15, "flops": 1300, "latency_ms": 3.5}
    members.append(Member("c", numpy.zeros((1, 2)), params=1, flops=1))
    assert ensemble_cost(members)["latency_ms"] is None
    assert ensemble_cost(members)["flops"] == 1301


@dataclasses.dataclass
class FakeTrial:
    index: int
    fitness: float
    genome_key: str


class FakeExperiment:
    """The two methods of ``videonas.search.Experiment`` the selection reads."""

    name = "fake"

    def __init__(self, genomes, fitnesses) -> None:
        self.genomes = {i: g for i, g in enumerate(genomes)}
        self.list = [FakeTrial(i, f, g.key) for i, (g, f) in enumerate(zip(genomes, fitnesses))]

    def trials(self, status=None):
        return list(self.list)

    def genome(self, trial):
        return self.genomes[trial.index]


def test_diverse_selection_skips_duplicates_and_near_copies() -> None:
    space = EvaNetSpace()
    rng = numpy.random.default_rng(0)
    best = load("EvaNet-A")
    near = space.mutate(best, rng, num_changes=1)
    far = load("EvaNet-B")
    assert distance(best, near) == 1 and distance(best, far) >= 3
    # Ranked: best (0.9), a duplicate of best (0.85), the near copy (0.8), the far genome (0.7).
    experiment = FakeExperiment([far, best, near, best], [0.7, 0.9, 0.8, 0.85])
    assert [t.index for t in ranked_trials(experiment)] == [1, 2, 0]
    assert [t.index for t in select_diverse_trials(experiment, 2, min_distance=3)] == [1, 0]
    # When nothing else is far enough the rest is filled by rank (never with a duplicate).
    assert [t.index for t in select_diverse_trials(experiment, 3, min_distance=3)] == [1, 0, 2]


def test_distance_matrix_is_symmetric() -> None:
    genomes = [load("EvaNet-A"), load("EvaNet-B"), load("EvaNet-A")]
    matrix = distance_matrix(genomes)
    assert matrix.shape == (3, 3)
    numpy.testing.assert_array_equal(matrix, matrix.T)
    numpy.testing.assert_array_equal(numpy.diag(matrix), 0)
    assert matrix[0, 1] == distance(genomes[0], genomes[1]) > 0
    assert matrix[0, 2] == 0


TASK = {"dataset": "embedded:smoke", "num_frames": 4, "image_size": 32, "batch_size": 8, "max_train_clips": 16,
        "max_val_clips": 16, "width_multiplier": 0.0625}


@pytest.mark.slow
def test_members_from_saved_weights_reproduce_the_trial_fitness(tmp_path: Path) -> None:
    from videonas import search
    from videonas.ensemble import select_diverse_trials, trial_members

    # The smallest nets the space allows (one 1x1 or short conv branch per module): cheap to trace and train.
    space = EvaNetSpace(branch_kinds=("single", "conv"), conv_types=("3d",), temporal_sizes=(1, 3), max_branches=1,
                        max_repeats=1)
    experiment = search.run_search(
        "tiny", space=space, store=tmp_path / "store.sqlite", num_trials=1, strategy="random", batch_size=1, seed=0,
        task=TASK, budget={"epochs": 1}, save_weights=str(tmp_path / "weights"),
        executor="inprocess", progress=False)
    (trial,) = experiment.trials("done")
    members, labels = trial_members(experiment, select_diverse_trials(experiment, 1, min_distance=1))
    assert labels.shape == (16,) and members[0].name == f"trial {trial.index}"
    assert members[0].source == "weights" and members[0].logits.shape == (16, 13)
    assert members[0].fitness == pytest.approx(trial.fitness)
    assert (members[0].params, members[0].flops) == (trial.params, trial.flops)
    # Without the saved weights the member is retrained with the trial's task, budget and seed.
    Path(trial.metrics["weights_path"]).unlink()
    retrained, _ = trial_members(experiment, [trial], retrain_dir=tmp_path / "again")
    assert retrained[0].source == "retrained" and retrained[0].logits.shape == (16, 13)
    assert list((tmp_path / "again").glob("*.weights.h5"))


@pytest.mark.slow
@pytest.mark.other_backend
def test_train_member_on_torch() -> None:
    code = """
import numpy
from videonas.models import build_model
from videonas.genome.evanet import EvaNetSpace
from videonas.ensemble import evaluate_ensemble, train_member
from videonas.task import Budget, TrainTask
task = TrainTask(**%r)
genome = EvaNetSpace(branch_kinds=("single",), max_branches=1, max_repeats=1).sample(numpy.random.default_rng(0))
make = lambda n: build_model(genome, num_classes=n, num_frames=4, image_size=32, width_multiplier=0.0625,
                             modality="flow")
member, labels = train_member("flow", make, task=task, budget=Budget(epochs=1), seed=0)
result = evaluate_ensemble([member.logits, member.logits], labels)
print("shape", member.logits.shape, "flops", member.flops > 0, "same", result["ensemble"] == member.fitness)
""" % (TASK,)
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shape (16, 13) flops True same True" in out.stdout
