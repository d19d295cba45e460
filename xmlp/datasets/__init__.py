"""Datasets shipped inside the package."""

from __future__ import annotations

from importlib import resources

import numpy as np


def load_wdbc() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The embedded WDBC data: features (569, 30) float64, labels "M"/"B", feature names."""
    text = (resources.files(__name__) / "wdbc.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    names = lines[0].split(",")[1:]
    rows = [line.split(",") for line in lines[1:] if line]
    labels = np.array([r[0] for r in rows])
    features = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)
    return features, labels, names
