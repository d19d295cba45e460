"""Sources read in chunks: memory-mapped .npy (and its wrong dtypes, shapes and byte orders),
(x, y) chunk lists, Parquet row groups; a file that changes while streamed is an error."""

from __future__ import annotations

import importlib.util
import os
import re

import numpy as np
import pytest

from xmlp.data.npy import NpySource
from xmlp.data.parquet import ParquetSource
from xmlp.data.sources import ChunkList
from xmlp.errors import DataError, NoInputError


def _npy(tmp_path, name, arr):
    path = tmp_path / name
    np.save(path, arr)
    return path


def test_npy_chunks_cover_the_rows_in_any_order(tmp_path, rng):
    x = rng.standard_normal((103, 4)).astype(np.float32)
    y = rng.integers(0, 3, 103)
    src = NpySource(_npy(tmp_path, "x.npy", x), _npy(tmp_path, "y.npy", y), chunk_rows=25)
    assert (src.n_chunks, src.n_features) == (5, 4)
    chunks = list(src.chunks([4, 0, 2, 1, 3]))
    assert [c.first_row for c in chunks] == [100, 0, 50, 25, 75]
    for c in chunks:
        np.testing.assert_array_equal(c.x, x[c.first_row : c.first_row + len(c.labels)])
        np.testing.assert_array_equal(c.labels, y[c.first_row : c.first_row + len(c.labels)])
        assert c.x.dtype == np.float32 and not isinstance(c.x, np.memmap)  # a copy, not the map


def test_npy_labels_from_a_column(tmp_path, rng):
    data = np.column_stack([rng.standard_normal((10, 2)), rng.integers(0, 2, 10), rng.standard_normal(10)])
    src = NpySource(_npy(tmp_path, "d.npy", data), label_column=2, chunk_rows=4)
    c = src.read(1)
    np.testing.assert_array_equal(c.x, data[4:8][:, [0, 1, 3]])
    np.testing.assert_array_equal(c.labels, data[4:8, 2])
    assert src.n_features == 3


@pytest.mark.parametrize("arr, message", [
    (np.zeros((4, 2), dtype=np.complex64), "expected a .npy of real numbers (float32 or float64) for features; "
                                            "received dtype complex64"),
    (np.array([["a", "b"]]), "received dtype <U1 (labels may be strings only in a CSV file)"),
    (np.zeros((4, 2), dtype=">f8"), "expected features in this machine's byte order; received big-endian >f8 "
                                    "(hint: np.save(path, x.astype(x.dtype.newbyteorder('='))))"),
    (np.zeros(4), "expected a 2-D array (rows, features); received shape (4,)"),
    (np.asfortranarray(np.zeros((4, 2))), "expected a row-major (C-order) .npy of features; received a Fortran-order"),
])
def test_npy_of_the_wrong_kind_is_a_clear_error(tmp_path, arr, message):
    path = _npy(tmp_path, "x.npy", arr)
    with pytest.raises(DataError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}"):
        NpySource(path, label_column=0)


def test_npy_truncated_or_not_npy(tmp_path):
    path = _npy(tmp_path, "x.npy", np.zeros((100, 3)))
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=r"x.npy: expected a .npy file of features; received one NumPy cannot map"):
        NpySource(path, label_column=0)
    with pytest.raises(NoInputError, match="expected an existing file"):
        NpySource(tmp_path / "missing.npy", label_column=0)


def test_npy_labels_must_match_the_rows(tmp_path):
    x = _npy(tmp_path, "x.npy", np.zeros((5, 2)))
    with pytest.raises(DataError, match=r"y.npy: expected one label per row of .*x.npy \(shape \(5,\), or \(5, outputs\)\); received shape \(4,\)"):
        NpySource(x, _npy(tmp_path, "y.npy", np.zeros(4)))
    with pytest.raises(ValueError, match="expected the labels as a second .npy file or a label_column; received neither"):
        NpySource(x)


def test_a_file_changed_while_streamed_is_an_error(tmp_path):
    path = _npy(tmp_path, "x.npy", np.zeros((10, 3)))
    src = NpySource(path, label_column=0)
    src.check("during epoch 1")  # unchanged: fine
    with open(path, "ab") as fh:
        fh.write(b"\0" * 8)
    with pytest.raises(DataError, match=r"x.npy: expected the file to stay unchanged while it is streamed; received "
                                        r"its size changed during epoch 2 \(368 -> 376 bytes\)"):
        src.check("during epoch 2")
    os.remove(path)
    with pytest.raises(NoInputError, match="expected the streamed file to stay in place"):
        src.check("during epoch 3")


def test_chunk_list_reads_pairs_in_order_or_by_index(rng):
    x = rng.standard_normal((10, 2))
    pairs = [(x[:4], ["a"] * 4), (x[4:], ["b"] * 6)]
    src = ChunkList(pairs)
    assert src.n_chunks == 2 and src.reorderable
    a, b = list(src.chunks([1, 0]))
    assert (a.first_row, b.first_row) == (4, 0) and a.labels.tolist() == ["b"] * 6
    again = ChunkList(lambda: iter(pairs))  # a function: re-read each epoch, in its own order
    assert not again.reorderable and [c.first_row for c in again.chunks([1, 0])] == [0, 4]


def test_chunk_list_refuses_what_it_cannot_read_twice_or_use():
    with pytest.raises(TypeError, match="received generator .an iterator can be read only once"):
        ChunkList(p for p in [(np.zeros((2, 2)), [0, 1])])
    with pytest.raises(ValueError, match=r"expected 2 labels in chunk 1 \(one per row\); received shape \(3,\)"):
        ChunkList([(np.zeros((2, 2)), [0, 1, 0])])
    with pytest.raises(ValueError, match=r"expected 2 features per row .*; received 3 of chunk 2"):
        ChunkList([(np.zeros((2, 2)), [0, 1]), (np.zeros((2, 3)), [0, 1])])
    bad = np.zeros((4, 2))
    bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"expected finite features; received inf at row 3, column 1 of chunk 2 "
                                         r"\(row 2 of the data\)"):
        ChunkList([(np.zeros((2, 2)), [0, 1]), (bad, [0, 1, 0, 1])])


HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed (pip install 'xmlp[parquet]')")
def test_parquet_row_groups_are_chunks(tmp_path, rng):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = rng.standard_normal((50, 3))
    table = pa.table({"id": np.arange(50), "f1": x[:, 0], "Label": ["M", "B"] * 25, "f2": x[:, 1], "f3": x[:, 2]})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=20)
    src = ParquetSource(tmp_path / "d.parquet")
    assert (src.n_chunks, src.feature_names) == (3, ["f1", "f2", "f3"])
    c = src.read(1)
    np.testing.assert_array_equal(c.x, x[20:40])
    assert c.first_row == 20 and c.labels.tolist() == ["M", "B"] * 10
    pq.write_table(pa.table({"f1": x[:, 0]}), tmp_path / "n.parquet")
    with pytest.raises(DataError, match="expected a label column named diagnosis/label/class/target/y; received columns f1"):
        ParquetSource(tmp_path / "n.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="bad.parquet: expected a Parquet file; received one pyarrow cannot read"):
        ParquetSource(tmp_path / "bad.parquet")


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow not installed (pip install 'xmlp[parquet]')")
def test_parquet_targets_and_weights(tmp_path, rng):
    """label_column a list: numeric target columns (rows, outputs) in float64; weight_column: each
    row's weight; neither is a feature."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = rng.standard_normal((50, 4))
    table = pa.table({"f1": x[:, 0], "u": x[:, 1] * 10, "f2": x[:, 2], "v": x[:, 3], "w": np.linspace(0, 1, 50)})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=20)
    src = ParquetSource(tmp_path / "t.parquet", label_column=["u", "v"], weight_column="w")
    assert src.feature_names == ["f1", "f2"]
    c = src.read(2)
    np.testing.assert_array_equal(c.labels, np.stack([x[40:, 1] * 10, x[40:, 3]], axis=1))
    np.testing.assert_array_equal(c.weights, np.linspace(0, 1, 50)[40:])
    np.testing.assert_array_equal(c.x, x[40:, [0, 2]])
    with pytest.raises(DataError, match="expected a weight column named wt; received columns f1, u, f2, v, w"):
        ParquetSource(tmp_path / "t.parquet", label_column=["u"], weight_column="wt")
