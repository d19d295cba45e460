"""The embedded WDBC copy is the 42 subject's data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "data.csv"


def test_embedded_shape_labels_and_names(wdbc):
    x, y, names = wdbc
    assert x.shape == (569, 30) and x.dtype == np.float64
    assert (y == "M").sum() == 212 and (y == "B").sum() == 357
    assert names[0] == "mean radius" and names[-1] == "worst fractal dimension" and len(names) == 30
    # First row of UCI's wdbc.data (id 842302) is malignant with radius 17.99 and texture 10.38.
    assert y[0] == "M" and x[0, 0] == 17.99 and x[0, 1] == 10.38


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data/data.csv not present")
def test_embedded_rows_are_the_subjects_rows(wdbc):
    x, y, _ = wdbc
    rows = [line.split(",") for line in SHARED.read_text().splitlines() if line]
    theirs = sorted((r[1], tuple(float(v) for v in r[2:])) for r in rows)
    ours = sorted((label, tuple(row)) for label, row in zip(y.tolist(), x.tolist()))
    assert len(theirs) == 569
    assert ours == theirs
