import numpy as np
import pytest

from videonas.metrics import accuracy_by_group, mean_average_precision, top_k_accuracy


def test_top_k_accuracy_hand_computed():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    labels = np.array([1, 1, 0])
    assert top_k_accuracy(labels, scores, k=1) == pytest.approx(1 / 3)
    assert top_k_accuracy(labels, scores, k=2) == pytest.approx(2 / 3)
    assert top_k_accuracy(labels, scores, k=3) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        top_k_accuracy(labels, scores, k=4)


def test_mean_average_precision_hand_computed():
    # class 0: ranking hits [1, 0, 1] -> AP = (1/1 + 2/3) / 2; class 1: hit ranked 2nd -> AP = 1/2; class 2 no positives.
    targets = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    scores = np.array([[0.9, 0.1, 0.0], [0.5, 0.3, 0.1], [0.2, 0.8, 0.2]])
    expected = ((1 + 2 / 3) / 2 + 1 / 2) / 2
    assert mean_average_precision(targets, scores) == pytest.approx(expected)
    assert np.isnan(mean_average_precision(np.zeros((2, 2)), np.ones((2, 2))))


def test_accuracy_by_group_hand_computed():
    # Rows 0, 2 are "scene" (1 of 2 correct), rows 1, 3 "motion" (both correct); argmax runs over all classes.
    scores = np.array([[0.9, 0.1, 0.0], [0.1, 0.2, 0.7], [0.2, 0.5, 0.3], [0.0, 0.6, 0.4]])
    labels = np.array([0, 2, 0, 1])
    groups = ["scene", "motion", "scene", "motion"]
    assert accuracy_by_group(labels, scores, groups) == {"motion": 1.0, "scene": 0.5}
    with pytest.raises(ValueError, match="groups must have one entry per label"):
        accuracy_by_group(labels, scores, groups[:3])
