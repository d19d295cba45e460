"""Bulk conversion of a block of CSV text — polars when it is installed (the ``fast`` extra), else
NumPy's C ``loadtxt`` — and the checks that prove its result is the exact reader's (``exact``):
a block is taken from the bulk parser only when nothing in it could be read differently —

- its bytes: no NUL or other control character but tab and line ends, no ``\\r`` but before
  ``\\n``, no byte-order mark, no field over ``MAX_CELL`` bytes (so no line over the line limit),
  and (NumPy) only ASCII and no quotes; (polars) quotes only around whole fields;
- its result: one row per line (so no blank line, no quoted line end), every field present,
  every value finite and within the dtype's range, every label non-empty, at most ``MAX_CELL``
  characters, quote-free and among the allowed classes.

Anything else returns None: the caller hands the block to the exact reader. The two parsers agree
with Python's ``float`` on every number the rules accept (both round correctly;
``tests/data/test_csv_fast.py`` compares them with the exact reader on random cells).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...errors import UnavailableError, UsageError
from ..textlines import MAX_LINE
from .layout import MAX_CELL, Layout

ENGINES = ("polars", "numpy", "exact")
_MID_QUOTE = re.compile(rb'[^,\n]"[^,\r\n]')  # a quote inside a field (the csv module keeps it, polars may not)
_BOM = b"\xef\xbb\xbf"


def engine(name: str | None = None) -> str:
    """The bulk parser: ``name``, else ``$XMLP_CSV_ENGINE``, else polars when installed, else numpy."""
    where = "engine" if name else "XMLP_CSV_ENGINE"
    name = name or os.environ.get("XMLP_CSV_ENGINE") or None
    if name is not None:
        if name not in ENGINES:
            raise UsageError(f"{where}: expected one of {', '.join(ENGINES)}; received {name!r}")
        if name == "polars" and importlib.util.find_spec("polars") is None:
            raise UnavailableError(f"{where}: expected an installed polars for the 'polars' CSV engine; received "
                                   "none installed (hint: pip install 'xmlp[fast]', or choose numpy)")
        return name
    try:
        import polars  # noqa: F401
    except ImportError:
        return "numpy"
    return "polars"


@dataclass
class Block:
    """Consecutive data rows: features (float64), labels as indices into ``classes`` (stripped
    strings; None without a label column), ids (kept on request) and each row's line number."""

    x: np.ndarray
    codes: np.ndarray | None
    classes: list[str]
    ids: np.ndarray | None
    lines: np.ndarray

    @property
    def labels(self) -> np.ndarray | None:
        return None if self.codes is None else np.array(self.classes)[self.codes]


@dataclass(frozen=True)
class Spec:
    """What a block is converted against: the file's layout, the parser, the largest magnitude
    (the dtype's), the allowed labels (None: any), whether ids are kept."""

    layout: Layout
    engine: str
    limit: float
    allowed: set[str] | None
    keep_ids: bool


def convert(chunk: bytes, line0: int, spec: Spec) -> Block | None:
    """The block converted by the bulk parser, or None where it cannot vouch for the result."""
    lay, arr = spec.layout, np.frombuffer(chunk, dtype=np.uint8)
    # the control bytes (about one a row), counted by kind: one vectorised pass over the block
    # (bytes.count per kind and a BOM search were ~6 ms of each 4 MiB block)
    control = arr[np.flatnonzero(arr < 32)]
    newlines, returns = int(np.count_nonzero(control == 10)), int(np.count_nonzero(control == 13))
    tabs = int(np.count_nonzero(control == 9))
    if ((returns and returns != chunk.count(b"\r\n")) or newlines + returns + tabs != len(control)
            or (np.count_nonzero(arr == _BOM[0]) and _BOM in chunk)):
        return None
    if not _cells_short(arr):
        return None
    if lay.width * (MAX_CELL + 1) > MAX_LINE:  # lines too wide for the field limit to bound them
        stops = np.flatnonzero(arr == 10)
        last = int(stops[-1]) if len(stops) else -1  # (a block of one line, over the limit, has no newline)
        if (len(stops) and np.diff(stops, prepend=-1).max() > MAX_LINE + 1) or len(arr) - last > MAX_LINE + 1:
            return None
    n_lines = newlines + (not chunk.endswith(b"\n"))
    parsed = (_polars if spec.engine == "polars" else _numpy)(chunk, arr, n_lines, spec)
    if parsed is None:
        return None
    x, labels, ids = parsed
    if len(x) != n_lines or (x.size and not np.abs(x).max() <= spec.limit):  # NaN fails too
        return None
    codes, classes = None, []
    if labels is not None:
        uniques, codes = labels
        classes = [u.strip() for u in uniques]
        if len(set(classes)) != len(classes):  # " M" and "M": one class
            merged = sorted(set(classes))
            codes = np.array([merged.index(c) for c in classes], dtype=np.int64)[codes]
            classes = merged
        if any(not c or len(c) > MAX_CELL or '"' in c or (spec.allowed is not None and c not in spec.allowed)
               for c in classes):
            return None
    if ids is not None:
        ids = np.char.strip(ids)  # the exact reader strips ids with str.strip too
        if np.char.find(ids, '"').max(initial=-1) >= 0:
            return None
    return Block(x, codes, classes, ids, np.arange(line0, line0 + n_lines, dtype=np.int64))


_GROUP = 32  # bytes: a run of 2 * 32 - 1 <= MAX_CELL + 1 bytes or more holds a whole aligned group


def _cells_short(arr: np.ndarray) -> bool:
    """Every field (the bytes between commas and newlines) of at most ``MAX_CELL`` bytes. First a
    screen: a field over ``MAX_CELL`` bytes holds an aligned 32-byte group with no separator, so
    where every group has one (8-byte words of the separator mask OR-ed by fours), no field is
    too long — 1.5 ms instead of 7 ms a 4 MiB block; else the exact run lengths."""
    n = len(arr) // _GROUP * _GROUP if 2 * _GROUP - 1 <= MAX_CELL + 1 else 0  # (else: no screen)
    sep = arr == 44
    sep |= arr == 10
    words = sep[:n].view(np.uint64).reshape(-1, _GROUP // 8)
    if n and bool(((words[:, 0] | words[:, 1]) | (words[:, 2] | words[:, 3])).all()):
        return True
    ends = np.flatnonzero(sep)
    return bool(len(ends)) and not (ends[0] > MAX_CELL or np.diff(ends).max(initial=0) > MAX_CELL + 1
                                    or len(arr) - ends[-1] > MAX_CELL + 1)


def _polars(chunk: bytes, arr: np.ndarray, n_lines: int, spec: Spec) -> tuple[Any, Any, Any] | None:
    import polars as pl

    if b'"' in chunk and _MID_QUOTE.search(chunk):
        return None
    lay, features = spec.layout, set(spec.layout.feature_cols)
    schema = {f"c{k}": pl.Float64 if k in features else pl.String for k in range(lay.width)}
    try:
        df = pl.read_csv(io.BytesIO(chunk), has_header=False, schema=schema, quote_char='"', eol_char="\n",
                         comment_prefix=None, infer_schema=False, truncate_ragged_lines=False,
                         raise_if_empty=False)
    except pl.exceptions.PolarsError:  # whatever it refuses, the exact reader explains (API misuse raises)
        return None
    if df.height != n_lines or sum(df.null_count().row(0)):
        return None
    x = df.select([f"c{k}" for k in lay.feature_cols]).to_numpy().astype(np.float64, copy=False)
    labels = None
    if lay.label_col is not None:
        col = df[f"c{lay.label_col}"]
        uniques = col.unique().to_list()
        labels = uniques, col.cast(pl.Enum(uniques)).to_physical().to_numpy().astype(np.int64)
    ids = df[f"c{lay.id_col}"].to_numpy().astype(str) if spec.keep_ids and lay.id_col is not None else None
    return x, labels, ids

def _numpy(chunk: bytes, arr: np.ndarray, n_lines: int, spec: Spec) -> tuple[Any, Any, Any] | None:
    lay = spec.layout
    if b'"' in chunk or np.count_nonzero(arr >= 128):  # loadtxt strips Unicode spaces, and has no CSV quoting
        return None
    stops = np.flatnonzero(arr == 10)
    commas = np.flatnonzero(arr == 44)
    per_line = np.diff(np.searchsorted(commas, np.append(stops, len(arr))), prepend=0)[:n_lines]
    if len(per_line) != n_lines or (per_line != lay.width - 1).any():
        return None

    def load(cols: Sequence[int], dtype: Any) -> np.ndarray:
        out: np.ndarray = np.loadtxt(io.BytesIO(chunk), delimiter=",", usecols=cols, dtype=dtype, comments=None,
                                     quotechar=None, ndmin=2, encoding="utf-8")
        return out

    try:
        x = load(lay.feature_cols, np.float64)
        labels = None
        if lay.label_col is not None:
            uniques, codes = np.unique(load([lay.label_col], str)[:, 0], return_inverse=True)
            labels = uniques.tolist(), codes.astype(np.int64)
        ids = load([lay.id_col], str)[:, 0] if spec.keep_ids and lay.id_col is not None else None
    except ValueError:
        return None
    return x, labels, ids
