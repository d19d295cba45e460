"""The exact CSV reader (every cell converted and checked in Python, in bounded memory) and the
writer of split files, on the host. What a file's layout is and what counts as a number:
``csv.layout``; the fast reader that uses this one only to report a bad cell: ``csv.fast``.

UTF-8 (with or without a byte-order mark), LF or CRLF line endings, and blank lines are accepted.
Every problem is reported as ``FILE:LINE[:COLUMN]: expected …; received …``.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ...errors import DataError
from ...errors import short_repr as _short
from ..shards import part_rows
from ..textlines import Line, input_name, open_input, read_lines, sniff
from .layout import BLANK, MAX_CELL, NUMBER, Layout, cells, head, is_number


@dataclass
class Table:
    """A parsed data file. ``lines`` keeps each data row's original text for exact rewriting."""

    path: str
    x: np.ndarray
    labels: np.ndarray | None
    ids: list[str] | np.ndarray | None  # strings; the fast reader keeps them as an array
    feature_names: list[str] | None  # None: a file without a header (features by position)
    line_numbers: Sequence[int] = field(repr=False)  # each row's line in the file (the fast reader: an array)
    lines: list[str] = field(repr=False)  # each row's text, when read with keep_lines
    header: str | None = None
    newline: str = "\n"
    bom: bool = False
    columns: str = ""  # which columns became the id, the label and the features (``Layout.describe``)
    weights: np.ndarray | None = None  # the ``weight_name`` column's values (float64), when one was named
    targets: np.ndarray | None = None  # numeric targets (rows, k) in float64, when ``label_name`` was a list

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def y(self) -> np.ndarray:
        """The labels of a file read with ``labels="required"``."""
        if self.labels is None:
            raise DataError(f"{self.path}: expected class labels; received none")
        return self.labels


def read_exact(
    path: str | os.PathLike[str],
    *,
    n_features: int | None = None,
    labels: str = "required",
    classes: Sequence[str] | None = None,
    dtype: str = "float64",
    feature_names: Sequence[str] | None = None,
    label_name: str | int | Sequence[str | int] | None = None,
    id_name: str | int | None = None,
    weight_name: str | int | None = None,
    keep_lines: bool = False,
    part: tuple[int, int] | None = None,
    store: str | None = None,
) -> Table:
    """Parse ``path`` as a stream. ``labels``: "required", "optional" or "forbidden"; ``classes``:
    the only labels allowed (a model's); ``n_features``: the width to expect (a model's);
    ``feature_names``: a model's feature names — a file with a header is then read by column name
    (in any order); ``label_name`` / ``id_name``: the label (or target) and id columns, by header
    name or 0-based index (``xmlp train --target/--id``); values must fit ``dtype``. ``keep_lines`` keeps each row's text (for split).
    ``part`` = (k, of): parse only the k-th of ``of`` contiguous parts of the data rows (a
    process's shard; the layout is still decided from the file's first rows). ``store``: the dtype
    of ``x`` (float64 by default). The exact reader: ``csv.fast`` is the fast one."""
    name = input_name(path)
    with open_input(path) as fh:
        bom, newline = sniff(fh)
        rows = (line for line in read_lines(fh, name) if line.text.strip())
        lay = head(name, rows, n_features, labels, feature_names, label_name, id_name, weight_name)
        reader = _RowReader(name, lay.feature_cols, lay.label_col, lay.id_col, lay.width, dtype, classes, keep_lines)
        reader.first = lay.first.number  # (a part's first row is not the file's)
        lo, hi = part_rows(path, name, lay.header is not None, part)
        for i, line in enumerate(itertools.chain([lay.first], rows)):
            if lo <= i < hi:
                reader.add(line)
    x, targets, weights = split_off(reader.array(), lay)  # (targets and weights in float64, whatever ``store`` is)
    x = x.astype(store or "float64", copy=False)
    return Table(path=name, x=x, labels=reader.labels(), ids=reader.ids if lay.id_col is not None else None,
                 feature_names=lay.names, line_numbers=reader.numbers, lines=reader.lines, header=lay.header_line,
                 newline=newline, bom=bom, columns=lay.describe(), weights=weights, targets=targets)


def split_off(x: np.ndarray, lay: Layout) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(features, numeric targets, row weights) of an array read with the layout's target and
    weight columns after the features (float64; finite, as every value the reader accepts)."""
    n = len(lay.features)
    if n == x.shape[1]:
        return x, None, None
    targets, weights = extras(x[:, n:], lay)
    return _front(x, n), targets, weights


def extras(columns: np.ndarray, lay: Layout) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(numeric targets, row weights) of the columns read after the features: float64 copies."""
    k = len(lay.target_cols)
    targets = columns[:, :k].astype(np.float64) if k else None
    weights = columns[:, -1].astype(np.float64) if lay.weight_col is not None else None
    return targets, weights


def _front(x: np.ndarray, n: int) -> np.ndarray:
    """``x[:, :n]`` as a C-contiguous array in the memory of ``x`` (which it overwrites): row r
    moves to flat offset r·n, front to back, in blocks no larger than the gap that has opened
    before them (so a block never overwrites rows still to be read; NumPy copies the first rows'
    small overlaps through a temporary). A copy where ``x`` is not a writable C-contiguous array.
    At 10⁶ rows × 30 features this spares a second 114 MiB array of the features."""
    rows, width = x.shape
    if not (x.flags.c_contiguous and x.flags.writeable):
        return np.ascontiguousarray(x[:, :n])
    out = x.reshape(-1)[: rows * n].reshape(rows, n)
    at = 1  # row 0 is in place
    while at < rows:
        stop = min(rows, at + max(1, at * (width - n) // n))
        out[at:stop] = x[at:stop, :n]
        at = stop
    return out


class _RowReader:
    """Converts rows as they come into a float array built in blocks (no list of rows)."""

    BLOCK = 4096

    def __init__(self, name: str, feature_cols: list[int], label_col: int | None, id_col: int | None, width: int,
                 dtype: str, classes: Sequence[str] | None, keep_lines: bool):
        self.name, self.feature_cols, self.label_col, self.id_col, self.width = name, feature_cols, label_col, id_col, width
        self.limit, self.dtype = float(np.finfo(dtype).max), dtype
        self.allowed = None if classes is None else {str(c) for c in classes}
        self.blocks: list[np.ndarray] = []
        self.block = np.empty((self.BLOCK, len(feature_cols)))
        self.n = 0
        self.ys: list[str] = []
        self.ids: list[str] = []
        self.lines: list[str] = []
        self.numbers: list[int] = []
        self.keep_lines = keep_lines
        self.first: int | None = None  # the file's first data line, where this reader starts later in it

    def add(self, line: Line) -> None:
        row_cells = cells(self.name, line)
        if len(row_cells) != self.width:
            raise DataError(f"{self.name}:{line.number}: expected {self.width} fields; received {len(row_cells)}")
        row = self.n % self.BLOCK
        try:
            for k, c in enumerate(self.feature_cols):
                self.block[row, k] = _number(self.name, line.number, c, row_cells[c], self.limit, self.dtype)
        except DataError:
            cell = row_cells[c].strip(BLANK)
            later = self.n if self.first is None else line.number != self.first
            if later or is_number(cell) or not cell or len(cell) > MAX_CELL or cell.lower().lstrip("+-") in NONFINITE:
                raise
            # text in a feature column of the first row: a column of ids or labels the layout did not place
            raise DataError(f"{self.name}:{line.number}:{c + 1}: expected a number; received {_short(cell)} (hint: if "
                            f"column {c + 1} holds row ids or labels, xmlp train names it: --id {c} or --target {c}, "
                            "counted from 0, or by its header name)") from None
        if self.label_col is not None:
            self.ys.append(self._label(line.number, row_cells[self.label_col].strip()))
        if self.id_col is not None:
            self.ids.append(row_cells[self.id_col].strip())
        if self.keep_lines:
            self.lines.append(line.text)
        self.numbers.append(line.number)
        self.n += 1
        if self.n % self.BLOCK == 0:
            self.blocks.append(self.block)
            self.block = np.empty_like(self.block)

    def _label(self, lineno: int, label: str) -> str:
        where = f"{self.name}:{lineno}:{(self.label_col or 0) + 1}"
        if not label:
            raise DataError(f"{where}: expected a label; received an empty cell")
        if len(label) > MAX_CELL:
            raise DataError(f"{where}: expected a label of at most {MAX_CELL} characters; received {len(label):,}")
        if self.allowed is not None and label not in self.allowed:
            shown = ", ".join(_short(c, 20).strip("'") for c in sorted(self.allowed)[:10])
            raise DataError(f"{where}: expected a label among {shown}; received {_short(label)}")
        return label

    def array(self) -> np.ndarray:
        return np.concatenate(self.blocks + [self.block[: self.n % self.BLOCK]])

    def labels(self) -> np.ndarray | None:
        return np.array(self.ys) if self.label_col is not None else None


NONFINITE = ("nan", "inf", "infinity")


def _number(name: str, lineno: int, col: int, cell: str, limit: float, dtype: str) -> float:
    text = cell.strip(BLANK)
    where = f"{name}:{lineno}:{col + 1}"
    if not text:
        raise DataError(f"{where}: expected a number; received an empty cell")
    if len(text) > MAX_CELL:
        raise DataError(f"{where}: expected a number of at most {MAX_CELL} characters; received {len(text):,}: "
                        f"{_short(text)}")
    if not NUMBER.fullmatch(text):
        if text.lower().lstrip("+-") in NONFINITE:
            raise DataError(f"{where}: expected a finite number; received {text!r}")
        hint = " (a CSV number has ASCII digits, a sign, a point and an exponent only)" if any(
            ch.isdigit() for ch in text) else ""
        raise DataError(f"{where}: expected a number; received {_short(text)}{hint}")
    value = float(text)
    if not abs(value) <= limit:
        raise DataError(
            f"{where}: expected a value that fits {dtype} (|x| <= {limit:.3g}); received {text!r}"
            + (" (hint: --dtype float64)" if dtype == "float32" else "")
        )
    return value


def rows_text(table: Table, rows: Sequence[int]) -> str:
    """Text of a file holding the header (if any) and the given rows, in the input's format."""
    parts = ([table.header] if table.header is not None else []) + [table.lines[i] for i in rows]
    return ("\ufeff" if table.bom else "") + table.newline.join(parts) + table.newline
