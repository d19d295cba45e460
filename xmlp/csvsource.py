"""A CSV file read in chunks of rows by the strict reader (``csvdata``): the same layouts, the
same cell rules and the same FILE:LINE:COLUMN errors as reading it whole.

Opening the file reads it once line by line without converting cells (an index): the byte
offset and line number where each chunk of ``chunk_rows`` data rows starts. A chunk is then
read by seeking there and parsing its rows; chunks can be read in any order. A chunk that ends
before its counted rows (the file was truncated) is an error.
"""

from __future__ import annotations

import itertools
import os
from typing import Sequence

from . import csvdata, csvlayout
from .errors import DataError
from .sources import DEFAULT_CHUNK_ROWS, Chunk, Source, _short_chunk
from .textlines import Line, open_input, read_lines


class CsvSource(Source):
    """A CSV data file in chunks of ``chunk_rows`` rows (labels required). ``dtype``: the values
    must fit it; ``feature_names`` / ``n_features``: a model's, as ``csvdata.read_table`` takes them."""

    def __init__(self, path: str | os.PathLike[str], *, chunk_rows: int = DEFAULT_CHUNK_ROWS, dtype: str = "float64",
                 feature_names: Sequence[str] | None = None, n_features: int | None = None):
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
            raise ValueError(f"expected chunk_rows to be an integer >= 1; received {chunk_rows!r}")
        self.name, self.dtype = str(path), dtype
        with open_input(path) as fh:
            if not fh.seekable():
                raise DataError(f"{self.name}: expected a regular file to stream (read again every epoch); received "
                                "a pipe or device (hint: train from it without streaming, or copy it to a file)")
            rows = ((line, fh.tell()) for line in read_lines(fh, self.name) if line.text.strip())
            # (byte offset, line number) where each chunk's reading starts: the line after the previous row
            self.starts: list[tuple[int, int]] = []
            self.counts: list[int] = []
            first = next(rows, None)
            if first is None:
                raise DataError(f"{self.name}: expected CSV rows; received an empty file")
            cells = csvlayout.cells(self.name, first[0])
            header = None
            prev_end, prev_number = 0, 0  # where the line before the next chunk ends, and its number
            if not any(csvlayout.is_number(c) for c in cells):
                header, prev_end, prev_number = [c.strip() for c in cells], first[1], first[0].number
                first = next(rows, None)
                if first is None:
                    raise DataError(f"{self.name}: expected data rows after the header line; received none")
            line = first[0]
            self.width = len(header) if header else len(csvlayout.cells(self.name, line))
            self.id_col, self.label_col = csvlayout._layout(self.name, header, (line.number, line.text), self.width,
                                                            n_features, "required")
            self.columns = csvlayout._feature_columns(self.name, header, line.number, self.width,
                                                      (self.id_col, self.label_col), n_features, feature_names)
            # A chunk starts where the line before its first row ended (blank lines in between are skipped).
            for i, (line, end) in enumerate(itertools.chain([first], rows)):
                if i % chunk_rows == 0:
                    self.starts.append((prev_end, prev_number + 1))
                    self.counts.append(0)
                self.counts[-1] += 1
                prev_end, prev_number = end, line.number
        self.n_rows = sum(self.counts)
        self.row_starts = list(itertools.accumulate([0] + self.counts))
        self.n_chunks = len(self.counts)
        self.n_features = len(self.columns)
        self.feature_names = [header[c] for c in self.columns] if header else None
        self._watch(self.name)

    def read(self, k: int) -> Chunk:
        offset, number = self.starts[k]
        reader = csvdata._RowReader(self.name, self.columns, self.label_col, None, self.width, self.dtype, None, False)
        with open_input(self.name) as fh:
            fh.seek(offset)
            for line in read_lines(fh, self.name):
                if line.text.strip():
                    reader.add(Line(line.number + number - 1, line.text))
                if reader.n == self.counts[k]:
                    break
        if reader.n != self.counts[k]:
            raise _short_chunk(self.name, k, self.counts[k], reader.n)
        return Chunk(reader.array(), reader.labels(), self.row_starts[k], reader.numbers)  # type: ignore[arg-type]
