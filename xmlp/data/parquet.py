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
    The label column is named ``label_column`` (default: the first of ``csv.layout.LABEL_NAMES``);
    an ``id`` column is skipped; every other column is a feature."""

    def __init__(self, path: str | os.PathLike[str], *, label_column: str | None = None):
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
        wanted = label_column.lower() if label_column else next((n for n in LABEL_NAMES if n in lowered), None)
        if wanted is None or wanted not in lowered:
            raise DataError(f"{self.name}: expected a label column named {label_column or '/'.join(LABEL_NAMES)}; "
                            f"received columns {', '.join(names[:10])}")
        self._label = names[lowered.index(wanted)]
        self._columns = [n for n in names if n != self._label and n.lower() not in ID_NAMES]
        self.feature_names, self.n_features = list(self._columns), len(self._columns)
        self.n_chunks = self._file.num_row_groups
        self._rows = [self._file.metadata.row_group(k).num_rows for k in range(self.n_chunks)]
        self._starts = list(np.cumsum([0] + self._rows))
        self._watch(self.name)

    def read(self, k: int) -> Chunk:
        table = self._file.read_row_group(k, columns=[*self._columns, self._label])
        if table.num_rows != self._rows[k]:
            raise _short_chunk(self.name, k, self._rows[k], table.num_rows)
        try:
            x = np.column_stack([table.column(n).to_numpy() for n in self._columns]).astype(np.float64, copy=False)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{self.name}: expected numeric feature columns; received {exc}") from None
        labels = table.column(self._label).to_numpy(zero_copy_only=False)
        return Chunk(x, labels, int(self._starts[k]))
