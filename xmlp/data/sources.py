"""Data sources read in chunks: training data larger than memory.

A source is a sequence of chunks of rows — ``Chunk(x, labels, first_row, lines, weights)`` — that
can be read again every epoch, and (where the source allows) in any order: ``read(k)`` reads chunk k.
``labels`` are a classification's labels (1-D, or one-hot rows), a regression's targets (1-D for one
output, (rows, outputs) for several) or a multi-label model's 0/1 indicator matrix: the task of the
model that trains on the source decides what they mean (``scan``); ``weights`` are the rows' sample
weights, or None.
``npy.NpySource`` memory-maps a ``.npy`` file; ``csv.source.CsvSource`` reads a CSV file in row ranges
with the strict reader (FILE:LINE:COLUMN errors); ``parquet.ParquetSource`` reads a Parquet file's row
groups (pyarrow, the ``parquet`` extra); ``ChunkList`` wraps a list of ``(x, y)`` chunks, or a
function returning a fresh iterator of them (read in its own order); ``split.Split`` is one side of
a seeded random split of another source.

A file that changes while it is streamed is an error, never a silent short epoch: ``check``
compares the file's size, modification time and inode with those seen when it was opened
(the training checks before and after every epoch), and a chunk that reads fewer rows than the
first pass counted is refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..errors import DataError, NoInputError

#: rows per chunk of a source, and per device piece of a feed (rounded down to whole batches)
DEFAULT_CHUNK_ROWS = 65536


@dataclass
class Chunk:
    """Rows ``first_row …`` of a source: features (2-D float), their labels or targets (one row
    each: 1-D, or 2-D for one-hot rows, several targets or labels), for a text file each row's
    line number (errors name FILE:LINE:COLUMN), and the rows' sample weights (or None)."""

    x: np.ndarray
    labels: np.ndarray
    first_row: int
    lines: Sequence[int] | np.ndarray | None = None
    weights: np.ndarray | None = None

    def take(self, keep: np.ndarray) -> "Chunk":
        """The rows where the boolean mask ``keep`` is true (line numbers and weights with them)."""
        lines = None if self.lines is None else np.asarray(self.lines)[keep]
        return Chunk(self.x[keep], self.labels[keep], self.first_row, lines,
                     None if self.weights is None else self.weights[keep])


class Source:
    """A data set read in chunks. Subclasses set ``name``, ``n_features``, ``feature_names``,
    ``n_chunks`` (known after ``open``) and implement ``read``; ``reorderable`` is False for a
    source that can only be read in its own order."""

    name = "source"
    n_features = 0
    feature_names: list[str] | None = None
    n_chunks = 0
    n_rows: int | None = None  # known after the first pass (``models.fit_data.first_pass``), with:
    classes: list[Any] = []
    class_counts: list[int] = []
    reorderable = True
    _stamp: tuple[int, int, int] | None = None

    @property
    def shape(self) -> tuple[int | None, int]:
        return self.n_rows, self.n_features

    def read(self, k: int) -> Chunk:
        raise NotImplementedError

    def chunks(self, order: Iterable[int] | None = None) -> Iterator[Chunk]:
        """The chunks in ``order`` (default: the file's)."""
        for k in range(self.n_chunks) if order is None else order:
            yield self.read(k)

    def _watch(self, path: str) -> None:
        st = os.stat(path)
        self._stamp = (st.st_size, st.st_mtime_ns, st.st_ino)

    def check(self, when: str) -> None:
        """Refuse a file that changed since it was opened (``when``: "during epoch 3"…)."""
        if self._stamp is None:
            return
        try:
            st = os.stat(self.name)
        except OSError as exc:
            raise NoInputError(f"{self.name}: expected the streamed file to stay in place; received "
                               f"{exc.strerror} {when}") from None
        now = (st.st_size, st.st_mtime_ns, st.st_ino)
        if now != self._stamp:
            what = "its size" if now[0] != self._stamp[0] else "its modification time" if now[1] != self._stamp[1] \
                else "a new file under its name"
            raise DataError(f"{self.name}: expected the file to stay unchanged while it is streamed; received "
                            f"{what} changed {when} ({self._stamp[0]:,} -> {now[0]:,} bytes)")


def _short_chunk(name: str, k: int, expected: int, received: int) -> DataError:
    return DataError(f"{name}: expected {expected:,} rows in chunk {k + 1} (as counted when it was opened); received "
                     f"{received:,} (the file was truncated or changed while it was streamed)")


def _chunk_ranges(n: int, chunk_rows: int) -> list[tuple[int, int]]:
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"expected chunk_rows to be an integer >= 1; received {chunk_rows!r}")
    return [(s, min(s + chunk_rows, n)) for s in range(0, n, chunk_rows)]


class ChunkList(Source):
    """In-memory chunks: a list of ``(x, y)`` pairs or ``(x, y, sample_weight)`` triples (read in
    any order), or a function that returns a fresh iterator of them each time it is called (read
    in its own order). ``y``: labels, one-hot rows, regression targets or 0/1 label columns."""

    def __init__(self, chunks: Sequence[tuple[Any, ...]] | Callable[[], Iterable[tuple[Any, ...]]], *,
                 feature_names: Sequence[str] | None = None, name: str = "chunks"):
        if isinstance(chunks, Iterator) or not (callable(chunks) or isinstance(chunks, Sequence)):
            raise TypeError(f"expected a list of (x, y) chunks, or a function returning an iterator of them; received "
                            f"{type(chunks).__name__} (an iterator can be read only once; training reads every epoch)")
        self.name, self._items = name, chunks
        self.reorderable = isinstance(chunks, Sequence)
        self.feature_names = list(feature_names) if feature_names is not None else None
        first = next(iter(self._pairs()), None)
        if first is None:
            raise ValueError("expected at least one (x, y) chunk; received none")
        self.n_features = self._checked(0, first, 0).x.shape[1]
        if isinstance(chunks, Sequence):
            self.n_chunks = len(chunks)
            self._starts = [0]
            for k, pair in enumerate(chunks):
                self._starts.append(self._starts[-1] + len(self._checked(k, pair, self._starts[-1]).labels))

    def _pairs(self) -> Iterable[Any]:
        return self._items() if callable(self._items) else self._items

    def _checked(self, k: int, pair: Any, row: int) -> Chunk:
        from .preprocessing import as_features

        if not (isinstance(pair, tuple) and len(pair) in (2, 3)):
            raise ValueError(f"expected chunk {k + 1} to be an (x, y) pair or an (x, y, sample_weight) triple; "
                             f"received {type(pair).__name__}" + (f" of {len(pair)}" if isinstance(pair, tuple) else ""))
        try:
            x = as_features(pair[0], self.n_features or None)
        except ValueError as exc:
            raise ValueError(f"{exc} of chunk {k + 1}" + (f" (row {row} of the data)" if row else "")) from None
        y = np.asarray(pair[1])  # as given: (n, 1) is a column of labels to a classifier, one target to a regression
        if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
            raise ValueError(f"expected {x.shape[0]} labels in chunk {k + 1} (one per row); received shape {y.shape}")
        w = None
        if len(pair) == 3 and pair[2] is not None:
            w = np.asarray(pair[2], dtype=np.float64)
            if w.shape != (x.shape[0],):
                raise ValueError(f"expected {x.shape[0]} sample weights in chunk {k + 1} (one per row); received "
                                 f"shape {w.shape}")
        return Chunk(x, y, row, weights=w)

    def read(self, k: int) -> Chunk:
        return self._checked(k, self._items[k], self._starts[k])  # type: ignore[index]

    def chunks(self, order: Iterable[int] | None = None) -> Iterator[Chunk]:
        if self.reorderable:
            yield from super().chunks(order)
            return
        row = 0
        for k, pair in enumerate(self._pairs()):
            chunk = self._checked(k, pair, row)
            row += chunk.x.shape[0]
            yield chunk
