"""Repeat the 42 grader's procedure over many random splits and summarise the test BCE.

For each split: shuffle data.csv, hold out 25 % as the test file, run `xmlp split` on the rest
(defaults), `xmlp train --train … --valid …` (defaults), then `xmlp predict MODEL test.csv`, and
read its binary cross-entropy. The test part is never seen by training, early stopping or
calibration. Extra words after `--` go to `xmlp train` (to compare settings).

    python benchmarks/grader_splits.py [DATA.csv] [--splits 30] [-- --optimizer sgd …]
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


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(SHARED))
    parser.add_argument("--splits", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)

    if not Path(args.data).is_file():
        raise SystemExit(f"grader_splits: expected the subject's data.csv; received {args.data!r}, which does not exist")
    lines = [l for l in Path(args.data).read_text().splitlines() if l.strip()]
    scores, accs = [], []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.splits):
            d = Path(tmp) / str(seed)
            d.mkdir()
            order = np.random.default_rng(seed).permutation(len(lines))
            n_test = round(0.25 * len(lines))
            (d / "test.csv").write_text("\n".join(lines[i] for i in order[:n_test]) + "\n")
            (d / "rest.csv").write_text("\n".join(lines[i] for i in order[n_test:]) + "\n")
            run("split", str(d / "rest.csv"), "--out-dir", str(d))
            run("train", "--train", str(d / "data_train.csv"), "--valid", str(d / "data_valid.csv"),
                "--out", str(d / "run"), "--quiet", "--no-plots", *extra)
            report = run("predict", str(d / "run"), str(d / "test.csv"))
            scores.append(float(re.search(r"binary cross-entropy \(p = P\(M\)\): ([\d.]+)", report).group(1)))
            accs.append(float(re.search(r"accuracy: ([\d.]+)", report).group(1)))
    s = np.array(scores)
    print(f"# grader procedure over {len(s)} splits (seeds {args.first_seed}..{args.first_seed + len(s) - 1}), "
          f"train options: {' '.join(extra) or '(defaults)'}; {time.perf_counter() - t0:.1f} s")
    print(f"test BCE  median {np.median(s):.4f}  p10 {np.percentile(s, 10):.4f}  p90 {np.percentile(s, 90):.4f}  "
          f"mean {s.mean():.4f}  under 0.08: {np.mean(s < 0.08):.0%} ({int((s < 0.08).sum())}/{len(s)})")
    print(f"test accuracy median {statistics.median(accs):.4f}")


if __name__ == "__main__":
    main()
