"""Regenerate ``wdbc.csv`` from the copy of the WDBC data inside the scikit-learn wheel.

Run once by a maintainer (``pip install scikit-learn && python xmlp/datasets/make_wdbc.py``);
xmlp itself never imports scikit-learn. The values are copied as text, unchanged. scikit-learn
codes the target as 0 = malignant, 1 = benign (its file's header says "malignant,benign"), which
is mapped explicitly to the subject's M / B below.
"""

from __future__ import annotations

import csv
import sys
from importlib import resources
from pathlib import Path

TARGET_TO_LABEL = {"0": "M", "1": "B"}


def main() -> int:
    from sklearn.datasets import load_breast_cancer

    names = [str(n) for n in load_breast_cancer().feature_names]
    source = resources.files("sklearn.datasets") / "data" / "breast_cancer.csv"
    rows = list(csv.reader(source.read_text().splitlines()))
    n, width, first, second = rows[0]
    if (int(n), int(width), first, second) != (569, 30, "malignant", "benign"):
        raise SystemExit(f"unexpected header in {source}: {rows[0]}")
    out = Path(__file__).with_name("wdbc.csv")
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["diagnosis", *names])
        for row in rows[1:]:
            writer.writerow([TARGET_TO_LABEL[row[-1]], *row[:-1]])
    print(f"wrote {out} ({len(rows) - 1} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
