"""The fast strict CSV reader: the text read in blocks of about 4 MiB, each converted by a bulk
parser (``bulk``) straight into the final array where that parser's result can be vouched
for, else by the exact reader (``exact``) — which reports the first bad cell with its true
FILE:LINE:COLUMN, or converts what the bulk parser refused but the exact rules accept (a number
padded with a trailing space, an empty id, a blank line). Same results, same errors, either way.

``Reader.blocks(rows)`` reads any range of data rows block by block (bounded memory, true line
numbers in errors): the entry point for readers of chunks; ``read_table`` is the exact reader's
face, filling one array of the requested dtype.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Sequence as _SequenceABC
from typing import Any, Iterator, Sequence

import numpy as np

from ...errors import DataError
from .. import threads
from ..shards import part_rows
from ..textlines import (
    MAX_LINE,
    Line,
    input_name,
    newlines,
    open_input,
    read_lines,
    sniff,
)
from . import exact
from .bulk import Block, Spec, convert, engine
from .layout import Layout, head

BLOCK_BYTES = 4 << 20
_LATER = object()  # a block not converted yet
_BOM = b"\xef\xbb\xbf"


class LineNumbers(_SequenceABC):  # type: ignore[type-arg]
    """The line of each row, as an integer array that reads like a list."""

    def __init__(self, lines: np.ndarray):
        self.array = lines

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: Any) -> Any:
        return int(self.array[i]) if isinstance(i, (int, np.integer)) else self.array[i].tolist()


class Reader:
    """A regular data file opened for fast reading: its layout (decided by its first rows, as the
    exact reader decides it) and its data rows, in blocks. Arguments as ``exact.read_exact``."""

    def __init__(self, path: str | os.PathLike[str], *, n_features: int | None = None, labels: str = "required",
                 classes: Sequence[str] | None = None, dtype: str = "float64",
                 feature_names: Sequence[str] | None = None, keep_ids: bool = False, engine_name: str | None = None,
                 label_name: str | int | Sequence[str | int] | None = None, id_name: str | int | None = None,
                 weight_name: str | int | None = None, block_bytes: int | None = None):
        self.path, self.name, self.dtype = path, input_name(path), dtype
        self.block_bytes = block_bytes or BLOCK_BYTES
        allowed = None if classes is None else {str(c) for c in classes}
        starts: dict[int, int] = {}
        with open_input(path) as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise NotRegular(self.name)
            self.bom, self.newline = sniff(fh)

            def rows() -> Iterator[Line]:
                pos = fh.tell()
                for line in read_lines(fh, self.name):
                    starts[line.number] = pos
                    pos = fh.tell()
                    if line.text.strip():
                        yield line

            self.layout: Layout = head(self.name, rows(), n_features, labels, feature_names, label_name, id_name,
                                       weight_name)
        self.spec = Spec(self.layout, engine(engine_name), float(np.finfo(dtype).max), allowed, keep_ids)
        self.offset, self.first_line = starts[self.layout.first.number], self.layout.first.number

    def max_rows(self) -> int:
        """An upper bound of the data rows: the lines from the first data row on."""
        count, last = 0, b"\n"
        with open_input(self.path) as fh:
            fh.seek(self.offset)
            while data := fh.read(16 << 20):
                count, last = count + newlines(data), data[-1:]
        return count + (last != b"\n")

    def row_bound(self) -> int:
        """An upper bound of the data rows from the file's size, without reading it: a row takes at
        least its commas, its newline and a byte in each cell that cannot be empty (numbers, labels)."""
        lay = self.layout
        least = lay.width + len(set(lay.feature_cols) | {lay.label_col} - {None})  # (a column may be named twice)
        with open_input(self.path) as fh:  # (``-``: standard input, redirected from a regular file)
            size = os.fstat(fh.fileno()).st_size
        return (size - self.offset + 1) // least + 1

    def blocks(self, rows: tuple[int, int] | None = None, ahead: int = 0) -> Iterator[Block]:
        """The data rows [lo, hi) (all of them: None) in blocks, each converted by the bulk parser
        or, where it cannot vouch for a block, by the exact reader (which raises on a bad cell of a
        row in range, with its FILE:LINE:COLUMN). ``ahead``: blocks converted in threads ahead of
        the consumer (the bulk parsers release the GIL; the exact reader runs in order, here)."""
        lo, hi = rows if rows is not None else (0, 1 << 62)
        bulk = self.spec.engine != "exact"

        if not (bulk and ahead > 0):  # each block converted once it is known to be wanted
            yield from self._in_range(((chunk, _LATER) for chunk in self._chunks()), lo, hi)
            return

        def parsed(chunk: bytes) -> tuple[bytes, Block | None]:
            return chunk, convert(chunk, 0, self.spec)  # (numbered from line 0: its lines are shifted in order)

        with contextlib.closing(threads.imap_ordered(parsed, self._chunks(), ahead)) as pipeline:
            yield from self._in_range(pipeline, lo, hi)

    def _in_range(self, pipeline: Iterator[tuple[bytes, Any]], lo: int, hi: int) -> Iterator[Block]:
        seen, line0 = 0, self.first_line  # data rows before the current block, the number of its first line
        for chunk, block in pipeline:
            if seen >= hi:
                return
            if block is _LATER:
                block = convert(chunk, line0, self.spec) if self.spec.engine != "exact" else None
            elif block is not None:
                block.lines += line0
            if block is None:
                lines = newlines(chunk)
                block, total = self._exact(chunk, line0, lo - seen, hi - seen)
            else:
                lines = total = len(block.lines)  # (a bulk block: every line a row, the last ends the chunk)
                a, b = max(lo - seen, 0), max(min(hi - seen, total), 0)
                if (a, b) != (0, total):
                    block = Block(block.x[a:b], None if block.codes is None else block.codes[a:b], block.classes,
                                  None if block.ids is None else block.ids[a:b], block.lines[a:b])
            seen, line0 = seen + total, line0 + lines
            if len(block.lines):
                yield block
            if seen >= hi:  # (not one more block read: a streamed chunk reads its own bytes only)
                return

    def _chunks(self) -> Iterator[bytes]:
        """Text of whole lines, about ``block_bytes`` each: each read starts at a line (the part of
        a line a read takes past its last newline is read again with the next block — one copy of
        a block, not two). A regular file reads short only at its end."""
        with open_input(self.path) as fh:
            fh.seek(self.offset)
            first = self.first_line == 1
            while True:
                data = fh.read(self.block_bytes)
                end = len(data) < self.block_bytes
                cut = data.rfind(b"\n") + 1
                while cut == 0 and not end and len(data) <= MAX_LINE + 2:  # a line longer than a block: read on
                    more = fh.read(self.block_bytes)
                    end, data = len(more) < self.block_bytes, data + more
                    cut = data.rfind(b"\n") + 1
                if first and data.startswith(_BOM):  # a file without a header: the BOM is not data
                    data, cut = data[3:], max(cut - 3, 0)
                first = False
                if end:
                    if data:
                        yield data
                    return
                cut = cut or len(data)  # a line over the limit: the exact reader says so
                if cut < len(data):
                    fh.seek(cut - len(data), os.SEEK_CUR)
                    data = data[:cut]
                yield data

    def _exact(self, chunk: bytes, line0: int, a: int, b: int) -> tuple[Block, int]:
        """The exact reader on one block: its rows with index in [a, b) (the others are counted,
        not converted), and the block's row count."""
        lay = self.layout
        reader = exact._RowReader(self.name, lay.feature_cols, lay.label_col, lay.id_col, lay.width, self.dtype,
                                    None if self.spec.allowed is None else sorted(self.spec.allowed), False)
        reader.first = lay.first.number  # (the hint about ids or labels is for the file's first row only)
        total = 0
        if line0 == 1 and self.bom:  # (_chunks took the BOM off; read_lines takes it off line 1 itself)
            chunk = _BOM + chunk
        for line in read_lines(io.BytesIO(chunk), self.name, first=line0):
            if line.text.strip():
                if a <= total < b:
                    reader.add(line)
                total += 1
        classes = sorted(set(reader.ys))
        codes = None
        if lay.label_col is not None:
            lookup = {c: i for i, c in enumerate(classes)}
            codes = np.array([lookup[y] for y in reader.ys], dtype=np.int64)
        ids = np.array(reader.ids, dtype=str) if self.spec.keep_ids and lay.id_col is not None else None
        return Block(reader.array(), codes, classes, ids, np.array(reader.numbers, dtype=np.int64)), total

EXACT_BYTES = 64 << 20


def store_dtype(path: str | os.PathLike[str], dtype: str) -> str:
    """The dtype to read a training file in: float64 up to ``EXACT_BYTES`` of text (its values then
    go through float64 to the model's input exactly as they always did: the same model, bit for
    bit), else the training dtype (a float32 data set read as float32: half the memory)."""
    try:
        small = os.stat(path).st_size <= EXACT_BYTES
    except OSError:
        small = True  # the reader reports what is wrong with the path
    return "float64" if small else dtype


def _arrays(rows: int, d: int, more: int, store: str | None,
            labels: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray | None]:
    """The arrays ``read_table`` fills: features, targets and weights, line numbers, class codes."""
    return (np.empty((rows, d), dtype=store or "float64"), np.empty((rows, more)) if more else None,
            np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int32) if labels else None)


def _capacity(reader: Reader, row_bytes: int) -> int:
    """Rows to allocate: the bound from the file's size where its arrays take at most a quarter of
    the machine's memory — untouched pages of ``np.empty`` are never resident, so the rows too many
    cost address space, not memory (and the file is not read twice: a count of its lines was
    0.16 s of a 10^6-row read) — else the count of its lines (a tight bound)."""
    bound = reader.row_bound()
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        memory = 0
    return bound if bound * (row_bytes + 12) <= memory // 4 else reader.max_rows()  # (+ line number, class)


class NotRegular(Exception):
    """A pipe or a device: read by the exact reader, which streams any input."""


def read_table(path: str | os.PathLike[str], *, n_features: int | None = None, labels: str = "required",
               classes: Sequence[str] | None = None, dtype: str = "float64", feature_names: Sequence[str] | None = None,
               label_name: str | int | Sequence[str | int] | None = None, id_name: str | int | None = None,
               weight_name: str | int | None = None, keep_lines: bool = False, part: tuple[int, int] | None = None, store: str | None = None,
               keep_ids: bool = True, engine_name: str | None = None) -> exact.Table:
    """``exact.read_exact`` (same arguments, same result, same errors), fast: the final array
    of dtype ``store`` (float64 by default) is allocated once and filled block by block; labels
    travel as class indices; ``keep_ids=False`` drops the ids (training does not need them)."""
    args = dict(n_features=n_features, labels=labels, classes=classes, dtype=dtype, feature_names=feature_names,
                label_name=label_name, id_name=id_name, weight_name=weight_name)
    if keep_lines or engine(engine_name) == "exact":
        return exact.read_exact(path, keep_lines=keep_lines, part=part, store=store, **args)  # type: ignore[arg-type]
    try:
        reader = Reader(path, keep_ids=keep_ids, engine_name=engine_name, **args)  # type: ignore[arg-type]
    except NotRegular:
        return exact.read_exact(path, part=part, store=store, **args)  # type: ignore[arg-type]
    lay, name = reader.layout, reader.name
    lo, hi = part_rows(path, name, lay.header is not None, part) if part is not None else (0, 1 << 62)
    # Numeric targets and weights (read after the features) stay float64 whatever ``store`` is.
    d = len(lay.features)
    row_bytes = d * np.dtype(store or "float64").itemsize + 8 * (len(lay.feature_cols) - d)
    capacity = hi - lo if part is not None else _capacity(reader, row_bytes)  # (a part's rows are counted)
    layout = (d, len(lay.feature_cols) - d, store, lay.label_col is not None)
    try:
        x, extra, lines, codes = _arrays(capacity, *layout)
    except MemoryError:  # a bound over the address space allowed (strict overcommit, ulimit -v): count
        if part is not None:
            raise
        x, extra, lines, codes = _arrays(reader.max_rows(), *layout)
        capacity = len(lines)
    ids: list[np.ndarray] = []
    found: dict[str, int] = {}
    n = 0
    n_threads = threads.workers()
    for block in reader.blocks((lo, hi), ahead=n_threads if n_threads > 1 else 0):  # blocks parsed in threads
        r = len(block.lines)
        if n + r > capacity:
            raise DataError(f"{name}: expected a file that does not change while it is read; received one that grew")
        x[n : n + r] = block.x[:, :d] if extra is not None else block.x
        if extra is not None:
            extra[n : n + r] = block.x[:, d:]
        lines[n : n + r] = block.lines
        if codes is not None and block.codes is not None:
            codes[n : n + r] = np.array([found.setdefault(c, len(found)) for c in block.classes], dtype=np.int32)[block.codes]
        if block.ids is not None:
            ids.append(block.ids)
        n += r
    y = None if codes is None else np.array(list(found))[codes[:n]]
    kept = (np.concatenate(ids) if ids else np.array([], dtype=str)) if keep_ids and lay.id_col is not None else None
    features, (targets, weights) = x[:n], exact.extras(extra[:n], lay) if extra is not None else (None, None)
    return exact.Table(path=name, x=features, labels=y, ids=kept, feature_names=lay.names,
                         line_numbers=LineNumbers(lines[:n]), lines=[], header=lay.header_line,
                         newline=reader.newline, bom=reader.bom, columns=lay.describe(), weights=weights,
                         targets=targets)
