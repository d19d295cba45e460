"""The streaming rows of the data benchmark: epoch time and peak RSS of training at batch 256
with the rows in memory vs streamed from a file in chunks (a memory-mapped .npy; a CSV file).

Each case runs in its own child process, so its peak RSS is its own (``ru_maxrss``); the cases
of one size alternate, ``repeats`` rounds. ``bench_data.py`` calls ``stream_table``; alone:

    python benchmarks/_stream_bench.py --rows 1000000 [--repeats 3] [--csv] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _harness
import numpy as np

FEATURES = 30
BATCH = 256
CHUNK = 65536


def make_files(folder: Path, rows: int, csv: bool, seed: int = 0, pool: int = 1 << 16) -> dict[str, Path]:
    """x.npy (float32 rows x 30), y.npy (int8 labels) and, with ``csv``, data.csv in the subject's
    layout holding the same rows: drawn from a pool of ``pool`` distinct rows (formatted once),
    written 10^5 rows at a time (never the whole data in memory)."""
    rng = np.random.default_rng(seed)
    labels_pool = rng.integers(0, 2, pool).astype(np.int8)
    shift = rng.standard_normal(FEATURES).astype(np.float32)
    x_pool = rng.standard_normal((pool, FEATURES)).astype(np.float32) + labels_pool[:, None] * shift
    x_pool = np.char.mod("%.6g", x_pool).astype(np.float32)  # the values the CSV holds, exactly
    text = [f"{'MB'[lab]}," + ",".join(f"{v:.6g}" for v in row) for lab, row in zip(labels_pool, x_pool.tolist())]
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    y = np.lib.format.open_memmap(folder / "y.npy", mode="w+", dtype=np.int8, shape=(rows,))
    fh = open(folder / "data.csv", "w") if csv else None
    for lo in range(0, rows, 100_000):
        picks = rng.integers(0, pool, min(lo + 100_000, rows) - lo)
        x[lo : lo + len(picks)], y[lo : lo + len(picks)] = x_pool[picks], labels_pool[picks]
        if fh is not None:
            fh.write("".join(f"{lo + i},{text[p]}\n" for i, p in enumerate(picks.tolist())))
    x.flush(), y.flush()
    del x, y
    if fh is not None:
        fh.close()
    return {"npy": folder / "x.npy", "labels": folder / "y.npy", "csv": folder / "data.csv"}


def child(case: str, folder: Path, epochs: int) -> dict[str, float]:
    """One case, measured in this process: first-pass/load seconds, seconds per epoch, peak RSS."""
    import xmlp
    from xmlp.data.csv.source import CsvSource
    from xmlp.data.npy import NpySource
    from xmlp.data.spill import Spilled

    times: list[float] = []

    class Clock(xmlp.Callback):
        def on_epoch_begin(self, epoch: int, n_batches: int) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
            times.append(time.perf_counter() - self.t0)
            return False

    model = xmlp.Sequential([xmlp.Dense(24, "tanh"), xmlp.Dense(24, "tanh"), xmlp.Dense(2, "softmax")],
                            preprocess="standardize")
    t0 = time.perf_counter()
    if case == "in memory (.npy loaded)":
        x, y = np.load(folder / "x.npy"), np.load(folder / "y.npy")
        args: tuple[object, object] = (x, y)
    elif case == "streamed .npy (memory map)":
        args = (NpySource(folder / "x.npy", folder / "y.npy", chunk_rows=CHUNK), None)
    elif case == "streamed CSV (parsed every epoch)":
        args = (CsvSource(folder / "data.csv", chunk_rows=CHUNK, dtype="float32"), None)
    else:  # what xmlp train --stream does: parsed once, a binary copy read by later passes
        args = (Spilled(CsvSource(folder / "data.csv", chunk_rows=CHUNK, dtype="float32"), folder=folder), None)
    # (a CSV in memory: bench_data.py's "xmlp train, in memory" row, against "xmlp train, streaming")
    opened = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.fit(*args, epochs=epochs, batch_size=BATCH, seed=0, metrics=("accuracy",), callbacks=[Clock()])
    total = time.perf_counter() - t0
    peak = _peak_rss()
    return {"open": opened, "before_epochs": total - sum(times), "epoch": min(times), "peak": peak}


def train_streaming(path: str) -> float:
    """``xmlp train --stream`` at batch 256, one epoch: its wall time (first pass included); a
    row of bench_data.py's training table."""
    import shutil

    from xmlp.cli import main

    out = tempfile.mkdtemp(prefix="bench-run-")
    try:
        t0 = time.perf_counter()
        code = main(["train", "--data", path, "--stream", "--epochs", "1", "--batch-size", "256", "--out",
                     out + "/run", "--quiet", "--no-plots"])
        if code != 0:
            raise SystemExit(f"xmlp train --stream failed: {code}")
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _peak_rss() -> int:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited from the
    parent that started it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_child(case: str, folder: Path, epochs: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", case, "--dir", str(folder), "--epochs", str(epochs)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{case}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def stream_table(rows: int, *, repeats: int = 3, csv: bool = False, epochs: int = 2, folder: str | None = None) -> None:
    """Print the table for ``rows`` rows: in memory vs streamed, interleaved ``repeats`` rounds."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        t0 = time.perf_counter()
        make_files(Path(tmp), rows, csv)
        size = (Path(tmp) / "x.npy").stat().st_size
        print(f"# {rows:,} rows x {FEATURES} features (x.npy {size / 2**20:,.0f} MiB"
              + (f", data.csv {(Path(tmp) / 'data.csv').stat().st_size / 2**20:,.0f} MiB" if csv else "")
              + f"; written in {time.perf_counter() - t0:.0f} s); batch {BATCH}, chunks of {CHUNK:,} rows, "
              f"24-24 tanh, standardize, float32, best of {epochs} epochs per run, {repeats} runs")
        cases = ["in memory (.npy loaded)", "streamed .npy (memory map)"] + (["streamed CSV (parsed every epoch)", "streamed CSV (parsed once)"] if csv else [])
        results: dict[str, list[dict[str, float]]] = {c: [] for c in cases}
        for _ in range(repeats):
            for case in cases:
                results[case].append(_run_child(case, Path(tmp), epochs))
    base = statistics.median(r["epoch"] for r in results[cases[0]])
    print(f"{'case':<34} {'epoch s (median)':>16} {'min-max':>15} {'ratio':>6} {'before epochs s':>15} {'peak RSS MiB':>12}")
    for case, runs in results.items():
        ep = [r["epoch"] for r in runs]
        pre = statistics.median(r["before_epochs"] + r["open"] for r in runs)
        peak = max(r["peak"] for r in runs) / 2**20
        print(f"{case:<34} {statistics.median(ep):16.2f} {min(ep):7.2f}-{max(ep):<7.2f} {statistics.median(ep) / base:5.2f}x"
              f" {pre:15.1f} {peak:12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--csv", action="store_true", help="also stream a CSV file")
    parser.add_argument("--dir", help="folder for the temporary files (default: the system's)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, Path(args.dir), args.epochs)))
        return
    _harness.header("streaming: training epoch and peak RSS, in memory vs streamed (machine shared and loaded)")
    for rows in args.rows:
        stream_table(rows, repeats=args.repeats, csv=args.csv, epochs=args.epochs, folder=args.dir)


if __name__ == "__main__":
    main()
