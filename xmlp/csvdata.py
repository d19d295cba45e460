"""Strict CSV reading and writing for the 42 layout (and friends), on the host.

Layouts understood (decided from the file itself, never guessed per row):

- no header, the subject's ``id, label, f1 … fn`` (``id, f1 … fn`` for unlabeled files: the
  second column of the first row is then a number);
- a header line (no cell of the first line is a number) naming an ``id`` column and a label
  column (``diagnosis``, ``label``, ``class``, ``target`` or ``y``); every other column is a
  feature.

UTF-8 (with or without a byte-order mark), LF or CRLF line endings, and blank lines are accepted.
Every problem is reported as ``FILE:LINE[:COLUMN]: expected …; received …``.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .errors import DataError, short_repr as _short
from .shards import part_rows
from .textlines import Line, open_input, read_lines, sniff

LABEL_NAMES = ("diagnosis", "label", "class", "target", "y")
ID_NAMES = ("id",)


@dataclass
class Table:
    """A parsed data file. ``lines`` keeps each data row's original text for exact rewriting."""

    path: str
    x: np.ndarray
    labels: np.ndarray | None
    ids: list[str] | None
    feature_names: list[str] | None  # None: a file without a header (features by position)
    line_numbers: list[int] = field(repr=False)  # each row's line in the file
    lines: list[str] = field(repr=False)  # each row's text, when read with keep_lines
    header: str | None = None
    newline: str = "\n"
    bom: bool = False

    @property
    def n_rows(self) -> int:
        return int(self.x.shape[0])

    @property
    def y(self) -> np.ndarray:
        """The labels of a file read with ``labels="required"``."""
        if self.labels is None:
            raise DataError(f"{self.path}: expected class labels; received none")
        return self.labels


# A CSV number: ASCII digits, an optional sign, point and exponent — not Python's float() rules
# (no "1_000", no digits of other scripts, no "infinity"/"nan", no surrounding text).
# Unambiguous (no two ways to match the same digits), so a failed match is linear in the cell.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_CELL = 100  # characters of a number or a label
_BLANK = " \t"  # the only padding around a cell (Unicode spaces and control characters are not)


def _is_number(text: str) -> bool:
    return _NUMBER.fullmatch(text.strip(_BLANK)) is not None


def _cells(name: str, line: Line) -> list[str]:
    try:
        return next(csv.reader([line.text]))
    except (csv.Error, StopIteration) as exc:
        raise DataError(f"{name}:{line.number}: expected CSV fields; received a malformed line (an unbalanced quote, "
                        f"a carriage return or a NUL inside a field: {str(exc)[:60]})") from None


def read_table(
    path: str | os.PathLike[str],
    *,
    n_features: int | None = None,
    labels: str = "required",
    classes: Sequence[str] | None = None,
    dtype: str = "float64",
    feature_names: Sequence[str] | None = None,
    keep_lines: bool = False,
    part: tuple[int, int] | None = None,
) -> Table:
    """Parse ``path`` as a stream. ``labels``: "required", "optional" or "forbidden"; ``classes``:
    the only labels allowed (a model's); ``n_features``: the width to expect (a model's);
    ``feature_names``: a model's feature names — a file with a header is then read by column name
    (in any order); values must fit ``dtype``. ``keep_lines`` keeps each row's text (for split).
    ``part`` = (k, of): parse only the k-th of ``of`` contiguous parts of the data rows (a
    process's shard; the layout is still decided from the file's first rows)."""
    name = str(path)
    with open_input(path) as fh:
        bom, newline = sniff(fh)
        rows = (line for line in read_lines(fh, name) if line.text.strip())
        first = next(rows, None)
        if first is None:
            raise DataError(f"{name}: expected CSV rows; received an empty file")
        header_line, header = None, None
        first_cells = _cells(name, first)
        if not any(_is_number(c) for c in first_cells):
            header_line, header = first.text, [c.strip() for c in first_cells]
            first = next(rows, None)
            if first is None:
                raise DataError(f"{name}: expected data rows after the header line; received none")
        width = len(header) if header else len(_cells(name, first))
        id_col, label_col = _layout(name, header, (first.number, first.text), width, n_features, labels)
        feature_cols = _feature_columns(name, header, first.number, width, (id_col, label_col), n_features, feature_names)
        reader = _RowReader(name, feature_cols, label_col, id_col, width, dtype, classes, keep_lines)
        lo, hi = part_rows(path, name, header is not None, part)
        for i, line in enumerate(itertools.chain([first], rows)):
            if lo <= i < hi:
                reader.add(line)
    names = [header[c] for c in feature_cols] if header else None
    return Table(path=name, x=reader.array(), labels=reader.labels(), ids=reader.ids if id_col is not None else None,
                 feature_names=names, line_numbers=reader.numbers, lines=reader.lines, header=header_line, newline=newline, bom=bom)


def _feature_columns(name: str, header: list[str] | None, lineno: int, width: int, special: tuple[int | None, ...],
                     n_features: int | None, wanted: Sequence[str] | None) -> list[int]:
    """The columns holding the features, in the model's order: by name where both the file and
    the model name them, else by position (with the count checked)."""
    columns = [c for c in range(width) if c not in special]
    if not columns:
        raise DataError(f"{name}:{lineno}: expected at least one feature column; received {width} fields")
    if header is not None and wanted is not None:
        position = {}
        for c in columns:
            if header[c] in position:
                raise DataError(f"{name}:1:{c + 1}: expected distinct column names; received {_short(header[c])} twice")
            position[header[c]] = c
        missing = [n for n in wanted if n not in position]
        if missing:
            raise DataError(f"{name}:1: expected a column named {_short(missing[0])} (a feature of the model); "
                            f"received a header without it" + (f" ({len(missing)} missing)" if len(missing) > 1 else ""))
        unknown = [header[c] for c in columns if header[c] not in set(wanted)]
        if unknown:
            raise DataError(f"{name}:1: expected only the model's {len(wanted)} features; received unknown column "
                            f"{_short(unknown[0])}")
        return [position[n] for n in wanted]
    if n_features is not None and len(columns) != n_features:
        raise DataError(f"{name}:{lineno}: expected {n_features} features (as the model was trained); "
                        f"received {len(columns)}")
    return columns


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

    def add(self, line: Line) -> None:
        cells = _cells(self.name, line)
        if len(cells) != self.width:
            raise DataError(f"{self.name}:{line.number}: expected {self.width} fields; received {len(cells)}")
        row = self.n % self.BLOCK
        for k, c in enumerate(self.feature_cols):
            self.block[row, k] = _number(self.name, line.number, c, cells[c], self.limit, self.dtype)
        if self.label_col is not None:
            self.ys.append(self._label(line.number, cells[self.label_col].strip()))
        if self.id_col is not None:
            self.ids.append(cells[self.id_col].strip())
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


def _layout(name: str, header: list[str] | None, first: tuple[int, str], width: int, n_features: int | None,
            labels: str) -> tuple[int | None, int | None]:
    """(id column or None, label column or None)."""
    lineno, line = first
    if header:
        lowered = [h.lower() for h in header]
        id_col = next((i for i, h in enumerate(lowered) if h in ID_NAMES), None)
        label_col = next((i for i, h in enumerate(lowered) if h in LABEL_NAMES), None)
    else:
        cells = next(csv.reader([line]))
        if width < 2:
            raise DataError(f"{name}:{lineno}: expected an id and features (id, label, features…); received {width} field")
        id_col = 0
        has_label = not _is_number(cells[1]) or (n_features is not None and width == n_features + 2)
        label_col = 1 if has_label else None
    if labels == "required" and label_col is None:
        where = "a header column named " + "/".join(LABEL_NAMES) if header else "column 2 (id, label, features…)"
        raise DataError(f"{name}:{lineno}: expected class labels in {where}; received none")
    if labels == "forbidden":
        label_col = None
    return id_col, label_col


def _number(name: str, lineno: int, col: int, cell: str, limit: float, dtype: str) -> float:
    text = cell.strip(_BLANK)
    where = f"{name}:{lineno}:{col + 1}"
    if not text:
        raise DataError(f"{where}: expected a number; received an empty cell")
    if len(text) > MAX_CELL:
        raise DataError(f"{where}: expected a number of at most {MAX_CELL} characters; received {len(text):,}: "
                        f"{_short(text)}")
    if not _NUMBER.fullmatch(text):
        if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
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
