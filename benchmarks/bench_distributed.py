"""Data parallelism on one machine: MNIST scale (784 -> 256 -> 128 -> 10, float32, 60,000
random rows, one epoch), 1 process x 2 BLAS threads against 2 MPI processes x 1 thread (exact
mode), per batch size: the epoch, the share of it in the gradient all-reduce, and the batch size
below which communication dominates. Then a projection on paper (not a measurement) of 8 GPUs.

    python benchmarks/bench_distributed.py [--repeats 3] [--rows 60000] [--batches 32 128 512]

Needs `pip install '.[mpi]'` (mpi4py, MPICH's mpiexec). Each configuration runs in fresh
processes (so the BLAS thread count is set before NumPy loads), interleaved over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _harness  # noqa: F401  (puts the repository on sys.path)

HERE = Path(__file__).resolve()
HIDDEN, LR = [256, 128], 0.01
PARAMS = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10


# ----------------------------------------------------------------------------- one configuration
def child(rows: int, batch: int) -> None:
    """One epoch here (rank 0 prints JSON): seconds of the epoch, of the gradient all-reduces
    (MPI calls alone, waiting included), of the whole gradient sync (+ the flat-buffer copies),
    and of back-to-back all-reduces of the same buffer (the transport's own cost)."""
    import numpy as np

    import xmlp
    from xmlp.backends import comm
    from xmlp.training import parallel

    world = comm.world
    from bench_mnist import data
    from peers import EpochTimer

    comm = world(force=int(os.environ.get("BENCH_RANKS", "1")) > 1)
    backend = xmlp.get_backend("cpu")
    comm = comm.bind(backend)
    spent = {"allreduce": 0.0, "sync": 0.0, "steps": 0}
    if comm.size > 1:
        inner = comm._sum  # type: ignore[attr-defined]

        def timed_sum(buf):
            t0 = time.perf_counter()
            inner(buf)
            spent["allreduce"] += time.perf_counter() - t0

        comm._sum = timed_sum  # type: ignore[attr-defined]

        class TimedSync(parallel.GradientSync):
            def __init__(self, network, c, weighted=False):
                super().__init__(network, c, weighted)
                step = self.step

                def timed(w_sum=None):
                    t0 = time.perf_counter()
                    step(w_sum)
                    spent["sync"] += time.perf_counter() - t0
                    spent["steps"] += 1

                self.step = timed

        parallel.GradientSync = TimedSync
    x, y, _ = data(rows)
    timer = EpochTimer()
    model = xmlp.Sequential([xmlp.Dense(h, "relu") for h in HIDDEN] + [xmlp.Dense(10, "softmax")], backend=backend,
                            preprocess=None)
    model.fit(x, y, epochs=1, batch_size=batch, learning_rate=LR, seed=0, metrics=(), callbacks=[timer],
              partition=parallel.Partition(comm) if comm.size > 1 else None)
    bare = 0.0
    if comm.size > 1:
        buf = np.zeros(PARAMS, dtype=np.float32)
        comm.barrier()
        t0 = time.perf_counter()
        for _ in range(100):
            inner(buf)
        bare = (time.perf_counter() - t0) / 100
    if comm.rank == 0:
        print(json.dumps({"epoch": timer.seconds[0], "allreduce": spent["allreduce"], "sync": spent["sync"],
                          "steps": spent["steps"], "bare_allreduce": bare}))


def launch(ranks: int, threads: int, rows: int, batch: int, mpiexec: str | None) -> dict[str, float]:
    env = {**os.environ, "BENCH_RANKS": str(ranks)}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    command = [sys.executable, str(HERE), "--child", "--rows", str(rows), "--batch", str(batch)]
    if ranks > 1:
        assert mpiexec is not None
        command = [mpiexec, "-n", str(ranks), *command]
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------- the tables
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rows, args.batch)
        return

    here = Path(sys.executable).parent / "mpiexec"
    mpiexec = str(here) if here.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        mpiexec = None
    _harness.header(f"data parallel, MNIST scale: {args.rows} rows, 784-256-128-10 ReLU, 1 epoch, SGD, float32; "
                    f"median of {args.repeats} interleaved runs, each in fresh processes")
    if mpiexec is None:
        _harness.skipped("2 MPI processes", "mpi4py or mpiexec not installed (pip install '.[mpi]')")
        return
    print(f"# load average (1, 5, 15 min) before: {', '.join(f'{v:.2f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} cpus (other work on the machine skews every row)")
    configs = {"1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1), "1 process x 1 thread": (1, 1)}
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for _ in range(args.repeats):
        for batch in args.batches:
            for name, (ranks, threads) in configs.items():
                results.setdefault((name, batch), []).append(launch(ranks, threads, args.rows, batch, mpiexec))

    def med(name: str, batch: int, key: str) -> float:
        return statistics.median(r[key] for r in results[(name, batch)])

    print(f"{'batch':>6} {'1p x 2t s':>10} {'2p x 1t s':>10} {'speedup':>8} {'1p x 1t s':>10} {'vs 1t':>6} {'all-reduce':>11} "
          f"{'sync':>6} {'bare a-r':>9} {'step':>9}")
    measured, estimates = [], []
    bare_best = min(r["bare_allreduce"] for (n, _), rs in results.items() for r in rs if n.startswith("2 "))
    for batch in args.batches:
        one, two, single = (med(n, batch, "epoch") for n in configs)
        reduce_share = med("2 processes x 1 thread", batch, "allreduce") / two
        sync_share = med("2 processes x 1 thread", batch, "sync") / two
        steps = -(-args.rows // batch)
        bare = med("2 processes x 1 thread", batch, "bare_allreduce")
        print(f"{batch:>6} {one:>10.3f} {two:>10.3f} {one / two:>7.2f}x {single:>10.3f} {single / two:>5.2f}x {reduce_share:>10.0%} "
              f"{sync_share:>6.0%} {bare * 1e6:>6.0f} us {two / steps * 1e6:>6.0f} us")
        measured.append((batch, reduce_share))
        half = single / steps / 2  # each process computes half of the 1-thread step
        estimates.append((batch, bare_best / (half + bare_best), single / steps / (half + bare_best)))
    print("# speedup: 1p x 2t / 2p x 1t; vs 1t: 1p x 1t / 2p x 1t; all-reduce: share of the 2-process epoch in the gradient all-reduce calls (waiting for the other "
          "process included); sync: the same plus copying the gradients into the flat buffer and back; bare a-r: "
          f"one all-reduce of the {PARAMS:,}-element float32 buffer alone, back to back; step: the 2-process epoch "
          "per step")
    print(f"# measured: {verdict(measured)}")
    print(f"# estimate from the parts (what an otherwise idle machine would give): a 2-process step = half the "
          f"1-thread step + the fastest bare all-reduce ({bare_best * 1e6:.0f} us)")
    for batch, share, speedup in estimates:
        print(f"#   batch {batch:>5}: all-reduce {share:4.0%} of the step, {speedup:.2f}x the 1-thread epoch")
    print(f"#   {verdict([(b, share) for b, share, _ in estimates])}")
    projection()


def verdict(shares: list[tuple[int, float]]) -> str:
    """Where the all-reduce takes half the step or more (the batch sizes below the crossover)."""
    dominated = [b for b, share in shares if share >= 0.5]
    if not dominated:
        return f"communication dominates (>= 50%) at none of the batch sizes tried ({shares[0][0]} and up)"
    if len(dominated) == len(shares):
        return f"communication dominates (>= 50%) at every batch size tried (up to {shares[-1][0]})"
    return f"communication dominates (>= 50%) below batch {min(b for b, share in shares if share < 0.5)}"


def projection(gpus: int = 8, step: float = 125e-6) -> None:
    """On paper: the model's gradient is 0.94 MB in float32; a ring all-reduce moves
    2 (W - 1) / W of it through each GPU's link, after a fixed latency."""
    size = PARAMS * 4
    print(f"# PROJECTION on paper, not measured (no GPU here): {gpus} GPUs, NCCL ring all-reduce of the "
          f"gradient ({size / 1e6:.2f} MB float32) once per step; one GPU's step at this size assumed launch-bound, "
          f"~25 kernels x ~5 us = {step * 1e6:.0f} us whatever its batch (bench_gpu.py has not run on a GPU yet)")
    for link, bandwidth, latency in (("NVLink/NVSwitch (H100 SXM; ~100 GB/s bus bandwidth at 1 MB)", 100e9, 20e-6),
                                     ("PCIe Gen4 (~10 GB/s)", 10e9, 30e-6)):
        t = latency + 2 * (gpus - 1) / gpus * size / bandwidth
        weak = gpus * step / (step + t)
        print(f"#   {link}: all-reduce ~{t * 1e6:.0f} us; global batch 128 split {gpus} ways: "
              f"{step / (step + t):.2f}x (slower: each GPU still pays the launches); 128 rows per GPU "
              f"(global {128 * gpus}): {weak:.1f}x the throughput of one GPU")

if __name__ == "__main__":
    main()
