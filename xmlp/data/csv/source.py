"""A CSV file read in chunks of rows: the same layouts, cell rules and FILE:LINE:COLUMN errors as
reading it whole, at the fast reader's speed (``fast.Reader``: a bulk parser where it can vouch
for a block, the exact reader elsewhere).

Opening the file decides its layout from its first rows and indexes it without converting a
cell: the line ends are found in large binary blocks (NumPy), and for every chunk of
``chunk_rows`` data rows the byte range and the number of its first line are kept. A chunk is
then read as one block from that offset; chunks can be read in any order. A chunk that ends
before its counted rows (the file was truncated) is an error.
"""

from __future__ import annotations

import copy
import os
from typing import Sequence

import numpy as np

from ...errors import DataError
from ..sources import DEFAULT_CHUNK_ROWS, Chunk, Source, _short_chunk
from ..textlines import open_input
from .exact import split_off
from .fast import NotRegular, Reader

_INDEX_BYTES = 16 << 20


#: bytes that may belong to a blank line: ASCII whitespace (str.isspace) and every non-ASCII byte
_MAYBE_BLANK = np.zeros(256, dtype=bool)
_MAYBE_BLANK[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32]] = True
_MAYBE_BLANK[128:] = True


class CsvSource(Source):
    """A CSV data file in chunks of ``chunk_rows`` rows (labels required). ``dtype``: the values
    must fit it; ``feature_names`` / ``n_features``: a model's, as ``exact.read_exact`` takes them.
    ``label_name``: the label column (default: the usual names), or a list of numeric target
    columns (several regression outputs, or 0/1 label columns); ``targets``: the one label column
    holds a regression's numbers (read as numbers, 1-D). ``weight_name``: a column of row weights."""

    def __init__(self, path: str | os.PathLike[str], *, chunk_rows: int = DEFAULT_CHUNK_ROWS, dtype: str = "float64",
                 feature_names: Sequence[str] | None = None, n_features: int | None = None,
                 label_name: str | int | Sequence[str | int] | None = None, id_name: str | int | None = None,
                 weight_name: str | int | None = None, targets: bool = False):
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValueError(f"expected chunk_rows to be an integer >= 1; received {chunk_rows!r}")
        self.name, self.dtype = str(path), dtype
        self._flat = targets and not isinstance(label_name, (list, tuple))  # one numeric target: 1-D
        kw = dict(n_features=n_features, labels="required", dtype=dtype, feature_names=feature_names,
                  id_name=id_name, weight_name=weight_name)
        try:
            if self._flat:  # the one label column, found as without ``targets``, read as a number
                label_name = [label_name if label_name is not None else
                              Reader(path, **kw).layout.label_col]  # type: ignore[arg-type,list-item]
            self._reader = Reader(path, label_name=label_name, **kw)  # type: ignore[arg-type]
        except NotRegular:
            raise DataError(f"{self.name}: expected a regular file to stream (read again every epoch); received "
                            "a pipe or device (hint: train from it without streaming, or copy it to a file)") from None
        self._watch(self.name)
        lay = self._reader.layout
        self.n_features, self.feature_names = len(lay.features), lay.names
        # (byte offset, number of the line there) where each chunk's reading starts, its end, its rows
        self.starts: list[tuple[int, int]] = []
        self.ends: list[int] = []
        self.counts: list[int] = []
        self._index(chunk_rows)
        self.n_rows = sum(self.counts)
        self.row_starts = list(np.cumsum([0] + self.counts).tolist())
        self.n_chunks = len(self.counts)

    def _index(self, chunk_rows: int) -> None:
        """Chunk boundaries from the line ends: a chunk starts on the line after the previous
        chunk's last row (blank lines are no rows)."""
        pos, number = self._reader.offset, self._reader.first_line  # where the next line starts, its number
        last_end, last_number, rows = pos, number - 1, 0
        with open_input(self.name) as fh:
            fh.seek(pos)
            carry = b""
            while True:
                data = fh.read(_INDEX_BYTES)
                buf = carry + data
                if not buf:
                    break
                arr = np.frombuffer(buf, dtype=np.uint8)
                stops = np.flatnonzero(arr == 10)
                if not data:  # the last line, without a line end
                    stops = np.array([len(buf)])
                begins = np.concatenate([[0], stops[:-1] + 1])
                # A line with a byte that is neither whitespace nor part of a non-ASCII character is
                # a row; the others (any length) are decided by the exact reader's rule, str.strip().
                solid = np.concatenate([[0], np.cumsum(~_MAYBE_BLANK[arr], dtype=np.int64)])
                maybe = np.flatnonzero(solid[stops] == solid[begins])
                blank = np.zeros(len(stops), dtype=bool)
                blank[maybe] = [not buf[b:e].decode("utf-8", "replace").strip() for b, e in
                                zip(begins[maybe].tolist(), stops[maybe].tolist())]
                data_rows = np.flatnonzero(~blank)
                for j in data_rows[(rows + np.arange(len(data_rows))) % chunk_rows == 0].tolist():
                    k = int(np.searchsorted(data_rows, j))  # the chunk's first row: the previous row ended it
                    prev_end = last_end if k == 0 else pos + int(stops[data_rows[k - 1]]) + 1
                    prev_number = last_number if k == 0 else number + int(data_rows[k - 1])
                    if self.starts:
                        self.ends.append(prev_end)
                    self.starts.append((prev_end, prev_number + 1))
                    self.counts.append(0)
                if len(data_rows):
                    total = rows + len(data_rows)
                    self._count(rows, total, chunk_rows)
                    rows = total
                    last_end = pos + int(stops[data_rows[-1]]) + 1
                    last_number = number + int(data_rows[-1])
                if not data:
                    break
                used = int(stops[-1]) + 1 if len(stops) else 0
                number += len(stops)
                pos += used
                carry = buf[used:]
        if self.starts:
            self.ends.append(os.stat(self.name).st_size)
        if not self.counts:
            raise DataError(f"{self.name}: expected data rows; received none")

    def _count(self, before: int, after: int, chunk_rows: int) -> None:
        """Rows [before, after) of the file join the chunks they fall in."""
        for g in range(before // chunk_rows, (after - 1) // chunk_rows + 1):
            lo, hi = max(before, g * chunk_rows), min(after, (g + 1) * chunk_rows)
            self.counts[g] += hi - lo

    def read(self, k: int) -> Chunk:
        reader = copy.copy(self._reader)
        reader.offset, reader.first_line = self.starts[k]
        reader.block_bytes = max(self.ends[k] - self.starts[k][0], 1)  # the chunk in one block
        blocks = list(reader.blocks((0, self.counts[k])))
        n = sum(len(b.lines) for b in blocks)
        if n != self.counts[k]:
            raise _short_chunk(self.name, k, self.counts[k], n)
        x = blocks[0].x if len(blocks) == 1 else np.concatenate([b.x for b in blocks])
        lines = blocks[0].lines if len(blocks) == 1 else np.concatenate([b.lines for b in blocks])
        x, targets, weights = split_off(x, self._reader.layout)  # numeric targets and weights: read after the features
        if targets is None:  # labels are required: every block has them
            labels = [b.labels for b in blocks if b.labels is not None]
            targets = labels[0] if len(blocks) == 1 else np.concatenate(labels)
        elif self._flat:
            targets = targets[:, 0]
        return Chunk(x, targets, self.row_starts[k], lines, weights)
