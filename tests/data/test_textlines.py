"""Reading any input line by line in bounded memory."""

from __future__ import annotations

import time

import pytest

from xmlp.data.textlines import open_input, read_lines
from xmlp.errors import DataError, NoInputError


def _lines(path, **kw):
    with open_input(path) as fh:
        return [(line.number, line.text) for line in read_lines(fh, str(path), **kw)]


def test_only_newline_ends_a_line(tmp_path):
    (tmp_path / "f.csv").write_bytes(b"\xef\xbb\xbfa,b\r\nc\x0cd,e" + "\u2028".encode() + b"f\n\ng,h")
    # A form feed or U+2028 inside a line is text, not a line break: line numbers stay true.
    assert _lines(tmp_path / "f.csv") == [(1, "a,b"), (2, "c\x0cd,e\u2028f"), (3, ""), (4, "g,h")]


def test_endless_and_binary_inputs_fail_fast(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="/dev/zero:1: expected lines of at most 1,024 bytes"):
        _lines("/dev/zero", max_line=1024)
    with pytest.raises(DataError, match="/dev/urandom:.*: expected (UTF-8 text|lines of at most)"):
        _lines("/dev/urandom")
    assert time.perf_counter() - t0 < 5  # bounded: one line is read, not the device
    (tmp_path / "b.bin").write_bytes(b"1,2\n3,\xff\n")
    with pytest.raises(DataError, match=r"b.bin:2: expected UTF-8 text; received a byte 0xff at column 3"):
        _lines(tmp_path / "b.bin")


def test_missing_folder_and_unreadable(tmp_path):
    with pytest.raises(NoInputError, match="nope: expected an existing file"):
        open_input(tmp_path / "nope")
    with pytest.raises(NoInputError, match="expected a file; received a directory"):
        open_input(tmp_path)
