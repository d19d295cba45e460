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
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import DataError, NoInputError

LABEL_NAMES = ("diagnosis", "label", "class", "target", "y")
ID_NAMES = ("id",)


@dataclass
class Table:
    """A parsed data file. ``lines`` keeps each data row's original text for exact rewriting."""

    path: str
    x: np.ndarray
    labels: np.ndarray | None
    ids: list[str] | None
    feature_names: list[str]
    lines: list[str] = field(repr=False)
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


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(
    path: str | os.PathLike[str],
    *,
    n_features: int | None = None,
    labels: str = "required",
    classes: Sequence[str] | None = None,
    dtype: str = "float64",
    part: tuple[int, int] | None = None,
) -> Table:
    """Parse ``path``. ``labels``: "required", "optional" or "forbidden"; ``classes``: the only
    labels allowed (a model's); ``n_features``: the width to expect (a model's); values must fit
    ``dtype``. ``part`` = (k, of): keep (and parse) only the k-th of ``of`` contiguous parts of
    the data rows (a process's shard; the layout is still decided from the file's first rows)."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise NoInputError(f"{name}: expected an existing file; received a path that does not exist")
    if p.is_dir():
        raise NoInputError(f"{name}: expected a file; received a directory")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise NoInputError(f"{name}: cannot read: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: expected UTF-8 text; received a byte 0x{raw[exc.start]:02x} at offset {exc.start}") from exc
    bom = text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    newline = "\r\n" if "\r\n" in text else "\n"
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not numbered:
        raise DataError(f"{name}: expected CSV rows; received an empty file")

    header_line, header = None, None
    first_cells = next(csv.reader([numbered[0][1]]))
    if not any(_is_number(c) for c in first_cells):
        header_line, header = numbered[0][1], [c.strip() for c in first_cells]
        numbered = numbered[1:]
        if not numbered:
            raise DataError(f"{name}: expected data rows after the header line; received none")

    width = len(header) if header else len(next(csv.reader([numbered[0][1]])))
    id_col, label_col = _layout(name, header, numbered[0], width, n_features, labels)
    if part is not None:
        k, of = part
        numbered = numbered[len(numbered) * k // of : len(numbered) * (k + 1) // of]
        if not numbered:
            raise DataError(f"{name}: expected data rows in part {k + 1} of {of}; received none "
                            "(fewer rows than processes)")
    feature_cols = [c for c in range(width) if c not in (id_col, label_col)]
    if not feature_cols:
        raise DataError(f"{name}:{numbered[0][0]}: expected at least one feature column; received {width} fields")
    if n_features is not None and len(feature_cols) != n_features:
        raise DataError(
            f"{name}:{numbered[0][0]}: expected {n_features} features (as the model was trained); "
            f"received {len(feature_cols)}"
        )
    names = [header[c] for c in feature_cols] if header else [f"feature_{k}" for k in range(len(feature_cols))]
    limit = float(np.finfo(dtype).max)
    allowed = None if classes is None else {str(c) for c in classes}

    x = np.empty((len(numbered), len(feature_cols)), dtype=np.float64)
    ys: list[str] = []
    ids: list[str] = []
    for r, (lineno, line) in enumerate(numbered):
        cells = next(csv.reader([line]))
        if len(cells) != width:
            raise DataError(f"{name}:{lineno}: expected {width} fields; received {len(cells)}")
        for k, c in enumerate(feature_cols):
            x[r, k] = _number(name, lineno, c, cells[c], limit, dtype)
        if label_col is not None:
            label = cells[label_col].strip()
            if not label:
                raise DataError(f"{name}:{lineno}:{label_col + 1}: expected a label; received an empty cell")
            if allowed is not None and label not in allowed:
                raise DataError(
                    f"{name}:{lineno}:{label_col + 1}: expected a label among {', '.join(sorted(allowed))}; "
                    f"received {label!r}"
                )
            ys.append(label)
        if id_col is not None:
            ids.append(cells[id_col].strip())
    return Table(
        path=name,
        x=x,
        labels=np.array(ys) if label_col is not None else None,
        ids=ids if id_col is not None else None,
        feature_names=names,
        lines=[line for _, line in numbered],
        header=header_line,
        newline=newline,
        bom=bom,
    )


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
    text = cell.strip()
    where = f"{name}:{lineno}:{col + 1}"
    if not text:
        raise DataError(f"{where}: expected a number; received an empty cell")
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: expected a number; received {text!r}") from None
    if math.isnan(value) or (math.isinf(value) and "inf" in text.lower()):
        raise DataError(f"{where}: expected a finite number; received {text!r}")
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
