"""A ``.npy`` file as a data source: features memory-mapped and read a chunk at a time (the
pages of rows already read are given back, so a file larger than memory keeps one chunk
resident); labels from a second ``.npy`` or a column. A file of the wrong dtype, shape, byte
order or memory layout is refused with what was expected."""

from __future__ import annotations

import mmap
import os
from typing import Sequence

import numpy as np

from ..errors import DataError
from .sources import DEFAULT_CHUNK_ROWS, Chunk, Source, _chunk_ranges
from .textlines import open_input


class _Mapped:
    """A .npy file's array over a read-only memory map, with the pages of rows already read
    given back (``release``): reading a file larger than memory keeps only a chunk resident."""

    def __init__(self, path: str, what: str):
        open_input(path).close()  # missing, a folder, unreadable: NoInputError
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, fortran, dtype = read(fh)
                offset = fh.tell()
                self._map = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if os.fstat(fh.fileno()).st_size else None
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{path}: expected a .npy file of {what}; received one NumPy cannot map ({exc})") from None
        if dtype.kind not in "fiub":
            raise DataError(f"{path}: expected a .npy of real numbers (float32 or float64) for {what}; received dtype "
                            f"{dtype}" + (" (labels may be strings only in a CSV file)" if dtype.kind in "USO" else ""))
        if not dtype.isnative:
            order = "big-endian" if dtype.byteorder == ">" else "non-native"
            raise DataError(f"{path}: expected {what} in this machine's byte order; received {order} {dtype.str} "
                            f"(hint: np.save(path, x.astype(x.dtype.newbyteorder('='))))")
        if fortran and len(shape) > 1:
            raise DataError(f"{path}: expected a row-major (C-order) .npy of {what}; received a Fortran-order array, "
                            "whose rows are not contiguous (hint: np.save(path, np.ascontiguousarray(x)))")
        try:
            self.array = np.ndarray(shape, dtype, buffer=self._map, offset=offset)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: expected a .npy file of {what}; received one NumPy cannot map "
                            f"(a file shorter than its header says: {exc})") from None
        self.offset, self.row_bytes = offset, dtype.itemsize * int(np.prod(shape[1:]))

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows [lo, hi) copied out of the map; their pages are then released."""
        out = np.array(self.array[lo:hi])
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):
            page = mmap.PAGESIZE
            start = (self.offset + lo * self.row_bytes) // page * page
            stop = min(len(self._map), -(-(self.offset + hi * self.row_bytes) // page) * page)
            if stop > start:
                self._map.madvise(mmap.MADV_DONTNEED, start, stop - start)
        return out


class NpySource(Source):
    """Features memory-mapped from a ``.npy`` file (rows × features, float32 or float64, this
    machine's byte order), labels from a second ``.npy`` (one per row: 1-D, or (rows, outputs)
    for several regression targets or 0/1 label columns) or from the feature file's column
    ``label_column``; ``sample_weight``: a third ``.npy`` of one weight per row. Only the chunk
    being read is in memory."""

    def __init__(self, path: str | os.PathLike[str], labels: str | os.PathLike[str] | None = None, *,
                 label_column: int | None = None, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 feature_names: Sequence[str] | None = None, sample_weight: str | os.PathLike[str] | None = None):
        self.name = str(path)
        self._xmap = _Mapped(self.name, "features")
        x = self._xmap.array
        if x.ndim != 2 or x.shape[1] < 1 + (label_column is not None):
            raise DataError(f"{self.name}: expected a 2-D array (rows, features); received shape {x.shape}")
        if (labels is None) == (label_column is None):
            raise ValueError("expected the labels as a second .npy file or a label_column; received "
                             + ("both" if labels is not None else "neither"))
        self._label_col: int = 0
        self._y: _Mapped | None = None
        if label_column is not None:
            if not -x.shape[1] <= label_column < x.shape[1]:
                raise DataError(f"{self.name}: expected a label column below {x.shape[1]}; received {label_column}")
            self._label_col = label_column % x.shape[1]
        else:
            self._y = _Mapped(str(labels), "labels")
            if self._y.array.ndim not in (1, 2) or self._y.array.shape[0] != x.shape[0]:
                raise DataError(f"{labels}: expected one label per row of {self.name} (shape ({x.shape[0]},), or "
                                f"({x.shape[0]}, outputs)); received shape {self._y.array.shape}")
        self._w = None if sample_weight is None else _Mapped(str(sample_weight), "sample weights")
        if self._w is not None and self._w.array.shape != (x.shape[0],):
            raise DataError(f"{sample_weight}: expected one sample weight per row of {self.name} (shape "
                            f"({x.shape[0]},)); received shape {self._w.array.shape}")
        self.n_features = x.shape[1] - (label_column is not None)
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.ranges = _chunk_ranges(x.shape[0], chunk_rows)
        self.n_chunks = len(self.ranges)
        self._watch(self.name)

    def read(self, k: int) -> Chunk:
        lo, hi = self.ranges[k]
        block = self._xmap.rows(lo, hi)  # copied out of the map: only this chunk is resident
        w = None if self._w is None else self._w.rows(lo, hi)
        if self._y is not None:
            return Chunk(block, self._y.rows(lo, hi), lo, weights=w)
        labels = block[:, self._label_col]
        return Chunk(np.delete(block, self._label_col, axis=1), labels, lo, weights=w)
