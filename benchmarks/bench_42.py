"""The 42 setup: 30 -> 24 -> 24 -> 2, batch 8, 70 epochs, 455 training rows, float64.

xmlp on NumPy vs the plain NumPy loop in ``plain_numpy.py``, interleaved in one run so that
machine noise hits both alike. Prints median and min-max of the repeats and the ratio of medians.

    python benchmarks/bench_42.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import xmlp  # noqa: E402
from plain_numpy import train as plain_train  # noqa: E402
from xmlp.data import split_indices  # noqa: E402
from xmlp.datasets import load_wdbc  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    x, y, _ = load_wdbc()
    train, valid = split_indices(y, 114, np.random.default_rng(0))
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    xs = (x - mean) / std
    onehot = (y[:, None] == np.array(["B", "M"])).astype(np.float64)

    def run_xmlp(metrics):
        model = xmlp.Sequential([xmlp.Dense(24, "relu"), xmlp.Dense(24, "relu"), xmlp.Dense(2, "softmax")],
                                dtype="float64", standardize=False)
        model.fit(xs[train], y[train], validation_data=(xs[valid], y[valid]), epochs=70, batch_size=8,
                  learning_rate=0.0314, seed=0, metrics=metrics)

    def run_plain():
        plain_train(xs[train], onehot[train], xs[valid], onehot[valid], [24, 24], 70, 8, 0.0314, 0)

    cases = {
        "plain NumPy loop": run_plain,
        "xmlp numpy (loss only)": lambda: run_xmlp(()),
        "xmlp numpy (+accuracy)": lambda: run_xmlp(("accuracy",)),
    }
    times = {name: [] for name in cases}
    for fn in cases.values():  # warm-up: imports, BLAS threads, caches
        fn()
    for _ in range(args.repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    print(f"# 42 setup: 455 rows, 30-24-24-2, batch 8, 70 epochs, float64; {args.repeats} repeats")
    print(f"# {platform.node()} {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"numpy {np.__version__}, xmlp {xmlp.__version__}, {time.strftime('%Y-%m-%d')}")
    base = statistics.median(times["plain NumPy loop"])
    print(f"{'implementation':<26} {'median s':>9} {'min-max s':>15} {'ratio':>7}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<26} {med:9.3f} {min(ts):7.3f}-{max(ts):<7.3f} {med / base:7.2f}")


if __name__ == "__main__":
    main()
