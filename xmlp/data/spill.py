"""A source parsed once: ``Spilled(source)`` keeps the rows of the source's first full pass in
binary files of a temporary folder (features in the source's dtype, labels as class codes or
numeric targets as float64, line numbers, weights), and every later pass reads those instead of parsing the text again — a CSV's epochs
then cost what a memory-mapped ``.npy``'s do. The files take the data's binary size on disk
(4 bytes per value in float32) and are deleted with the source (or at exit). Reads go through
plain file I/O, so nothing of them stays resident. The original file is still watched: a change
is an error, as when it is read directly.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Iterable, Iterator

import numpy as np

from .sources import Chunk, Source


class Spilled(Source):
    """``source``, its first full pass in order written to ``folder`` (default: the system's
    temporary folder), read from there afterwards (in any chunk order)."""

    def __init__(self, source: Source, folder: str | os.PathLike[str] | None = None, dtype: str | None = None):
        self.source, self.name = source, source.name
        self.n_features, self.feature_names, self.n_chunks = source.n_features, source.feature_names, source.n_chunks
        self.n_rows = source.n_rows  # known before any pass for a CSV (its index): --valid-size N needs it
        self.dtype = np.dtype(dtype or getattr(source, "dtype", "float64"))
        self._dir = tempfile.TemporaryDirectory(prefix="xmlp-spill-", dir=folder)
        self._ranges: list[tuple[int, int]] | None = None  # rows of each chunk in the files, once complete
        self._classes: list[Any] = []
        self._width: int | None = None  # labels stored as class codes (None), or float64 targets: 1-D (0) or columns
        self._weighted = False

    @property
    def reorderable(self) -> bool:  # type: ignore[override]
        """Any order once spilled; before, the source's."""
        return self._ranges is not None or self.source.reorderable

    def _path(self, what: str) -> str:
        return os.path.join(self._dir.name, what)

    def chunks(self, order: Iterable[int] | None = None) -> Iterator[Chunk]:
        if self._ranges is not None:
            for k in range(len(self._ranges)) if order is None else order:
                yield self.read(k)
        elif order is None:
            yield from self._spill()
        else:
            yield from self.source.chunks(order)

    def _spill(self) -> Iterator[Chunk]:
        """The source's chunks, each appended to the files as it passes: labels as class codes,
        numeric targets (floats, or several columns) as float64, weights as float64."""
        ranges: list[tuple[int, int]] = []
        codes_of: dict[Any, int] = {}
        with open(self._path("x"), "wb") as fx, open(self._path("y"), "wb") as fy, open(self._path("lines"), "wb") as fl, \
                open(self._path("w"), "wb") as fw:
            for chunk in self.source.chunks():
                start = ranges[-1][1] if ranges else 0
                fx.write(np.ascontiguousarray(chunk.x, dtype=self.dtype).tobytes())
                labels = np.asarray(chunk.labels)
                if labels.ndim == 2 and labels.dtype.kind not in "biuf":
                    labels = labels.reshape(len(labels), -1)[:, 0]  # a column of text labels ((n, 1))
                if not ranges:
                    self._width = labels.shape[1] if labels.ndim == 2 else 0 if labels.dtype.kind == "f" else None
                if self._width is None:
                    names, inverse = np.unique(labels, return_inverse=True)
                    ids = np.array([codes_of.setdefault(n, len(codes_of)) for n in names.tolist()], dtype=np.int32)
                    fy.write(ids[inverse.reshape(-1)].tobytes())
                else:
                    fy.write(np.ascontiguousarray(labels, dtype=np.float64).tobytes())
                lines = np.full(len(chunk.labels), -1, dtype=np.int64) if chunk.lines is None else np.asarray(chunk.lines)
                fl.write(lines.astype(np.int64).tobytes())
                if chunk.weights is not None:
                    fw.write(np.ascontiguousarray(chunk.weights, dtype=np.float64).tobytes())
                self._weighted = chunk.weights is not None
                ranges.append((start, start + len(chunk.labels)))
                yield chunk
        self._classes, self._ranges = list(codes_of), ranges
        self.n_chunks = len(ranges)

    def read(self, k: int) -> Chunk:
        if self._ranges is None:
            return self.source.read(k)
        lo, hi = self._ranges[k]
        d = self.n_features
        x = np.fromfile(self._path("x"), dtype=self.dtype, count=(hi - lo) * d,
                        offset=lo * d * self.dtype.itemsize).reshape(hi - lo, d)
        if self._width is None:
            labels = np.array(self._classes)[np.fromfile(self._path("y"), dtype=np.int32, count=hi - lo, offset=lo * 4)]
        else:
            m = max(self._width, 1)
            labels = np.fromfile(self._path("y"), dtype=np.float64, count=(hi - lo) * m, offset=lo * m * 8)
            labels = labels.reshape(hi - lo, m) if self._width else labels
        lines = np.fromfile(self._path("lines"), dtype=np.int64, count=hi - lo, offset=lo * 8)
        weights = np.fromfile(self._path("w"), dtype=np.float64, count=hi - lo, offset=lo * 8) if self._weighted else None
        return Chunk(x, labels, lo, None if len(lines) and lines[0] < 0 else lines, weights)

    def check(self, when: str) -> None:
        self.source.check(when)

    def close(self) -> None:
        """Delete the files now (else: when the source is collected, or at exit)."""
        self._dir.cleanup()
