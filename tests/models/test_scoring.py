"""Host-side scoring of predicted probabilities (what xmlp predict prints)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xmlp.models.scoring import evaluate_probabilities, host_confusion


def test_scores_by_hand():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    true = np.array([0, 1, 1, 0])
    got = evaluate_probabilities(proba, true, ["B", "M"])
    assert got["confusion"] == [[1, 1], [1, 1]]
    assert got["accuracy"] == 0.5 and got["precision"] == 0.5 and got["recall"] == 0.5
    # Mean cross-entropy of the true classes: -(log .9 + log .8 + log .4 + log .3) / 4; for two
    # classes it is the subject's BCE with p = P(M).
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.3)) / 4
    assert got["loss"] == pytest.approx(expected, rel=1e-12) and got["bce"] == pytest.approx(expected, rel=1e-12)
    assert "bce" not in evaluate_probabilities(np.eye(3), np.arange(3), ["a", "b", "c"])


def test_host_confusion_rows_true_columns_predicted():
    assert host_confusion(np.array([0, 0, 2]), np.array([0, 1, 2]), 3).tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
