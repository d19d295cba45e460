"""A CSV file in chunks: the same rows, labels and FILE:LINE:COLUMN errors as reading it whole,
chunks readable in any order, and a file truncated while streamed refused."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data.csv.exact import read_exact
from xmlp.data.csv.source import CsvSource
from xmlp.errors import DataError


def _write(path, rows, header=None, blank_every=0):
    lines = [header] if header else []
    for i, row in enumerate(rows):
        lines.append(row)
        if blank_every and i % blank_every == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(n, rng):
    x = np.round(rng.standard_normal((n, 3)), 6)
    labels = np.where(rng.random(n) < 0.5, "M", "B")
    return x, labels, [f"{900000 + i},{labels[i]},{float(x[i, 0])!r},{float(x[i, 1])!r},{float(x[i, 2])!r}" for i in range(n)]


@pytest.mark.parametrize("header, blank_every", [(None, 0), ("id,diagnosis,a,b,c", 0), (None, 3)])
def test_chunks_are_the_whole_file_in_pieces(tmp_path, rng, header, blank_every):
    x, labels, lines = _rows(47, rng)
    path = _write(tmp_path / "d.csv", lines, header, blank_every)
    src = CsvSource(path, chunk_rows=10)
    whole = read_exact(path)
    assert (src.n_chunks, src.n_rows, src.n_features) == (5, 47, 3)
    assert src.feature_names == (["a", "b", "c"] if header else None)
    for k in (3, 0, 4):  # any order
        c = src.read(k)
        lo = 10 * k
        np.testing.assert_array_equal(c.x, whole.x[lo : lo + 10])
        assert c.labels.tolist() == whole.y[lo : lo + 10].tolist() and c.first_row == lo
        assert list(c.lines) == whole.line_numbers[lo : lo + 10]  # true line numbers, blank lines counted


def test_a_bad_cell_in_chunk_900_names_its_line_and_column(tmp_path, rng):
    _, _, lines = _rows(1900, rng)
    bad = 1799  # chunk 900 of 2-row chunks holds rows 1798-1799; the header makes it line 1801
    cells = lines[bad].split(",")
    cells[3] = "1.2.3"
    lines[bad] = ",".join(cells)
    path = _write(tmp_path / "d.csv", lines, "id,diagnosis,a,b,c")
    src = CsvSource(path, chunk_rows=2)
    with pytest.raises(DataError, match=rf"^{path}:1801:4: expected a number; received '1.2.3'"):
        src.read(899)


def test_a_truncated_file_is_an_error_not_a_short_chunk(tmp_path, rng):
    _, _, lines = _rows(30, rng)
    path = _write(tmp_path / "d.csv", lines)
    src = CsvSource(path, chunk_rows=8)
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:27]) + "\n")
    with pytest.raises(DataError, match=r"expected 6 rows in chunk 4 \(as counted when it was opened\); received 3 "
                                        r"\(the file was truncated or changed while it was streamed\)"):
        src.read(3)
    with pytest.raises(DataError, match="expected the file to stay unchanged while it is streamed; received its size"):
        src.check("during epoch 2")


def test_layout_errors_come_from_the_first_rows(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("")
    with pytest.raises(DataError, match="e.csv: expected CSV rows; received an empty file"):
        CsvSource(path)
    path.write_text("1,2,3\n")
    with pytest.raises(DataError, match=r"e.csv:1: expected class labels in column 2 \(id, label, features…\)"):
        CsvSource(path)
    with pytest.raises(ValueError, match="expected chunk_rows to be an integer >= 1; received 0"):
        CsvSource(path, chunk_rows=0)


def test_the_index_agrees_with_read_table_on_awkward_files(tmp_path, rng, monkeypatch):
    """Random files with or without a header, BOM, CRLF, blank and whitespace lines, a last line
    without its end; the index read in blocks as small as 5 bytes (lines cut anywhere)."""
    from xmlp.data.csv import source as csvsource

    for trial in range(20):
        n = int(rng.integers(1, 40))
        x = np.round(rng.standard_normal((n, 3)), 4)
        rows = (["id,label,a,b,c"] if trial % 2 else []) + [f"{i},{'MB'[i % 2]},{x[i, 0]},{x[i, 1]},{x[i, 2]}"
                                                            for i in range(n)]
        lines = [v for r in rows for v in ([r, ["", "  ", "\t"][trial % 3]] if rng.random() < 0.2 else [r])]
        nl = "\r\n" if trial % 3 == 0 else "\n"
        text = ("\ufeff" if trial % 5 == 0 else "") + nl.join(lines) + (nl if trial % 4 else "")
        path = tmp_path / f"t{trial}.csv"
        path.write_bytes(text.encode())
        whole = read_exact(path)
        for chunk_rows, block in ((1, 5), (7, 17), (100, 1 << 20)):
            monkeypatch.setattr(csvsource, "_INDEX_BYTES", block)
            src = CsvSource(path, chunk_rows=chunk_rows)
            chunks = [src.read(k) for k in range(src.n_chunks)]
            np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), whole.x)
            assert [str(v) for c in chunks for v in c.labels] == whole.y.tolist()
            assert [int(v) for c in chunks for v in c.lines] == list(whole.line_numbers)


@pytest.mark.parametrize("chunk_rows", [1, 4, 7, 1000])
def test_long_blank_lines_are_no_rows(tmp_path, chunk_rows):
    """Lines of only whitespace, however long (40 spaces; tabs with NBSP and U+2028, which
    str.strip() removes as the exact reader does), are skipped, not counted as rows: no row
    read twice, no false 'truncated' chunk."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(60):
        lines.append(f"{i},{'M' if i % 2 else 'B'},{rng.normal():.4f},{rng.normal():.4f}")
        if i % 7 == 3:
            lines.append(" " * 40)
        if i % 11 == 5:
            lines.append("\t \u00a0 \u2028  ".ljust(30))
    path = tmp_path / "blanks.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    whole = read_exact(path, labels="required")
    source = CsvSource(path, chunk_rows=chunk_rows)
    chunks = list(source.chunks())
    assert source.n_rows == len(whole.y) == 60
    np.testing.assert_array_equal(np.concatenate([c.x for c in chunks]), whole.x)
    assert np.concatenate([c.labels for c in chunks]).tolist() == whole.y.tolist()
