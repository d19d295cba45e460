"""What a task costs on large data (#22): ``xmlp train --epochs 1 --batch-size 1024`` on N rows × 30
features with a class label (M/B) against the same file with a numeric target in the label's place
(the same values, the same shape), each run in a fresh process that reports its own time and peak
resident memory; the cases are interleaved over ``--repeats`` rounds (medians, min-max, ratios to
the classification of the same round).

- classification, defaults: every default (Yeo-Johnson, input noise, the refit rule);
- regression, the same recipe: ``--task regression`` with the classification's network and options
  (24-24 tanh, SGD, Yeo-Johnson, noise 0.2), so that only the task differs;
- regression, its defaults: ``--task regression`` alone (64-64 relu, Adam, standardisation, no noise).

    python benchmarks/bench_task_cost.py --rows 1e6 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _harness import header
from bench_data import FEATURES, POOL, _timed_train, peak_mib

SAME_RECIPE = ["--layer", "24", "24", "--activation", "tanh", "--optimizer", "sgd", "--learning-rate", "0.0314",
               "--weight-decay", "0.007", "--preprocess", "yeo-johnson", "--input-noise", "0.2"]
CASES = {
    "classification, defaults": ("class", []),
    "regression, the same recipe": ("target", ["--task", "regression", "--target", "1", "--id", "0", *SAME_RECIPE]),
    "regression, its defaults": ("target", ["--task", "regression", "--target", "1", "--id", "0"]),
}


def write(path: Path, rows: int, numeric: bool, seed: int = 0, chunk: int = 1 << 18) -> None:
    """``bench_data.write_csv``'s rows (id, label, 30 features), the label M/B or its score."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((POOL, FEATURES)) * rng.uniform(0.5, 20.0, FEATURES) + rng.uniform(-5, 50, FEATURES)
    score = x[:, :3].sum(axis=1) - np.median(x[:, :3].sum(axis=1)) + rng.standard_normal(POOL)
    labels = [f"{v:.5g}" for v in score] if numeric else np.where(score > 0, "M", "B").tolist()
    body = [",".join([lab] + [f"{v:.5g}" for v in row]) for lab, row in zip(labels, x)]
    with open(path, "w") as fh:
        for start in range(0, rows, chunk):
            picks = rng.integers(0, POOL, min(chunk, rows - start))
            fh.write("".join(f"{start + i + 1},{body[p]}\n" for i, p in enumerate(picks.tolist())))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=float, default=1e6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, path = args.child
        took = _timed_train(path, "--batch-size", "1024", *CASES[name][1])
        print(json.dumps({"s": took, "peak": peak_mib()}))
        return
    header("bench_task_cost: one epoch of xmlp train per task on the same data")
    rows = int(args.rows)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in CASES}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"class": Path(tmp) / "class.csv", "target": Path(tmp) / "target.csv"}
        for kind, path in files.items():
            write(path, rows, kind == "target")
        for _ in range(args.repeats):
            for name, (kind, _) in CASES.items():
                out = subprocess.run([sys.executable, __file__, "--child", name, str(files[kind])],
                                     capture_output=True, text=True)
                if out.returncode != 0:
                    raise SystemExit(f"{name}: {out.stderr.strip()[-500:]}")
                results[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"## {rows:,} rows x {FEATURES} features, --epochs 1 --batch-size 1024, {args.repeats} interleaved rounds")
    print(f"{'case':<30} {'median s':>9} {'min-max s':>13} {'ratio':>6} {'peak MiB':>9} {'ratio':>6}")
    ref = results["classification, defaults"]
    ref_s = statistics.median(r["s"] for r in ref)
    ref_m = statistics.median(r["peak"] for r in ref)
    for name, runs in results.items():
        s = [r["s"] for r in runs]
        m = statistics.median(r["peak"] for r in runs)
        print(f"{name:<30} {statistics.median(s):9.2f} {min(s):6.2f}-{max(s):<6.2f} {statistics.median(s) / ref_s:5.2f}x "
              f"{m:9.0f} {m / ref_m:5.2f}x")


if __name__ == "__main__":
    main()
