"""What a CSV data file is, before any value is converted: the cells of a line, what counts as
a number, and the layout its first rows decide (header or not, which column holds the id, the
label, each feature — by name when a header and the model both name them).

Layouts understood (decided from the file itself, never guessed per row):

- no header, the subject's ``id, label, f1 … fn`` (``id, f1 … fn`` for unlabeled files: the
  second column of the first row is then a number);
- a header line (no cell of the first line is a number) naming an ``id`` column and a label
  column (``diagnosis``, ``label``, ``class``, ``target`` or ``y``); every other column is a
  feature.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence, cast

from ...errors import DataError
from ...errors import short_repr as _short
from ..textlines import Line

LABEL_NAMES = ("diagnosis", "label", "class", "target", "y")
ID_NAMES = ("id",)

# A CSV number: ASCII digits, an optional sign, point and exponent — not Python's float() rules
# (no "1_000", no digits of other scripts, no "infinity"/"nan", no surrounding text).
# Unambiguous (no two ways to match the same digits), so a failed match is linear in the cell.
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
MAX_CELL = 100  # characters of a number or a label
BLANK = " \t"  # the only padding around a cell (Unicode spaces and control characters are not)


def is_number(text: str) -> bool:
    return NUMBER.fullmatch(text.strip(BLANK)) is not None


def cells(name: str, line: Line) -> list[str]:
    try:
        return next(csv.reader([line.text]))
    except (csv.Error, StopIteration) as exc:
        raise DataError(f"{name}:{line.number}: expected CSV fields; received a malformed line (an unbalanced quote, "
                        f"a carriage return or a NUL inside a field: {str(exc)[:60]})") from None


@dataclass
class Layout:
    """What the first rows of a file decide: its header (if any), its width, which column holds
    what, and the first data row (``first``)."""

    header_line: str | None
    header: list[str] | None
    width: int
    id_col: int | None
    label_col: int | None
    feature_cols: list[int]  # read as numbers, in this order: the features, the numeric targets, the weights
    first: Line
    weight_col: int | None = None  # the column of row weights (``--sample-weight``): the last one read
    target_cols: list[int] = field(default_factory=list)  # numeric targets (several, or multi-label), read as numbers

    @property
    def features(self) -> list[int]:
        return self.feature_cols[: len(self.feature_cols) - len(self.target_cols) - (self.weight_col is not None)]

    @property
    def names(self) -> list[str] | None:
        return [self.header[c] for c in self.features] if self.header else None

    def describe(self) -> str:
        """Which columns became the id, the label and the features, in one line (files with a
        header: the names decided it; without one the subject's layout, by position, did)."""
        def col(c: int) -> str:
            if self.header is None:
                return f"column {c + 1}"
            return f"{self.header[c]!r} (column {c + 1})" if self.header[c] else \
                f"column {c + 1} (unnamed: a row index, as pandas' to_csv writes it)"

        parts = [f"id {col(self.id_col)}" if self.id_col is not None else "no id column",
                 f"label {col(self.label_col)}" if self.label_col is not None else "no label column"]
        if self.target_cols:
            parts[1] = f"targets {', '.join(col(c) for c in self.target_cols)}"
        if self.weight_col is not None:
            parts.append(f"weight {col(self.weight_col)}")
        names, features = self.names, self.features
        shown = ", ".join(repr(n) for n in names[:3]) + (", …" if len(names) > 3 else "") if names else \
            f"columns {features[0] + 1}–{features[-1] + 1}"
        parts.append(f"{len(features)} features ({shown})")
        return ", ".join(parts)


def head(name: str, rows: Iterator[Line], n_features: int | None, labels: str,
         feature_names: Sequence[str] | None, label_name: str | int | Sequence[str | int] | None = None,
         id_name: str | int | None = None, weight_name: str | int | None = None) -> Layout:
    """The layout, from the non-blank ``rows`` of a file (consumed up to its first data row).
    ``label_name`` a list: numeric target columns (several outputs, or multi-label indicators),
    read as numbers after the features."""
    first = next(rows, None)
    if first is None:
        raise DataError(f"{name}: expected CSV rows; received an empty file")
    header_line, header = None, None
    first_cells = cells(name, first)
    if not any(is_number(c) for c in first_cells):
        header_line, header = first.text, [c.strip() for c in first_cells]
        first = next(rows, None)
        if first is None:
            raise DataError(f"{name}: expected data rows after the header line; received none")
    width = len(header) if header else len(cells(name, first))
    if isinstance(label_name, (list, tuple)):
        (id_col, targets), label_col = _targets(name, header, width, list(label_name), labels, id_name), None
    else:
        one = cast("str | int | None", label_name)  # not a list: one column, or None
        (id_col, label_col), targets = _layout(name, header, (first.number, first.text), width, n_features, labels,
                                               one, id_name), []
    weight_col = None if weight_name is None else _column(name, header, width, weight_name, "--sample-weight",
                                                          labels == "required")
    if weight_col is not None and weight_col in (id_col, label_col, *targets):
        raise DataError(f"{name}:1: expected --sample-weight to name a column of its own; received column "
                        f"{weight_col + 1}, the {'id' if weight_col == id_col else 'label'}")
    if (targets and labels == "optional" and header is None and n_features is not None
            and width < n_features + len(targets) + (id_col is not None) + (weight_col is not None)):
        targets = []  # a file to predict on, without its target columns
    feature_cols = _feature_columns(name, header, first.number, width, (id_col, label_col, weight_col, *targets),
                                    n_features, feature_names)
    read = feature_cols + targets + ([weight_col] if weight_col is not None else [])  # read last, split off
    return Layout(header_line, header, width, id_col, label_col, read, first, weight_col, targets)


def _targets(name: str, header: list[str] | None, width: int, given: list[str | int], labels: str,
             id_name: str | int | None) -> tuple[int | None, list[int]]:
    """(id column, numeric target columns) of ``--target A B …``: all present, distinct, not the id;
    none where a file to predict on lacks one (``labels`` "optional") or with ``labels`` "forbidden"."""
    required = labels == "required"
    found = [_column(name, header, width, g, "--target", required) for g in given]
    cols = [c for c in found if c is not None]
    for c in cols:
        if cols.count(c) > 1:
            raise DataError(f"{name}:1: expected distinct --target columns; received column {c + 1} twice")
    id_col = _column(name, header, width, id_name, "--id", required) if id_name is not None else _usual_id(header, cols)
    if id_col is not None and id_col in cols:
        raise DataError(f"{name}:1: expected --id and --target to name different columns; received column "
                        f"{id_col + 1} for both")
    return id_col, (cols if len(cols) == len(given) and labels != "forbidden" else [])


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


def _column(name: str, header: list[str] | None, width: int, given: str | int, option: str,
            required: bool) -> int | None:
    """The column ``given`` names (``--target``/``--id``): a header name or a 0-based index; None
    where it is absent and not ``required`` (a file to predict on may lack the target)."""
    if isinstance(given, int):
        if 0 <= given < width:
            return given
        if not required:
            return None
        raise DataError(f"{name}:1: expected {option} to be a 0-based column index below {width} (the file's "
                        f"fields); received {given}")
    if not header or given not in header:
        if not required:
            return None
        shown = ", ".join(map(repr, header[:6])) + (", …" if header and len(header) > 6 else "") if header else ""
        raise DataError(f"{name}:1: expected a column named {_short(given)} ({option}); received "
                        + (f"a header without it ({shown})" if header else
                           f"a file without a header line (hint: {option} N names column N, counted from 0)"))
    if header.count(given) > 1:
        raise DataError(f"{name}:1: expected one column named {_short(given)} ({option}); received "
                        f"{header.count(given)}, in columns {', '.join(str(i + 1) for i, h in enumerate(header) if h == given)}")
    return header.index(given)


def _usual_id(header: list[str] | None, taken: list[int]) -> int | None:
    """The id column when none is named, never one of ``taken`` (the label or targets): a header
    column named id, else pandas' unnamed first column; without a header, the subject's first."""
    if not header:
        return 0 if 0 not in taken else None
    lowered = [h.lower() for h in header]
    named = next((i for i, h in enumerate(lowered) if h in ID_NAMES and i not in taken), None)
    if named is None and lowered[0] == "" and 0 not in taken:
        # pandas' DataFrame.to_csv(path) writes the row index first, under an empty name: a
        # feature counting 0, 1, 2, … would leak the row order (label order, on sorted files).
        return 0
    return named


def _layout(name: str, header: list[str] | None, first: tuple[int, str], width: int, n_features: int | None,
            labels: str, label_name: str | int | None = None,
            id_name: str | int | None = None) -> tuple[int | None, int | None]:
    """(id column or None, label column or None). ``label_name`` / ``id_name``: the columns that
    hold the labels or targets (``xmlp train --target``) and the row ids (``--id``), by header name
    or 0-based index, instead of the usual names and places."""
    lineno, line = first
    if label_name is not None or id_name is not None:
        id_col = None if id_name is None else _column(name, header, width, id_name, "--id", labels == "required")
        if label_name is None:
            label_col = _layout(name, header, first, width, n_features, labels)[1]  # the usual label column
        else:
            label_col = _column(name, header, width, label_name, "--target", labels == "required")
        if label_col is not None and label_col == id_col:
            raise DataError(f"{name}:1: expected --id and --target to name different columns; received column "
                            f"{label_col + 1} for both")
        if id_name is None:
            id_col = _usual_id(header, [] if label_col is None else [label_col])
        if (labels == "optional" and header is None and n_features is not None and label_col is not None
                and width == n_features + (id_col is not None)):  # a file to predict on, without its target column
            label_col = None
        return id_col, (None if labels == "forbidden" else label_col)
    if header:
        lowered = [h.lower() for h in header]
        id_col = _usual_id(header, [])
        label_col = next((i for i, h in enumerate(lowered) if h in LABEL_NAMES), None)
    else:
        cells = next(csv.reader([line]))
        if width < 2:
            raise DataError(f"{name}:{lineno}: expected an id and features (id, label, features…); received {width} field")
        id_col = 0
        has_label = not is_number(cells[1]) or (n_features is not None and width == n_features + 2)
        label_col = 1 if has_label else None
    if labels == "required" and label_col is None:
        where = "a header column named " + "/".join(LABEL_NAMES) if header else "column 2 (id, label, features…)"
        raise DataError(f"{name}:{lineno}: expected class labels in {where}; received none")
    if labels == "forbidden":
        label_col = None
    return id_col, label_col
