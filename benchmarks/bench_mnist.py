"""MNIST scale: 784 -> 256 -> 128 -> 10, float32, batch 128, 60,000 rows, one epoch.

Random Gaussian inputs and random labels (the arithmetic is what is measured, not learning).
Implementations interleaved in one run; then the GEMM rate of the same shapes on this machine,
the share of an xmlp epoch spent in those matrix products, and the peak resident memory of
each implementation in a fresh process.

    python benchmarks/bench_mnist.py [--repeats 5] [--rows 60000] [--no-memory]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import _harness
import numpy as np
import peers

HIDDEN, BATCH, LR = [256, 128], 128, 0.01


def data(rows: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(size=(rows, 784), dtype=np.float32)  # no float64 copy: memory is measured
    y = rng.integers(0, 10, size=rows)
    return x, y, y


def gemm_epoch(x: np.ndarray) -> tuple[float, float]:
    """(seconds, GFLOP/s) of the 8 matrix products of every step of one epoch, alone:
    forward x@W for 3 layers, dW = a.T@g for 3, dX = g@W.T for the 2 upper layers."""
    rng = np.random.default_rng(1)
    sizes = [784, *HIDDEN, 10]
    ws = [rng.normal(size=(a, b)).astype(np.float32) for a, b in zip(sizes, sizes[1:])]
    flops = 0
    t0 = time.perf_counter()
    for start in range(0, x.shape[0], BATCH):
        xb = x[start : start + BATCH]
        acts = [xb]
        for w in ws:
            acts.append(acts[-1] @ w)
        g = acts[-1]
        for i in range(len(ws) - 1, -1, -1):
            _ = acts[i].T @ g
            if i:
                g = g @ ws[i].T
        b = xb.shape[0]
        flops += 2 * b * (3 * sum(a * c for a, c in zip(sizes, sizes[1:])) - sizes[0] * sizes[1])
    took = time.perf_counter() - t0
    return took, flops / took / 1e9


def make_cases(x, y, labels, only: str | None = None):
    setup = dict(hidden=HIDDEN, epochs=1, batch=BATCH, lr=LR, dtype=np.float32, val=None)
    cases = {
        **{name: (lambda v=v: peers.plain(x, y, labels, **setup, variant=v)) for name, v in
           ((f"plain NumPy loop ({v})", v) for v in peers.VARIANTS)},
        "xmlp numpy, epoch (loss only)": lambda: peers.xmlp_fit(x, y, labels, **setup, epoch_only=True),
        "xmlp numpy, epoch (+accuracy)": lambda: peers.xmlp_fit(x, y, labels, **setup, metrics=("accuracy",), epoch_only=True),
        "xmlp numpy, whole fit()": lambda: peers.xmlp_fit(x, y, labels, **setup),
        "xmlp torch backend, whole fit()": lambda: peers.xmlp_fit(x, y, labels, **setup, backend="torch"),
        "PyTorch nn.Sequential + SGD": lambda: peers.torch_nn(x, y, labels, **setup),
        "scikit-learn MLPClassifier": lambda: peers.sklearn_mlp(x, y, labels, **setup),
    }
    needs = {"xmlp torch backend, whole fit()": "torch", "PyTorch nn.Sequential + SGD": "torch",
             "scikit-learn MLPClassifier": "sklearn"}
    out, why = {}, {}
    for name, make in cases.items():
        if only is not None and name != only:
            continue
        reason = peers.available(needs.get(name, ""))
        if reason:
            why[name] = reason
        else:
            out[name] = make()
    return out, why


def rss_mib(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or its peak (VmHWM) of this process. (ru_maxrss would do for
    the peak, but Linux carries it over from the parent across fork and exec.)"""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(name: str, rows: int) -> None:
    x, y, labels = data(rows)
    run = make_cases(x, y, labels, only=name)[0][name]
    before = rss_mib()
    run()
    peak = rss_mib("VmHWM")
    print(json.dumps({"before": before, "peak": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child, args.rows)
        return

    x, y, labels = data(args.rows)
    cases, why = make_cases(x, y, labels)
    cases["GEMMs alone (same shapes)"] = lambda: gemm_epoch(x)[0]
    _harness.header(f"MNIST scale: {args.rows} rows, 784-256-128-10 ReLU, batch {BATCH}, 1 epoch, SGD, float32; "
                    f"median of {args.repeats} interleaved runs")
    for name, reason in why.items():
        _harness.skipped(name, reason)
    times = _harness.interleaved(cases, args.repeats)
    _harness.table(times, _harness.fastest(times, "plain NumPy loop"))

    rate = statistics.median(gemm_epoch(x)[1] for _ in range(3))
    gemm = statistics.median(times["GEMMs alone (same shapes)"])
    epoch = statistics.median(times["xmlp numpy, epoch (loss only)"])
    epoch_acc = statistics.median(times["xmlp numpy, epoch (+accuracy)"])
    print(f"# GEMM rate at these shapes: {rate:.1f} GFLOP/s; matrix products are {gemm / epoch:.0%} of an "
          f"xmlp epoch (loss only), {gemm / epoch_acc:.0%} with accuracy")

    if args.no_memory:
        return
    data_mib = x.nbytes / 2**20
    params = sum(a * b + b for a, b in zip([784, *HIDDEN], [*HIDDEN, 10]))
    print(f"# peak resident memory of one epoch, each in a fresh process (input data: {data_mib:.0f} MiB float32; "
          f"parameters: {params * 4 / 2**20:.2f} MiB)")
    print(f"{'implementation':<34} {'RSS before':>11} {'peak':>9} {'peak - before':>14}")
    for name in ["plain NumPy loop (inplace)", "xmlp numpy, whole fit()", "xmlp torch backend, whole fit()",
                 "PyTorch nn.Sequential + SGD"]:
        if name not in cases:
            continue
        out = subprocess.run([sys.executable, __file__, "--memory-child", name, "--rows", str(args.rows)],
                             capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:<34} {m['before']:8.0f} MiB {m['peak']:5.0f} MiB {m['peak'] - m['before']:10.0f} MiB")


if __name__ == "__main__":
    main()
