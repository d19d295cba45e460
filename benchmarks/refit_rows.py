"""What a refit buys as the data grow: test BCE of ``xmlp train --no-refit`` (the model of the run
on 80 % of the rows) against ``--refit`` (the same settings trained again on all of them), paired
over seeds, on a synthetic two-class problem with a curved boundary and label noise (30
features of mixed scales, as the subject's; the test part is 20 000 rows never trained on).
The rows at which the refit stops changing the test BCE beyond its run-to-run spread is where
``xmlp train`` turns the refit off by default (``cli.recipe.REFIT_MAX_ROWS``).

    python benchmarks/refit_rows.py [--rows 2000 10000 50000 200000] [--seeds 0 1 2 3] [--epochs 20 --batch-size 64]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xmlp.cli import main as xmlp  # noqa: E402

FEATURES = 30


def write(path: Path, rows: int, rng: np.random.Generator, shift: np.ndarray, scale: np.ndarray) -> None:
    z = rng.standard_normal((rows, FEATURES))
    score = z[:, 0] + z[:, 1] + z[:, 2] * z[:, 3] + 0.5 * np.sin(2 * z[:, 4]) + 0.5 * rng.standard_normal(rows)
    labels = np.where(score > 0, "M", "B")
    x = z * scale + shift
    with open(path, "w") as fh:
        fh.write("".join(f"{i + 1},{lab}," + ",".join(f"{v:.6g}" for v in row) + "\n"
                         for i, (lab, row) in enumerate(zip(labels, x))))


def run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = xmlp(list(argv))
    if code:
        raise SystemExit(f"xmlp {' '.join(argv)} exited {code}")
    return out.getvalue()


def test_bce(tmp: Path, data: Path, test: Path, seed: int, refit: bool, extra: list[str]) -> float:
    out = tmp / f"run-{refit}"
    run("train", "--data", str(data), "--out", str(out), "--force", "--quiet", "--no-plots", "--seed", str(seed),
        "--refit" if refit else "--no-refit", *extra)
    report = run("predict", str(out), str(test))
    return float(re.search(r"binary cross-entropy \(p = P\(M\)\): ([\d.]+)", report).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 10000, 50000, 200000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    extra = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    print(f"# refit vs no refit, xmlp train defaults with {' '.join(extra)}; seeds {args.seeds}")
    print(f"{'rows':>8} {'no refit BCE':>13} {'refit BCE':>10} {'refit - no refit':>17} {'± SE':>7} {'s/run':>6}")
    for rows in args.rows:
        diffs, base, ref = [], [], []
        t0 = time.perf_counter()
        for seed in args.seeds:
            rng = np.random.default_rng(1000 + seed)
            shift, scale = rng.uniform(-5, 50, FEATURES), rng.uniform(0.5, 20.0, FEATURES)
            with tempfile.TemporaryDirectory() as name:
                tmp = Path(name)
                write(tmp / "data.csv", rows, rng, shift, scale)
                write(tmp / "test.csv", 20000, rng, shift, scale)
                a = test_bce(tmp, tmp / "data.csv", tmp / "test.csv", seed, False, extra)
                b = test_bce(tmp, tmp / "data.csv", tmp / "test.csv", seed, True, extra)
            base.append(a)
            ref.append(b)
            diffs.append(b - a)
        d = np.array(diffs)
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        print(f"{rows:>8} {np.mean(base):13.4f} {np.mean(ref):10.4f} {d.mean():+17.4f} {se:7.4f} "
              f"{(time.perf_counter() - t0) / len(args.seeds) / 2:6.1f}", flush=True)


if __name__ == "__main__":
    main()
