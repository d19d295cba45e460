"""``ParquetSource``: a Parquet file read one row group at a time, as a ``sources.Source``
(pyarrow, the ``parquet`` extra; without it, one line says how to install it)."""

from __future__ import annotations

import os

import numpy as np

from ..errors import DataError, UnavailableError
from .sources import Chunk, Source, _short_chunk
from .textlines import open_input


class ParquetSource(Source):
    """A Parquet file read one row group at a time (pyarrow: ``pip install 'xmlp[parquet]'``).
    The label column is named ``label_column`` (default: the first of ``csv.layout.LABEL_NAMES``;
    a list: several numeric target or 0/1 label columns); ``weight_column`` names a column of row
    weights; an ``id`` column is skipped; every other column is a feature."""

    def __init__(self, path: str | os.PathLike[str], *, label_column: str | list[str] | None = None,
                 weight_column: str | None = None):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise UnavailableError("expected pyarrow to read Parquet files; received a Python without it "
                                   "(hint: pip install 'xmlp[parquet]')") from None
        from .csv.layout import ID_NAMES, LABEL_NAMES

        self.name = str(path)
        open_input(self.name).close()
        try:
            self._file = pq.ParquetFile(self.name)
        except Exception as exc:  # pyarrow's ArrowInvalid and friends
            raise DataError(f"{self.name}: expected a Parquet file; received one pyarrow cannot read ({exc})") from None
        names = list(self._file.schema_arrow.names)
        lowered = [n.lower() for n in names]
        given = label_column if isinstance(label_column, list) else [label_column] if label_column else []
        wanted = [g.lower() for g in given] or [next((n for n in LABEL_NAMES if n in lowered), "")]
        asked = [("label", g) for g in given or [""]] + ([("weight", weight_column)] if weight_column else [])
        for (what, g), w in zip(asked, wanted + ([weight_column.lower()] if weight_column else [])):
            if w not in lowered:
                raise DataError(f"{self.name}: expected a {what} column named {g or '/'.join(LABEL_NAMES)}; received "
                                f"columns {', '.join(names[:10])}")
        self._labels = [names[lowered.index(w)] for w in wanted]
        self._many = isinstance(label_column, list)
        self._weight = names[lowered.index(weight_column.lower())] if weight_column else None
        self._columns = [n for n in names if n not in (*self._labels, self._weight) and n.lower() not in ID_NAMES]
        self.feature_names, self.n_features = list(self._columns), len(self._columns)
        self.n_chunks = self._file.num_row_groups
        self._rows = [self._file.metadata.row_group(k).num_rows for k in range(self.n_chunks)]
        self._starts = list(np.cumsum([0] + self._rows))
        self._watch(self.name)

    def read(self, k: int) -> Chunk:
        extra = [self._weight] if self._weight else []
        table = self._file.read_row_group(k, columns=[*self._columns, *self._labels, *extra])
        if table.num_rows != self._rows[k]:
            raise _short_chunk(self.name, k, self._rows[k], table.num_rows)
        try:
            x = np.column_stack([table.column(n).to_numpy() for n in self._columns]).astype(np.float64, copy=False)
            w = table.column(self._weight).to_numpy().astype(np.float64) if self._weight else None
            labels = (np.column_stack([table.column(n).to_numpy() for n in self._labels]).astype(np.float64)
                      if self._many else table.column(self._labels[0]).to_numpy(zero_copy_only=False))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{self.name}: expected numeric feature, target and weight columns; received {exc}") from None
        return Chunk(x, labels, int(self._starts[k]), weights=w)
