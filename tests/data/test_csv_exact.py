"""The strict CSV reader: layouts, numbers as a CSV number is, columns by name, limits."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data.csv.exact import read_exact
from xmlp.errors import DataError


def _write(path, rows):
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("cell", ["1_000", "１２", "0x10", "1e", "--1", "1.2.3", "Infinity", " 1 2"])
def test_a_number_is_ascii_digits_sign_point_exponent(tmp_path, cell):
    path = _write(tmp_path / "d.csv", ["1,M,1.5,2", f"2,B,{cell},3"])
    with pytest.raises(DataError, match=r"d.csv:2:3: expected a (finite )?number"):
        read_exact(path)


def test_accepted_number_forms(tmp_path):
    path = _write(tmp_path / "d.csv", ["1,M,+1.5,-2e3", "2,B,.5,7.", "3,B, 4E-2 ,1e+2"])
    assert read_exact(path).x.tolist() == [[1.5, -2000.0], [0.5, 7.0], [0.04, 100.0]]


def test_header_files_are_read_by_name_in_any_order(tmp_path):
    a = _write(tmp_path / "a.csv", ["id,diagnosis,x,y,z", "1,M,1,2,3", "2,B,4,5,6"])
    b = _write(tmp_path / "b.csv", ["z,id,x,diagnosis,y", "3,1,1,M,2", "6,2,4,B,5"])
    wanted = ["x", "y", "z"]
    assert read_exact(a, feature_names=wanted).x.tolist() == read_exact(b, feature_names=wanted).x.tolist()
    assert read_exact(b, feature_names=wanted).feature_names == wanted
    with pytest.raises(DataError, match=r"b.csv:1: expected a column named 'w' \(a feature of the model\)"):
        read_exact(b, feature_names=["x", "y", "w"])
    with pytest.raises(DataError, match=r"b.csv:1: expected only the model's 2 features; received unknown column 'z'"):
        read_exact(b, feature_names=["x", "y"])
    # Without names on either side, columns are by position with the count checked.
    headerless = _write(tmp_path / "c.csv", ["1,M,1,2", "2,B,3,4"])
    assert read_exact(headerless).feature_names is None
    with pytest.raises(DataError, match=r"c.csv:1: expected 3 features \(as the model was trained\); received 2"):
        read_exact(headerless, n_features=3, feature_names=wanted)


def test_limits_keep_messages_and_memory_bounded(tmp_path):
    huge = _write(tmp_path / "h.csv", ["1,M,1", "2,B," + "9" * 100_000 + "x"])
    with pytest.raises(DataError) as err:
        read_exact(huge)
    assert "h.csv:2:3: expected a number of at most 100 characters; received 100,001: '999" in str(err.value)
    assert len(str(err.value)) < 300
    label = _write(tmp_path / "l.csv", ["1,M,1", "2," + "B" * 500 + ",2"])
    with pytest.raises(DataError, match=r"l.csv:2:2: expected a label of at most 100 characters; received 500"):
        read_exact(label)
    quoted = _write(tmp_path / "q.csv", ["1,M,1", '2,B,"' + "1" * 200_000 + '"'])
    with pytest.raises(DataError, match=r"q.csv:2: expected CSV fields; received a malformed line"):
        read_exact(quoted)  # beyond the csv module's field limit: a clean error, not a crash


def test_rows_are_numbered_by_file_line(tmp_path):
    path = _write(tmp_path / "d.csv", ["", "1,M,1", "", "2,B,2"])
    table = read_exact(path, keep_lines=True)
    assert table.line_numbers == [2, 4] and table.lines == ["1,M,1", "2,B,2"]
    assert np.array_equal(table.x, [[1.0], [2.0]])


@pytest.mark.parametrize("rows, n, k", [(1, 3, 1), (2, 30, 1), (1000, 30, 1), (997, 5, 3), (50, 1, 4), (12345, 30, 2)])
def test_split_off_moves_the_features_to_the_front_without_a_copy(rows, n, k):
    """The features of a [features | targets] array, in the array's own memory, every value
    intact (the first rows' blocks overlap their source; later ones never do)."""
    from xmlp.data.csv.exact import _front

    x = np.random.default_rng(rows).normal(size=(rows, n + k))
    want = x[:, :n].copy()
    got = _front(x, n)
    assert np.array_equal(got, want) and got.flags.c_contiguous and np.shares_memory(got, x)
    strided = np.asfortranarray(np.random.default_rng(1).normal(size=(rows, n + k)))
    assert np.array_equal(_front(strided, n), strided[:, :n])  # not C-contiguous: a copy
