"""Multi-fidelity training: a promoted candidate continues from its checkpoint as if it had never stopped; a child
inherits exactly its parent's layers of matching name and shape; a missing checkpoint is a failed trial.

Real TVNs on the embedded smoke data (16 training clips, batch 8: 2 steps an epoch) with augmentation and a dropout
head, so the data order, the augmentation draws and dropout's seed counters must all carry over. One CPU thread and
eager execution make each run about a second and the arithmetic repeatable: continuing is bit-exact here, and the
checks use ``numpy.allclose`` with a tight tolerance only because another thread count may reorder CPU reductions.
"""

from __future__ import annotations

import dataclasses

import numpy
import pytest

from videonas import checkpoint, models
from videonas.genome.tvn import TVNBlock, TVNGenome
from videonas.task import Budget, Fidelity, TrainTask, TrialOptions
from videonas.train import evaluate_trial

PARENT = TVNGenome(image_size=32, num_frames=2, frame_stride=1, blocks=(
    TVNBlock(filters=8, spatial_stride=2), TVNBlock(filters=8, spatial_stride=2, squeeze=0.5)))
# The second block changes: a wider spatial kernel (same layer name, another shape) and a new context gate.
CHILD = dataclasses.replace(PARENT, blocks=(
    PARENT.blocks[0], dataclasses.replace(PARENT.blocks[1], spatial_kernel=5, context_gate=True)))
TASK = TrainTask(dataset="embedded:smoke", batch_size=8, max_train_clips=16, max_val_clips=6, threads=1,
                 run_eagerly=True, augment=True, score_test=False)
TOLERANCE = {"rtol": 1e-6, "atol": 1e-7}


def _evaluate(genome, fidelity, *, seed=3, epochs=1):
    return evaluate_trial(genome, seed=seed, options=TrialOptions(task=TASK, budget=Budget(epochs=epochs),
                                                                  fidelity=fidelity))


def _assert_same_arrays(first, second):
    assert [array.shape for array in first] == [array.shape for array in second]
    assert all(numpy.allclose(a, b, **TOLERANCE) for a, b in zip(first, second))


@pytest.mark.slow
def test_continuing_from_a_checkpoint_equals_training_without_a_stop(tmp_path):
    plain = _evaluate(PARENT, None, epochs=3)
    whole = _evaluate(PARENT, Fidelity(3, save_to=str(tmp_path / "whole.npz")))
    first = _evaluate(PARENT, Fidelity(1, save_to=str(tmp_path / "rung0.npz")))
    rest = _evaluate(PARENT, Fidelity(3, start_epochs=1, resume_from=str(tmp_path / "rung0.npz"),
                                      save_to=str(tmp_path / "rung1.npz")))
    assert [result.status for result in (plain, whole, first, rest)] == ["done"] * 4
    assert (first.metrics["steps"], rest.metrics["steps"], whole.metrics["steps"]) == (2, 4, 6)
    assert (first.metrics["epochs_trained"], rest.metrics["epochs_trained"]) == (1, 3)
    assert rest.metrics["checkpoint"] == str(tmp_path / "rung1.npz") and "epochs_trained" not in plain.metrics
    # Without a fidelity, the budget's epochs train exactly as one uninterrupted evaluation does.
    assert numpy.allclose(plain.metrics["loss_curve"], whole.metrics["loss_curve"], **TOLERANCE)
    assert numpy.allclose(first.metrics["loss_curve"] + rest.metrics["loss_curve"], whole.metrics["loss_curve"],
                          **TOLERANCE)
    assert rest.fitness == pytest.approx(whole.fitness)

    stopped, continued, uninterrupted = (checkpoint.read(tmp_path / name)
                                         for name in ("rung0.npz", "rung1.npz", "whole.npz"))
    assert (stopped.epochs, stopped.iterations) == (1, 2)
    assert (continued.epochs, continued.iterations) == (uninterrupted.epochs, uninterrupted.iterations) == (3, 6)
    assert sorted(continued.weights) == sorted(uninterrupted.weights)
    for name in uninterrupted.weights:
        _assert_same_arrays(continued.weights[name], uninterrupted.weights[name])
    assert continued.state.keys() == uninterrupted.state.keys() == {"dropout"}  # its seed counter carried over
    _assert_same_arrays(continued.state["dropout"], uninterrupted.state["dropout"])
    _assert_same_arrays(continued.optimizer, uninterrupted.optimizer)  # Adam's iterations, moments and velocities
    assert not numpy.allclose(stopped.weights["logits"][0], uninterrupted.weights["logits"][0])

    wrong_start = _evaluate(PARENT, Fidelity(3, start_epochs=2, resume_from=str(tmp_path / "rung0.npz")))
    assert wrong_start.status == "failed"
    assert wrong_start.error == (f"fidelity.resume_from: {str(tmp_path / 'rung0.npz')!r} holds 1 epochs, "
                                 f"fidelity.start_epochs is 2")


@pytest.mark.slow
def test_a_child_inherits_exactly_the_layers_whose_names_and_shapes_match(tmp_path):
    import keras

    parent_path = tmp_path / "parent.npz"
    assert _evaluate(PARENT, Fidelity(1, save_to=str(parent_path))).status == "done"
    parent = checkpoint.read(parent_path)

    keras.utils.set_random_seed(5)
    child = models.build_model(CHILD, num_classes=13)
    fresh = {layer.name: [numpy.array(weight) for weight in layer.weights] for layer in child.layers}
    copied = checkpoint.inherit(child, parent)
    assert copied == [
        "block0_0_reduce_conv", "block0_0_reduce_bn", "block0_0_spatial_conv", "block0_0_spatial_bn",
        "block0_0_expand_conv", "block0_0_expand_bn", "block1_0_reduce_conv", "block1_0_reduce_bn",
        "block1_0_spatial_bn", "block1_0_expand_conv", "block1_0_expand_bn", "block1_0_squeeze", "logits"]
    weighted = [layer.name for layer in child.layers if layer.weights]
    assert sorted(set(weighted) - set(copied)) == ["block1_0_context_gate", "block1_0_spatial_conv"]
    for layer in child.layers:
        expected = parent.weights[layer.name] if layer.name in copied else fresh[layer.name]
        assert all(numpy.array_equal(numpy.asarray(weight), array) for weight, array in zip(layer.weights, expected))
    assert not numpy.array_equal(fresh["logits"][0], parent.weights["logits"][0])  # the copy changed something

    result = _evaluate(CHILD, Fidelity(1, inherit_from=str(parent_path)), seed=5)
    assert result.status == "done" and result.metrics["inherited_layers"] == len(copied)
    assert result.metrics["epochs_trained"] == 1 and "checkpoint" not in result.metrics
    # Resuming is for the same architecture: the parent's checkpoint does not continue the child.
    mismatch = _evaluate(CHILD, Fidelity(2, start_epochs=1, resume_from=str(parent_path)))
    assert mismatch.status == "failed"
    assert mismatch.error.startswith(f"fidelity.resume_from: {str(parent_path)!r}: layer 'block1_0_spatial_conv' "
                                     f"weights shapes")


def test_a_missing_checkpoint_fails_the_trial_naming_the_path(tmp_path):
    absent = str(tmp_path / "absent.npz")
    resumed = _evaluate(PARENT, Fidelity(3, start_epochs=1, resume_from=absent))
    inherited = _evaluate(CHILD, Fidelity(1, inherit_from=absent))
    assert (resumed.status, resumed.error) == ("failed", f"fidelity.resume_from: no checkpoint at {absent!r}")
    assert (inherited.status, inherited.error) == ("failed", f"fidelity.inherit_from: no checkpoint at {absent!r}")
    (tmp_path / "junk.npz").write_text("not a checkpoint")
    junk = _evaluate(PARENT, Fidelity(3, start_epochs=1, resume_from=str(tmp_path / "junk.npz")))
    assert junk.status == "failed" and junk.error.startswith(f"fidelity.resume_from: {str(tmp_path / 'junk.npz')!r}")


@pytest.mark.slow
def test_scores_recorded_during_training_equal_those_of_shorter_runs():
    """``budget.score_epochs`` scores validation after epoch 1 of a 3-epoch training, without changing the
    training: the loss curve equals one without it, and the epoch-1 fitness equals a 1-epoch run's."""
    recorded = evaluate_trial(PARENT, seed=3, options=TrialOptions(
        task=TASK, budget=Budget(epochs=3, score_epochs=(1,))))
    plain = _evaluate(PARENT, None, epochs=3)
    short = _evaluate(PARENT, None, epochs=1)
    assert recorded.metrics["val_by_epoch"] == {"1": pytest.approx(short.fitness), "3": recorded.fitness}
    assert numpy.allclose(recorded.metrics["loss_curve"], plain.metrics["loss_curve"], **TOLERANCE)
    assert recorded.fitness == pytest.approx(plain.fitness) and "val_by_epoch" not in plain.metrics


@pytest.mark.parametrize("score_epochs, message", [((3,), r"budget.score_epochs\[0\] must be in \[1, 2\], got 3"),
                                                   ("1", "budget.score_epochs must be a list")])
def test_score_epochs_must_lie_below_the_budget(score_epochs, message):
    with pytest.raises(ValueError, match=message):
        Budget(epochs=3, score_epochs=score_epochs)
