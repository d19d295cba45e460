"""Where an xmlp training step spends its time outside the matrix products, at MNIST scale.

Times each kind of non-GEMM array call of a step (784-256-128-10, batch 128, float32, NumPy
backend) over one epoch's worth of steps, with the same calls and shapes the training loop
makes, and the GEMMs of the same step for comparison.

    python benchmarks/profile_step.py
"""

from __future__ import annotations

import time

import numpy as np

import _harness  # noqa: F401  (puts the repo on sys.path)
from xmlp import backends
from bench_mnist import gemm_epoch
from xmlp.losses import SoftmaxCrossEntropy

STEPS, BATCH = 469, 128


def timed(name: str, fn) -> float:
    t0 = time.perf_counter()
    for i in range(STEPS):
        fn(i)
    took = time.perf_counter() - t0
    print(f"{name:<40} {took * 1e3:8.1f} ms/epoch {took / STEPS * 1e6:8.1f} us/step")
    return took


def main() -> None:
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
