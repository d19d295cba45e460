"""Repeat the 42 grader's procedure over many random splits and summarise the test BCE.

For each split: shuffle data.csv, hold out 25 % as the test file, run `xmlp split` on the rest
(defaults), `xmlp train --train … --valid …`, then `xmlp predict MODEL test.csv`, and read its
binary cross-entropy. The test part is never seen by training, early stopping, calibration or the
refit. Extra words after `--` go to `xmlp train` (default: none, i.e. the current defaults); the
same splits are also run with `--baseline` options (default: the defaults before 2026-11-27),
and the mean paired difference of the two is printed with its standard error.

    python benchmarks/grader_splits.py [DATA.csv] [--splits 30] [--first-seed 0] [--baseline "…"] [-- --optimizer sgd …]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from xmlp.cli import main as xmlp  # noqa: E402

SHARED = ROOT.parent / "shared" / "data" / "data.csv"


def run(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = xmlp(list(argv))
    if code:
        raise SystemExit(f"xmlp {' '.join(argv)} exited {code}")
    return out.getvalue()


# The defaults before the model-quality work (2026-11-26): plain standardisation, L2 0.01,
# SGD lr 0.01, 70 epochs, no input noise, no refit.
OLD_DEFAULTS = "--preprocess standardize --weight-decay 0.01 --learning-rate 0.01 --epochs 70 --input-noise 0 --no-refit"


def grade(lines: list[str], seed: int, tmp: Path, options: list[str]) -> tuple[float, float]:
    """(test BCE, test accuracy) of one grader split with ``xmlp train`` options."""
    d = tmp / f"{seed}-{abs(hash(tuple(options)))}"
    d.mkdir()
    order = np.random.default_rng(seed).permutation(len(lines))
    n_test = round(0.25 * len(lines))
    (d / "test.csv").write_text("\n".join(lines[i] for i in order[:n_test]) + "\n")
    (d / "rest.csv").write_text("\n".join(lines[i] for i in order[n_test:]) + "\n")
    run("split", str(d / "rest.csv"), "--out-dir", str(d))
    run("train", "--train", str(d / "data_train.csv"), "--valid", str(d / "data_valid.csv"),
        "--out", str(d / "run"), "--quiet", "--no-plots", *options)
    report = run("predict", str(d / "run"), str(d / "test.csv"))
    bce = float(re.search(r"binary cross-entropy \(p = P\(M\)\): ([\d.]+)", report).group(1))
    return bce, float(re.search(r"accuracy: ([\d.]+)", report).group(1))


def summary(name: str, s: np.ndarray, accs: list[float]) -> None:
    print(f"{name:<10} test BCE  median {np.median(s):.4f}  p10 {np.percentile(s, 10):.4f}  "
          f"p90 {np.percentile(s, 90):.4f}  mean {s.mean():.4f}  under 0.08: {np.mean(s < 0.08):.0%} "
          f"({int((s < 0.08).sum())}/{len(s)})  accuracy median {statistics.median(accs):.4f}")


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(SHARED))
    parser.add_argument("--splits", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--baseline", default=OLD_DEFAULTS,
                        help="xmlp train options of the baseline run on the same splits ('' to skip it)")
    args = parser.parse_args(argv)

    if not Path(args.data).is_file():
        raise SystemExit(f"grader_splits: expected the subject's data.csv; received {args.data!r}, which does not exist")
    lines = [l for l in Path(args.data).read_text().splitlines() if l.strip()]
    configs = {"options": extra} | ({"baseline": args.baseline.split()} if args.baseline else {})
    scores: dict[str, list[float]] = {k: [] for k in configs}
    accs: dict[str, list[float]] = {k: [] for k in configs}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.splits):
            for name, options in configs.items():
                bce, acc = grade(lines, seed, Path(tmp), options)
                scores[name].append(bce)
                accs[name].append(acc)
    print(f"# grader procedure over {args.splits} splits (seeds {args.first_seed}..{args.first_seed + args.splits - 1}); "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"# options:  {' '.join(extra) or '(defaults)'}")
    if args.baseline:
        print(f"# baseline: {args.baseline}")
    for name in configs:
        summary(name, np.array(scores[name]), accs[name])
    if args.baseline:
        diff = np.array(scores["options"]) - np.array(scores["baseline"])
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        print(f"paired difference (options - baseline) of test BCE: mean {diff.mean():+.4f} ± {se:.4f} (SE), "
              f"median {np.median(diff):+.4f}, options better on {np.mean(diff < 0):.0%} of splits")


if __name__ == "__main__":
    main()
