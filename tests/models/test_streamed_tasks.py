"""Every task from a source, and weighted sources: a regression's float targets, a multi-label
model's 0/1 columns and the rows' sample weights read chunk by chunk (ChunkList, NpySource,
CsvSource, a spilled copy), the same model as in memory where the data fit in one chunk (bit for
bit: the feed's permutation is then the in-memory one), and bad targets or weights refused by the
first pass, before training."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp import Dense, Sequential
from xmlp.data.csv.source import CsvSource
from xmlp.data.npy import NpySource
from xmlp.data.sources import ChunkList
from xmlp.data.spill import Spilled
from xmlp.errors import DataError


def _same(a, b):
    return all(np.array_equal(p[k], q[k]) for p, q in zip(a.get_weights(), b.get_weights()) for k in p)


def _same_fit(a, b, ha, hb):
    """The same weights and losses, bit for bit; a regression's training metrics to 1e-12: their
    per-row sums run over the device array's gathered targets in memory and over a strided view of
    the feed's piece, which NumPy adds in another order (pairwise only along contiguous memory)."""
    assert _same(a, b) and ha.history["loss"] == hb.history["loss"]
    for key in ha.history:
        np.testing.assert_allclose(hb.history[key], ha.history[key], rtol=1e-12, atol=0, err_msg=key)


def _regressor(outputs=1):
    return Sequential([Dense(8, "tanh"), Dense(outputs, "linear")], task="regression", dtype="float64")


def _tagger():
    return Sequential([Dense(8, "tanh"), Dense(3, "sigmoid")], task="multilabel", dtype="float64")


@pytest.fixture(scope="module")
def data(wdbc):
    x = wdbc[0]
    targets = np.stack([x[:, 0] * 3.0 + x[:, 1], x[:, 2] - 50.0], axis=1)
    tags = np.stack([x[:, 0] > 14, x[:, 1] > 19, x[:, 2] > 90], axis=1).astype(np.float64)
    w = np.random.default_rng(0).uniform(0.0, 3.0, len(x))
    return x, targets, tags, w


FIT = dict(epochs=3, seed=0, input_noise=0.1, optimizer="adam")


@pytest.mark.parametrize("outputs", [1, 2])
def test_a_one_chunk_regression_source_is_the_in_memory_fit_bit_for_bit(data, outputs):
    x, targets, _, _ = data
    y = targets[:, 0] if outputs == 1 else targets
    memory, streamed = _regressor(outputs), _regressor(outputs)
    h1 = memory.fit(x[:450], y[:450], validation_data=(x[450:], y[450:]), metrics=["rmse", "r2"], **FIT)
    h2 = streamed.fit(ChunkList([(x[:450], y[:450])]), None, validation_data=(x[450:], y[450:]),
                      metrics=["rmse", "r2"], **FIT)
    _same_fit(memory, streamed, h1, h2)
    assert np.array_equal(memory.encoder.mean, streamed.encoder.mean)
    assert np.array_equal(memory.predict(x[:5]), streamed.predict(x[:5]))  # 1-D for one output given 1-D
    assert streamed.predict(x[:5]).shape == ((5,) if outputs == 1 else (5, 2))


def test_a_regression_over_many_chunks_scales_its_targets_from_merged_moments(data):
    x, targets, _, _ = data
    chunks = [(x[i:i + 100], targets[i:i + 100]) for i in range(0, 500, 100)]
    model = _regressor(2)
    model.fit(ChunkList(chunks), None, epochs=40, seed=0, optimizer="adam", metrics=["r2"])
    # Chan's merge of 5 chunks' moments against NumPy's one pass: rounding, ~1e-15 relative
    np.testing.assert_allclose(model.encoder.mean, targets[:500].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(model.encoder.scale, targets[:500].std(axis=0), rtol=1e-12)
    assert model.evaluate(x[500:], targets[500:])["r2"] > 0.8  # linear targets of the inputs: it learns them


def test_a_one_chunk_multilabel_source_is_the_in_memory_fit_bit_for_bit(data):
    x, _, tags, _ = data
    memory, streamed = _tagger(), _tagger()
    h1 = memory.fit(x[:450], tags[:450], validation_data=(x[450:], tags[450:]), **FIT)
    h2 = streamed.fit(ChunkList([(x[:450], tags[:450])]), None, validation_data=(x[450:], tags[450:]), **FIT)
    assert _same(memory, streamed) and h1.history == h2.history and streamed.classes == [0, 1, 2]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_weighted_chunks_are_the_in_memory_weighted_fit_bit_for_bit(data, wdbc, task):
    x, targets, _, w = data
    y = wdbc[1] if task == "classification" else targets[:, 0]
    make = (lambda: Sequential([Dense(8, "tanh"), Dense(2, "softmax")], dtype="float64")) if task == "classification" \
        else _regressor
    kw = {"class_weight": "balanced"} if task == "classification" else {}
    memory, streamed = make(), make()
    h1 = memory.fit(x, y, sample_weight=w, **kw, **FIT)
    h2 = streamed.fit(ChunkList([(x, y, w)]), None, **kw, **FIT)
    _same_fit(memory, streamed, h1, h2)
    plain = make()
    plain.fit(ChunkList([(x, y)]), None, **FIT)
    assert not _same(plain, streamed)  # the weights reached the loss


def test_npy_and_csv_sources_carry_targets_and_weights(tmp_path, data):
    x, targets, _, w = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", targets)
    np.save(tmp_path / "w.npy", w)
    npy = NpySource(tmp_path / "x.npy", tmp_path / "y.npy", sample_weight=tmp_path / "w.npy", chunk_rows=200)
    chunk = npy.read(1)
    assert chunk.labels.shape == (200, 2) and np.array_equal(chunk.weights, w[200:400])
    header = "id,a,b,c,u,v,weight"
    rows = [f"r{i}," + ",".join(repr(float(v)) for v in (*x[i, :3], *targets[i], w[i])) for i in range(len(x))]
    (tmp_path / "t.csv").write_text("\n".join([header, *rows]) + "\n")
    two = CsvSource(tmp_path / "t.csv", label_name=["u", "v"], weight_name="weight", chunk_rows=200)
    assert (two.n_features, two.feature_names) == (3, ["a", "b", "c"])
    chunk = two.read(2)
    np.testing.assert_array_equal(chunk.labels, targets[400:])  # repr() round-trips float64 exactly
    np.testing.assert_array_equal(chunk.weights, w[400:])
    np.testing.assert_array_equal(chunk.x, x[400:, :3])
    one = CsvSource(tmp_path / "t.csv", label_name="v", targets=True, chunk_rows=200)
    assert one.n_features == 5 and one.read(0).labels.shape == (200,) and one.read(0).labels.dtype == np.float64
    spilled = Spilled(CsvSource(tmp_path / "t.csv", label_name=["u", "v"], weight_name="weight", chunk_rows=200))
    first = [c for c in spilled.chunks()]
    again = spilled.read(1)  # from the binary copy
    np.testing.assert_array_equal(again.labels, first[1].labels)
    np.testing.assert_array_equal(again.weights, first[1].weights)
    model = _regressor(2)
    model.fit(spilled, None, epochs=2, seed=0, optimizer="adam")
    assert model.feature_names == ["a", "b", "c"] and model.predict(x[:4, :3]).shape == (4, 2)


def test_bad_targets_and_weights_are_refused_by_the_first_pass(data):
    x, targets, tags, w = data
    bad = targets.copy()
    bad[300, 1] = np.nan
    with pytest.raises(DataError, match=r"chunks: expected finite regression targets; received .* \(row 0\) "
                                        r"\(chunk from row 300\)"):
        _regressor(2).fit(ChunkList([(x[:300], targets[:300]), (x[300:], bad[300:])]), None, epochs=1)
    with pytest.raises(DataError, match="expected multi-label targets: a 0/1 indicator matrix"):
        _tagger().fit(ChunkList([(x, tags * 2)]), None, epochs=1)
    negative = w.copy()
    negative[7] = -1.0
    with pytest.raises(DataError, match=r"chunks: row 7: expected a finite sample weight >= 0; received -1.0"):
        _regressor().fit(ChunkList([(x, targets[:, 0], negative)]), None, epochs=1)
    with pytest.raises(DataError, match="expected sample weights in every chunk or in none; received some without"):
        _regressor().fit(ChunkList([(x[:300], targets[:300, 0], w[:300]), (x[300:], targets[300:, 0])]), None)
    with pytest.raises(DataError, match="expected sample weights that are not all 0; received only zeros"):
        _regressor().fit(ChunkList([(x, targets[:, 0], w * 0)]), None)
    with pytest.raises(ValueError, match=r"expected sample_weight=None with a data source .* received an array"):
        _regressor().fit(ChunkList([(x, targets[:, 0])]), None, sample_weight=w)
    with pytest.raises(ValueError, match="expected class_weight with a classification; received a regression model"):
        _regressor().fit(ChunkList([(x, targets[:, 0])]), None, class_weight="balanced")


def test_a_column_of_targets_or_labels_keeps_its_shape(data):
    """(n, 1) targets are one output predicted as (n, 1), as with arrays; (n, 1) 0/1 columns are one
    label of a multi-label model."""
    x, targets, tags, _ = data
    column = targets[:, :1]
    memory, streamed = _regressor(), _regressor()
    memory.fit(x, column, **FIT)
    streamed.fit(ChunkList([(x[:300], column[:300]), (x[300:], column[300:])]), None, **FIT)
    assert streamed.predict(x[:3]).shape == memory.predict(x[:3]).shape == (3, 1)
    one = Sequential([Dense(8, "tanh"), Dense(1, "sigmoid")], task="multilabel", dtype="float64")
    one.fit(ChunkList([(x, tags[:, :1])]), None, epochs=2, seed=0)
    assert one.classes == [0] and one.predict(x[:3]).shape == (3, 1)


def test_streamed_balanced_class_weights_follow_the_given_classes(wdbc):
    """classes= naming a class without rows: "balanced" counts 0 rows for it (as the arrays' fit does)."""
    x, y, _ = wdbc
    codes = np.where(y == "M", 2, 0)
    kw = dict(epochs=2, seed=0, classes=[0, 1, 2], class_weight="balanced")
    memory = Sequential([Dense(8, "tanh"), Dense(3, "softmax")], dtype="float64")
    streamed = Sequential([Dense(8, "tanh"), Dense(3, "softmax")], dtype="float64")
    from xmlp.models.fit import fit

    h1 = fit(memory, x, codes, **kw)
    h2 = fit(streamed, ChunkList([(x, codes)]), None, **kw)
    assert _same(memory, streamed) and h1.history == h2.history
