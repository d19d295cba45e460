"""CSV data files: ``read_table`` (the one public reader: fast, strict, FILE:LINE:COLUMN errors).

``layout`` (what a file is before any value is converted: cells, the number rule, header, id,
label, features) · ``exact`` (``read_exact``: every cell checked in Python, the reference and the
explainer of every error; the writer of split files) · ``bulk`` (a block converted by polars or
NumPy, with the checks that prove the exact rules hold) · ``fast`` (``read_table``: blocks by
``bulk`` or ``exact``, into the final array) · ``source`` (``CsvSource``: a file in chunks).
"""

from .fast import read_table

__all__ = ["read_table"]
