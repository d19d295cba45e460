"""Where an xmlp training step spends its time: array operations per step, and the non-GEMM calls.

1. The 42 setup (30-24-24-2, batch 8, float64), bound by per-call overhead: the array operations
   of one training step (counted by ``_counting``: every ufunc, reduction, matmul, take and
   gather; the epoch's own few operations shared out over its steps) beside the time per step,
   for xmlp with and without the backend's fast paths and for the plain NumPy loop (inplace).
2. The bytes a step allocates after the first (tracemalloc's peak), with and without fast paths.
3. MNIST scale (784-256-128-10, batch 128, float32, NumPy backend): each kind of non-GEMM array
   call of a step of the generic code over one epoch's worth of steps, and the GEMMs of the
   same step.

    python benchmarks/profile_step.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import _counting
import _harness  # noqa: F401  (puts the repo on sys.path)
import numpy as np
import plain_numpy
from bench_mnist import gemm_epoch

from xmlp import backends
from xmlp.nn.layers import Dense
from xmlp.nn.losses import SoftmaxCrossEntropy
from xmlp.nn.network import Network
from xmlp.optim import optimizers
from xmlp.training import metrics
from xmlp.training.trainer import Trainer

STEPS, BATCH = 469, 128


def timed(name: str, fn) -> float:
    t0 = time.perf_counter()
    for i in range(STEPS):
        fn(i)
    took = time.perf_counter() - t0
    print(f"{name:<40} {took * 1e3:8.1f} ms/epoch {took / STEPS * 1e6:8.1f} us/step")
    return took


def setup_42(be, rows: int):
    """The 42 setup on backend ``be``: a 30-24-24-2 ReLU network (float64), built; SGD; ``rows``
    random rows as the device array [X | one-hot Y]. Returns (network, optimizer, data, rng)."""
    rng = np.random.default_rng(0)
    net = Network([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")], "categoricalCrossentropy", be,
                  "float64")
    net.build(30, rng)
    opt = optimizers.SGD(0.0314)
    opt.build(be.xp, net.layers)
    host = np.concatenate([rng.standard_normal((rows, 30)), np.eye(2)[rng.integers(0, 2, rows)]], axis=1)
    return net, opt, be.asarray(host, net.dtype), rng


def xmlp_epoch(fast: bool, counted: bool = False):
    """One epoch of the trainer's own loop (``Trainer._train_epoch``) on the 42 setup: 455 rows,
    batch 8, SGD, loss only. Returns (run, steps)."""
    be = backends.get_backend("cpu", fast=fast)
    if counted:
        be = dataclasses.replace(be, xp=_counting.namespace(be.xp),
                                 _asarray=lambda h, d, c: np.array(h, dtype=d).view(_counting.Counted))
    net, opt, data, _ = setup_42(be, 455)
    trainer = Trainer(net, opt, metrics=())
    layout = metrics.EpochVector((), 2, False)
    shuffle = np.random.default_rng(1)
    return (lambda: trainer._train_epoch(data, 8, shuffle, layout, None)), -(-455 // 8)


def plain_epoch(counted: bool = False):
    """One epoch of plain_numpy's inplace loop on the same setup (its batch gather included)."""
    rng = np.random.default_rng(0)
    sizes = [30, 24, 24, 2]
    ws = [rng.uniform(-1, 1, (a, b)) * np.sqrt(6.0 / a) for a, b in zip(sizes, sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    x, y = rng.standard_normal((455, 30)), np.eye(2)[rng.integers(0, 2, 455)]
    if counted:  # every array a Counted, the loop's own np.empty included
        x, y = x.view(_counting.Counted), y.view(_counting.Counted)
        ws, bs = [w.view(_counting.Counted) for w in ws], [b.view(_counting.Counted) for b in bs]
        plain_numpy.np = _counting.namespace(np)
    step = plain_numpy._inplace_step(ws, bs, 0.0314, np.float64)
    perm_rng = np.random.default_rng(1)

    def run():
        perm, loss = perm_rng.permutation(455), 0.0
        for start in range(0, 455, 8):
            idx = perm[start : start + 8]
            loss += step(x[idx], y[idx])

    return run, -(-455 // 8)


def calls_per_step(rounds: int) -> None:
    cases = {"plain NumPy loop (inplace)": plain_epoch, "xmlp, fast paths": lambda counted=False: xmlp_epoch(True, counted),
             "xmlp, generic Array API code": lambda counted=False: xmlp_epoch(False, counted)}
    print("# 42 setup (30-24-24-2, batch 8, float64, SGD, loss only): array operations and time per training step")
    print(f"# time: median (min-max) over {rounds} interleaved rounds of 20 epochs")
    runs = {name: make() for name, make in cases.items()}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds + 1):
        for name, (run, steps) in runs.items():
            t0 = time.perf_counter()
            for _ in range(20):
                run()
            times[name].append((time.perf_counter() - t0) / (20 * steps))
    print(f"{'implementation':<32} {'ops/step':>9} {'us/step':>9} {'min-max us':>14}")
    for name, make in cases.items():
        run, steps = make(counted=True)
        run()  # the first epoch makes the buffers
        _counting.Counted.calls = 0
        run()
        ops = _counting.Counted.calls / steps
        plain_numpy.np = np
        ts = times[name][1:]
        print(f"{name:<32} {ops:9.1f} {statistics.median(ts) * 1e6:9.1f} {min(ts) * 1e6:6.1f}-{max(ts) * 1e6:<6.1f}")


def step_allocations() -> None:
    """tracemalloc's peak above the memory before, over steps 3-5 of the 42 setup (the
    trainer's per-batch lines), with NumPy's iteration buffer at its default and at 16."""
    import tracemalloc

    print("# bytes allocated (tracemalloc peak) during a training step after the first, 42 setup, SGD")
    print(f"{'implementation':<32} {'default buffer':>15} {'bufsize 16':>11}")
    for name, fast in (("xmlp, fast paths", True), ("xmlp, generic Array API code", False)):
        row = []
        for bufsize in (np.getbufsize(), 16):
            be = backends.get_backend("cpu", fast=fast)
            net, opt, data, rng = setup_42(be, 64)
            idx = be.asarray(rng.permutation(64), be.index_dtype)
            loss_sum = be.xp.zeros((), dtype=net.dtype)
            peak = 0
            for i in range(6):
                if i == 3:
                    old = np.setbufsize(bufsize)
                    tracemalloc.start()
                    base = tracemalloc.get_traced_memory()[0]
                xb, yb = net.gather(data, idx[8 * i : 8 * i + 8])
                loss, _ = net.train_step(xb, yb, 8)
                opt.step()
                loss_sum += loss
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            np.setbufsize(old)
            row.append(peak)
        print(f"{name:<32} {row[0]:15d} {row[1]:11d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    calls_per_step(args.rounds)
    print()
    step_allocations()
    print()
    xp = backends.get_backend("cpu").xp
    rng = np.random.default_rng(0)
    data = rng.standard_normal((STEPS * BATCH, 794), dtype=np.float32)  # [X | one-hot Y]
    idx = rng.permutation(data.shape[0])
    shapes = [(784, 256), (256, 128), (128, 10)]
    ws = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
    bs = [np.zeros(s[1], np.float32) for s in shapes]
    grads = [np.ones_like(w) for w in ws]
    z = [np.ones((BATCH, s[1]), np.float32) for s in shapes]
    masks = [xp.astype(a > 0.0, a.dtype) for a in z[:2]]
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    loss = SoftmaxCrossEntropy()
    print(f"# non-GEMM array calls of one xmlp step, {STEPS} steps (one MNIST-scale epoch)")
    total = 0.0
    total += timed("take the batch rows of [X | Y]", lambda i: xp.take(data, idx[i * BATCH : (i + 1) * BATCH], axis=0))
    total += timed("bias add in place (3 layers)", lambda i: [a.__iadd__(b) for a, b in zip(z, bs)])
    total += timed("ReLU forward: mask, multiply (2 layers)", lambda i: [a * xp.astype(a > 0.0, a.dtype) for a in z[:2]])
    total += timed("ReLU backward: multiply by mask (2)", lambda i: [g * m for g, m in zip(z[:2], masks)])
    total += timed("bias gradients: column sums (3)", lambda i: [xp.sum(g, axis=0) for g in z])
    total += timed("fused softmax cross-entropy", lambda i: loss.forward_backward(xp, z[2], y))
    total += timed("SGD p -= lr * g (6 parameters)", lambda i: [p.__isub__(0.01 * g) for p, g in zip(ws + bs, grads + bs)])
    gemm, rate = gemm_epoch(data[:, :784])
    print(f"{'non-GEMM total':<40} {total * 1e3:8.1f} ms/epoch")
    print(f"{'the 8 GEMMs of each step':<40} {gemm * 1e3:8.1f} ms/epoch   ({rate:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
