"""``xmlp train --task regression``'s defaults: the validation R² of a run with the command line's
regression defaults (``cli.recipe.REGRESSION_DEFAULTS``: MLPRegressor's, chosen on diabetes KFold
folds by benchmarks/bench_regression.py) against the 42 classification recipe they replaced
(24-24 tanh, SGD 0.0314, weight decay 0.007, 150 epochs of batch 8, Yeo-Johnson, input noise 0.2),
on scikit-learn's diabetes data written with a header, over ``--seeds`` (each seed: its own
80/20 split, weights and order), paired, with the time of a run. The validation rows are never
trained on (``--no-refit``).

    python benchmarks/cli_regression.py --seeds 1 2 3 4 5
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xmlp.cli import main as xmlp  # noqa: E402

OLD = ["--layer", "24", "24", "--activation", "tanh", "--optimizer", "sgd", "--learning-rate", "0.0314",
       "--weight-decay", "0.007", "--epochs", "150", "--batch-size", "8", "--preprocess", "yeo-johnson",
       "--input-noise", "0.2"]


def run(folder: Path, seed: int, extra: list[str]) -> tuple[float, float]:
    """(validation R², seconds) of one run."""
    out = folder / f"run{seed}{len(extra)}"
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = xmlp(["train", "--data", str(folder / "diabetes.csv"), "--task", "regression", "--seed", str(seed),
                     "--no-refit", "--no-plots", "--quiet", "--force", "--out", str(out), *extra])
    took = time.perf_counter() - t0
    if code != 0:
        raise SystemExit(f"xmlp train exited with {code}")
    return float(json.loads((out / "history.json").read_text())["final"]["val_r2"]), took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = ap.parse_args()
    from sklearn.datasets import load_diabetes

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        load_diabetes(as_frame=True).frame.to_csv(folder / "diabetes.csv", index=False)
        rows = []
        for seed in args.seeds:
            (new, t_new), (old, t_old) = run(folder, seed, []), run(folder, seed, OLD)
            rows.append((seed, new, old, t_new, t_old))
    print("# xmlp train --task regression on diabetes (442 rows, 10 features), 80/20 split per seed, "
          "validation R² (never trained on)")
    print(f"{'seed':>4}  {'defaults':>9}  {'42 recipe':>9}  {'difference':>10}  {'s (defaults)':>12}  {'s (42 recipe)':>13}")
    for seed, new, old, t_new, t_old in rows:
        print(f"{seed:>4}  {new:9.4f}  {old:9.4f}  {new - old:+10.4f}  {t_new:12.2f}  {t_old:13.2f}")
    arr = np.array([r[1:] for r in rows])
    diff = arr[:, 0] - arr[:, 1]
    print(f"median  {np.median(arr[:, 0]):9.4f}  {np.median(arr[:, 1]):9.4f}  {np.median(diff):+10.4f}  "
          f"{np.median(arr[:, 2]):12.2f}  {np.median(arr[:, 3]):13.2f}")
    print(f"# paired difference (defaults - 42 recipe): mean {diff.mean():+.4f} ± {diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0:.4f} "
          f"(standard error), defaults better on {int((diff > 0).sum())} of {len(diff)} seeds")


if __name__ == "__main__":
    main()
