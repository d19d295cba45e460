"""GPU: xmlp on CuPy vs PyTorch CUDA (and the CPU for reference), MNIST scale, per batch size,
and the batch size from which the GPU epoch is faster than the CPU epoch.

Part of ``gpu_check.sh``; on a machine without CUDA the GPU rows are skipped with a note.

    python benchmarks/bench_gpu.py [--rows 60000] [--batches 32 128 512 2048] [--repeats 3]
        [--gpu cuda] [--cpu numpy]
"""

from __future__ import annotations

import argparse
import statistics

import _harness
import numpy as np
import peers
from bench_mnist import HIDDEN, LR, data

import xmlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128, 512, 2048])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpu", default="cuda", help="xmlp backend spec of the GPU (default cuda = CuPy)")
    parser.add_argument("--cpu", default="numpy", help="xmlp backend spec of the CPU reference")
    args = parser.parse_args()

    x, y, labels = data(args.rows)
    gpu = cpu_ok = None
    try:
        gpu = xmlp.get_backend(args.gpu)
    except xmlp.BackendError as exc:
        _harness.skipped(f"xmlp {args.gpu}", str(exc))
    torch_cuda = None
    try:
        import torch

        if torch.cuda.is_available():
            torch_cuda = "cuda"
        else:
            _harness.skipped("PyTorch CUDA", "torch sees no CUDA device")
    except ImportError:
        _harness.skipped("PyTorch CUDA", "torch not installed")
    cpu_ok = xmlp.get_backend(args.cpu)

    _harness.header(f"GPU vs CPU, MNIST scale: {args.rows} rows, 784-256-128-10 ReLU, 1 epoch, SGD, float32; "
                    f"median of {args.repeats}; times are epochs (xmlp: first batch to metrics on the host)")
    if gpu is not None and gpu.name == "cupy":
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(gpu.device.id)
        print(f"# GPU: {props['name'].decode()}, CuPy {cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}")
    print(f"{'batch':>6} {'xmlp ' + args.cpu:>14} {'xmlp ' + args.gpu:>14} {'torch cuda':>12} {'gpu/cpu':>8}")
    overtakes = None
    for batch in args.batches:
        setup = dict(hidden=HIDDEN, epochs=1, batch=batch, lr=LR, dtype=np.float32, val=None)
        cases = {"cpu": peers.xmlp_fit(x, y, labels, **setup, backend=cpu_ok, epoch_only=True)}
        if gpu is not None:
            cases["gpu"] = peers.xmlp_fit(x, y, labels, **setup, backend=gpu, epoch_only=True)
        if torch_cuda:
            cases["torch"] = peers.torch_nn(x, y, labels, **setup, device=torch_cuda)
        times = {k: statistics.median(v) for k, v in _harness.interleaved(cases, args.repeats).items()}
        ratio = times["gpu"] / times["cpu"] if "gpu" in times else float("nan")
        if overtakes is None and ratio < 1.0:
            overtakes = batch
        cells = {k: f"{times[k]:.3f} s" if k in times else "—" for k in ("cpu", "gpu", "torch")}
        shown = f"{ratio:.2f}x" if ratio == ratio else "—"
        print(f"{batch:>6} {cells['cpu']:>14} {cells['gpu']:>14} {cells['torch']:>12} {shown:>8}")
    if gpu is not None:
        print(f"# the GPU epoch is faster than the CPU epoch from batch size "
              f"{overtakes if overtakes is not None else '> ' + str(args.batches[-1])} on (of {args.batches})")


if __name__ == "__main__":
    main()
