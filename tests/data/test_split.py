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


def test_a_streamed_split_is_stratified_within_each_chunk():
    from xmlp.data.sources import ChunkList
    from xmlp.data.split import Split

    rng = np.random.default_rng(5)
    chunks = []
    for k in range(200):  # 200 chunks of 50 rows: 45 of 'a', 4 of 'b', 1 of 'c' (rare)
        labels = np.array(["a"] * 45 + ["b"] * 4 + ["c"])
        rng.shuffle(labels)
        chunks.append((rng.normal(size=(50, 2)) + k, labels))
    source = ChunkList(chunks)
    valid, train = Split(source, 0.2, 7, True), Split(source, 0.2, 7, False)
    v = list(valid.chunks())
    t = list(train.chunks())
    for k, (vc, tc) in enumerate(zip(v, t)):
        assert len(vc.labels) + len(tc.labels) == 50  # the two sides partition each chunk
        for c, n in (("a", 45), ("b", 4)):
            # floor or ceil of 0.2 * n: the class's share of the chunk, to within one row
            assert int(np.sum(vc.labels == c)) in (int(0.2 * n), int(0.2 * n) + 1), (k, c)
        assert not set(map(tuple, vc.x.tolist())) & set(map(tuple, tc.x.tolist()))
    total = {c: sum(int(np.sum(vc.labels == c)) for vc in v) for c in "abc"}
    # 'c' has one row a chunk: a chunk sends it to validation with probability 0.2, so 40 of 200 on
    # average (binomial, sd 5.7); the bounds are 4 sd either way. 'a' is exact: 9 a chunk.
    assert total["a"] == 9 * 200 and 800 * 0.2 - 40 <= total["b"] <= 800 * 0.2 + 40 and 17 <= total["c"] <= 63
    # The same sides whatever order the chunks are read in (a shuffled epoch).
    order = rng.permutation(200).tolist()
    for k, chunk in zip(order, valid.chunks(order)):
        np.testing.assert_array_equal(chunk.x, v[k].x)


def test_one_letter_labels_split_as_any_other_labels():
    """The code-point fast path for one-character labels gives the indices the general path gives."""
    labels = np.where(np.random.default_rng(0).random(5000) > 0.37, "M", "B")
    fast = split_indices(labels, 0.2, np.random.default_rng(9))
    general = split_indices(labels.astype(object), 0.2, np.random.default_rng(9))
    for a, b in zip(fast, general):
        np.testing.assert_array_equal(a, b)
    assert len(fast[1]) == 1000 and np.intersect1d(*fast).size == 0
