"""Training rows reused in place as the model's input: the same rows, the same model input, the
same model bit for bit, and no second copy of the data."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_subject_csv

from xmlp.cli import run_data
from xmlp.cli.settings import TrainSettings
from xmlp.data.csv import exact as csv_exact
from xmlp.data.csv import fast as csv_fast
from xmlp.data.preprocessing import LabelEncoder, Standardizer, model_input
from xmlp.data.rowbuffer import RowBuffer, split_rows, take_rows
from xmlp.data.split import split_indices
from xmlp.models import inputs
from xmlp.models.sequential import Sequential
from xmlp.nn.layers import Dense


@pytest.mark.parametrize("pattern", ["random", "front", "back", "every other", "all but last"])
@pytest.mark.parametrize("spare", [0, 2, 3])
def test_take_rows_is_x_rows_in_the_same_memory(pattern, spare):
    n, d = 5000, 7
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, d)).astype(np.float32)
    rows = {"random": np.sort(rng.choice(n, 3900, replace=False)), "front": np.arange(4000),
            "back": np.arange(1000, n), "every other": np.arange(0, n, 2), "all but last": np.arange(n - 1)}[pattern]
    expected = x[rows].copy()
    got = take_rows(x, rows, spare, block=256)  # small blocks: many of them, with rows set aside
    if len(rows) * (d + spare) > x.size:
        assert got is None and np.array_equal(x[rows], expected)  # refused: x untouched
        return
    assert isinstance(got, RowBuffer) and got.shape == (len(rows), d) and got.spare() == spare
    assert np.array_equal(np.asarray(got), expected)
    assert got.full is not None and got.full.flags.c_contiguous and np.shares_memory(got.full, x)


def test_split_rows_without_spare_copies_and_keeps_x():
    x = np.arange(20.0).reshape(10, 2)
    train, valid = split_rows(x, np.array([0, 2, 5]), np.array([1, 9]), None)
    assert train.tolist() == [[0, 1], [4, 5], [10, 11]] and valid.tolist() == [[2, 3], [18, 19]]
    assert not isinstance(train, RowBuffer) and x[9].tolist() == [18, 19]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_model_input_is_built_over_the_rows_themselves(dtype):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3000, 5)) * 40 + 7).astype(dtype)
    y = rng.choice(["B", "M"], 3000)
    rows = np.sort(rng.choice(3000, 2000, replace=False))  # 2000 x (5 + 2) fits in 3000 x 5
    std = Standardizer().fit(x[rows])
    targets = LabelEncoder().fit(y).one_hot(y[rows])
    expected = model_input(x[rows], None, std, dtype, targets)
    buf = take_rows(x, rows, 2)
    assert buf is not None
    from xmlp import backends

    got = inputs.to_device(backends.get_backend("numpy"), buf, None, std, dtype, targets)
    assert np.array_equal(got, expected) and np.shares_memory(got, x)  # same bits, no copy
    assert buf.used
    with pytest.raises(RuntimeError, match="already overwritten"):
        inputs.features(backends.get_backend("numpy"), buf, None)


def _fit(backend, x, y, dtype, valid):
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend, dtype=dtype, preprocess="standardize")
    model.fit(x, y, validation_data=valid, epochs=3, batch_size=16, seed=5, metrics=())
    return model.get_weights()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_fit_on_a_row_buffer_is_bitwise_a_fit_on_the_rows(backend, dtype, wdbc):
    if not backend.supports(dtype):
        pytest.skip(f"{backend} has no {dtype}")
    x, y, _ = wdbc
    x = np.asarray(x, dtype=dtype)
    tr, va = split_indices(y, 0.2, np.random.default_rng(0))
    plain = _fit(backend, x[tr], y[tr], dtype, (x[va], y[va]))
    owned = x.copy()
    train, valid = split_rows(owned, tr, va, 2)
    assert isinstance(train, RowBuffer)
    in_place = _fit(backend, train, y[tr], dtype, (valid, y[va]))
    for a, b in zip(plain, in_place):
        assert np.array_equal(a["weight"], b["weight"]) and np.array_equal(a["bias"], b["bias"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("small", [True, False])
def test_xmlp_train_data_gives_the_rows_and_model_it_always_gave(tmp_path, wdbc, monkeypatch, dtype, small):
    """`xmlp train --data FILE`'s rows: the exact reader's, split as before (the 569-row file is
    read in float64 as it always was; past EXACT_BYTES in the training dtype, in place)."""
    if not small:
        monkeypatch.setattr(csv_fast, "EXACT_BYTES", 0)
    path = write_subject_csv(tmp_path / "data.csv", wdbc)
    s = TrainSettings(data=str(path), dtype=dtype, refit=False, preprocess="standardize")
    data = run_data.training_data(s)
    table = csv_exact.read_exact(path)  # what main read: the exact reader, float64
    x = table.x if small else table.x.astype(dtype)
    tr, va = split_indices(table.y, s.valid_size, np.random.default_rng(s.seed))
    assert np.array_equal(np.asarray(data.x_train), x[tr]) and np.asarray(data.x_train).dtype == x.dtype
    assert np.array_equal(data.x_valid, x[va]) and data.y_train.tolist() == table.y[tr].tolist()
    assert isinstance(data.x_train, RowBuffer)  # rows of ours (used in place where the dtypes match)
    from xmlp import backends

    be = backends.get_backend("numpy")
    before = _fit(be, x[tr], table.y[tr], dtype, (x[va], table.y[va]))
    now = _fit(be, data.x_train, data.y_train, dtype, (data.x_valid, data.y_valid))
    for a, b in zip(before, now):
        assert np.array_equal(a["weight"], b["weight"]) and np.array_equal(a["bias"], b["bias"])
