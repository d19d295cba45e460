"""Splitting rows: sizes, stratification, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data.split import split_indices, valid_count


def test_stratified_sizes_and_class_shares():
    labels = np.array(["M"] * 212 + ["B"] * 357)
    train, valid = split_indices(labels, 0.2, np.random.default_rng(1))
    assert len(valid) == 114 and len(train) == 455
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(569))  # a partition
    assert (np.diff(train) > 0).all() and (np.diff(valid) > 0).all()  # ascending
    # 20 % of each class, largest remainders: 42.4 -> 42 M and 71.4 -> 72 B (114 in all).
    assert (labels[valid] == "M").sum() == 42 and (labels[valid] == "B").sum() == 72


def test_every_class_keeps_a_training_row():
    labels = np.array(["a"] * 10 + ["b"])
    train, valid = split_indices(labels, 5, np.random.default_rng(0))
    assert "b" in labels[train].tolist() and len(valid) == 5


def test_seeds():
    labels = np.repeat(["x", "y"], 50)
    one = split_indices(labels, 0.3, np.random.default_rng(7))
    again = split_indices(labels, 0.3, np.random.default_rng(7))
    other = split_indices(labels, 0.3, np.random.default_rng(8))
    assert np.array_equal(one[1], again[1]) and not np.array_equal(one[1], other[1])


def test_unstratified_and_counts():
    train, valid = split_indices(np.zeros(569), 0.5, np.random.default_rng(0), stratify=False)
    assert len(valid) == 284 and len(train) == 285  # round(0.5 * 569)
    assert valid_count(100, 569) == 100 and valid_count(0.001, 569) == 1
    with pytest.raises(ValueError, match=r"expected a validation row count in \[1, 568\]; received 569"):
        valid_count(569, 569)
    with pytest.raises(ValueError, match=r"expected a validation fraction in \(0, 1\); received 1.0"):
        valid_count(1.0, 569)
