"""A source parsed once: the first full pass is written to binary files that later passes read,
with the same rows, labels and line numbers; the model is the one trained on the source itself."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import write_subject_csv

from xmlp import Dense, Sequential
from xmlp.data.csv.source import CsvSource
from xmlp.data.spill import Spilled


def test_later_passes_read_the_binary_copy(tmp_path, wdbc, monkeypatch):
    src = CsvSource(write_subject_csv(tmp_path / "d.csv", wdbc), chunk_rows=100)
    spilled = Spilled(src, folder=tmp_path)
    first = list(spilled.chunks())  # the first full pass: parsed, and written
    monkeypatch.setattr(CsvSource, "read", lambda self, k: pytest.fail("parsed again"))
    for k in (5, 0, 3):
        again = spilled.read(k)
        np.testing.assert_array_equal(again.x, first[k].x)
        assert again.labels.tolist() == first[k].labels.tolist() and list(again.lines) == list(first[k].lines)
        assert again.first_row == first[k].first_row == 100 * k
    assert spilled.reorderable and [c.first_row for c in spilled.chunks([2, 1])] == [200, 100]
    folder = spilled._dir.name
    spilled.close()
    assert not (tmp_path / folder).exists()


def test_float32_copy_and_an_interrupted_first_pass(tmp_path, wdbc):
    src = CsvSource(write_subject_csv(tmp_path / "d.csv", wdbc), chunk_rows=100, dtype="float32")
    spilled = Spilled(src, folder=tmp_path)
    passing = spilled.chunks()
    next(passing)
    passing.close()  # abandoned after one chunk: nothing is taken from the partial files
    assert spilled._ranges is None and spilled.read(2).x.dtype == np.float64  # still parsed
    list(spilled.chunks())
    assert spilled.read(2).x.dtype == np.float32  # the source's dtype
    np.testing.assert_array_equal(spilled.read(2).x, wdbc[0][200:300].astype(np.float32))


def test_training_on_the_copy_is_training_on_the_file(tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "d.csv", wdbc)
    a, b = (Sequential([Dense(8, "tanh"), Dense(2, "softmax")]) for _ in range(2))
    a.fit(CsvSource(path, chunk_rows=64), None, epochs=3, seed=0, shuffle_buffer=128)
    b.fit(Spilled(CsvSource(path, chunk_rows=64), folder=tmp_path), None, epochs=3, seed=0, shuffle_buffer=128)
    assert all(np.array_equal(p[k], q[k]) for p, q in zip(a.get_weights(), b.get_weights()) for k in p)
