"""Data at scale (#10): CSV parse time and peak memory of xmlp against pandas (C engine) and
NumPy's ``loadtxt`` on the same synthetic file, and the epoch time and peak memory of ``xmlp
train`` at batch 256, in memory and streaming (``--stream``; the finer streaming table: ``_stream_bench.py``).

Every measurement runs in a fresh process (``--child``), which reports its own peak resident
memory (VmHWM: per address space, so it starts afresh at exec, unlike ``ru_maxrss`` which Linux
carries over from the forking parent) and its own time; the cases of one size are interleaved,
``--repeats`` rounds, and the table shows medians, min-max and ratios to pandas of the same run.

The files (id, label M/B, 30 features; no header, the subject's layout) are written in chunks into
a temporary folder and deleted after: 10^5 rows ~ 26 MB, 10^6 ~ 264 MB, 10^7 ~ 2.6 GB.

    python benchmarks/bench_data.py                  # 10^5 and 10^6 rows
    python benchmarks/bench_data.py --rows 1e7 --no-train   # the 10^7 parse (2.6 GB of disk)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
from _harness import header, skipped
from _stream_bench import (
    train_streaming,  # the streaming row (its finer table: _stream_bench.py)
)

FEATURES = 30
POOL = 1 << 17  # distinct formatted rows; a big file repeats them in a random order (ids stay unique)


def write_csv(path: Path, rows: int, seed: int = 0, chunk: int = 1 << 18) -> int:
    """A synthetic data file of ``rows`` rows, written in chunks (bounded memory); its size."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((POOL, FEATURES)) * rng.uniform(0.5, 20.0, FEATURES) + rng.uniform(-5, 50, FEATURES)
    score = x[:, :3].sum(axis=1) - np.median(x[:, :3].sum(axis=1)) + rng.standard_normal(POOL)
    labels = np.where(score > 0, "M", "B")
    body = [",".join([lab] + [f"{v:.5g}" for v in row]) for lab, row in zip(labels, x)]
    with open(path, "w") as fh:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            picks = rng.integers(0, POOL, n)
            fh.write("".join(f"{start + i + 1},{body[p]}\n" for i, p in enumerate(picks.tolist())))
    return path.stat().st_size


def peak_mib() -> float:
    """This process's peak resident memory (VmHWM), MiB."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------ parsers (one per child process)
def parse_xmlp(path: str, engine: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What ``xmlp train`` reads: features as float32 and labels (ids dropped)."""
    from xmlp.data.csv import read_table

    table = read_table(path, dtype="float32", store="float32", keep_ids=False, engine_name=engine)
    return table.x, table.y


def parse_xmlp_exact(path: str) -> tuple[np.ndarray, np.ndarray]:
    from xmlp.data.csv.exact import read_exact

    table = read_exact(path, dtype="float32", store="float32")
    return table.x, table.y


def parse_pandas(path: str) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    # The careful version: the C engine told the types, so features land as float32 at once.
    types = {0: np.int64, 1: str, **{k: np.float32 for k in range(2, 2 + FEATURES)}}
    df = pd.read_csv(path, header=None, engine="c", dtype=types)
    labels = df[1].to_numpy()
    return df.iloc[:, 2:].to_numpy(np.float32), labels


def parse_loadtxt(path: str) -> tuple[np.ndarray, np.ndarray]:
    # loadtxt's C parser, features only (a second pass for the labels would double its time).
    x = np.loadtxt(path, delimiter=",", usecols=range(2, 2 + FEATURES), dtype=np.float32)
    return x, np.empty(0)


def parse_pyarrow(path: str) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.csv as pc

    names = ["id", "label"] + [f"f{k}" for k in range(FEATURES)]
    table = pc.read_csv(path, read_options=pc.ReadOptions(column_names=names),
                        convert_options=pc.ConvertOptions(column_types={n: pa.float32() for n in names[2:]}))
    x = np.empty((table.num_rows, FEATURES), dtype=np.float32)
    for k, n in enumerate(names[2:]):
        x[:, k] = table.column(n).to_numpy()
    return x, table.column("label").to_numpy()


def parse_polars(path: str) -> tuple[np.ndarray, np.ndarray]:
    import polars as pl

    schema = {"id": pl.Int64, "label": pl.String, **{f"f{k}": pl.Float32 for k in range(FEATURES)}}
    df = pl.read_csv(path, has_header=False, schema=schema)
    return df.select(pl.exclude("id", "label")).to_numpy(), df["label"].to_numpy()


PARSERS: dict[str, tuple[Callable[[str], tuple[np.ndarray, np.ndarray]], str | None]] = {
    "xmlp (polars)": (parse_xmlp, "polars"),
    "xmlp (numpy loadtxt)": (lambda path: parse_xmlp(path, "numpy"), None),
    "pandas read_csv (C)": (parse_pandas, "pandas"),
    "numpy loadtxt": (parse_loadtxt, None),
    "pyarrow read_csv": (parse_pyarrow, "pyarrow"),
    "polars read_csv": (parse_polars, "polars"),
    "xmlp exact reader": (parse_xmlp_exact, None),  # the per-cell Python reader (opt-in: ~40 s per 10^6 rows)
}
DEFAULT_PARSERS = [name for name in PARSERS if name != "xmlp exact reader"]


# ------------------------------------------------------------------ training (one per child process)
def _timed_train(path: str, *argv: str) -> float:
    """The wall time of one ``xmlp train --data path --epochs 1 … argv`` (read included), in a
    temporary run folder."""
    from xmlp.cli import main

    out = tempfile.mkdtemp(prefix="bench-run-")
    try:
        t0 = time.perf_counter()
        code = main(["train", "--data", path, "--epochs", "1", "--out", out + "/run", "--quiet", "--no-plots", *argv])
        took = time.perf_counter() - t0
        if code != 0:
            raise SystemExit(f"xmlp train failed: {code}")
        return took
    finally:
        shutil.rmtree(out, ignore_errors=True)


def train_in_memory(path: str, *extra: str) -> float:
    """``xmlp train`` at batch 256, one epoch, in memory. Plain standardisation and no refit: the
    Yeo-Johnson λ search and the refit's second training are costs of their own, not of reading
    and holding the data."""
    return _timed_train(path, "--batch-size", "256", "--preprocess", "standardize", "--no-refit", *extra)


def train_defaults(path: str) -> float:
    """``xmlp train --data FILE --epochs 1 --batch-size 1024`` with every other default (Yeo-Johnson,
    input noise, the refit rule): what a big-data user runs first."""
    return _timed_train(path, "--batch-size", "1024")


#: name -> function(path) -> seconds. The streaming sources add theirs here (e.g. "xmlp train, streaming").
TRAIN_CASES: dict[str, Callable[[str], float]] = {
    "defaults, batch 1024": train_defaults,
    "in memory": train_in_memory,
    # The default input noise draws one (rows, features) array per epoch: a cost of the trainer's.
    "in memory, --input-noise 0": lambda path: train_in_memory(path, "--input-noise", "0"),
    "streaming": train_streaming,
}


def child(kind: str, name: str, path: str) -> None:
    if kind == "parse":
        fn, module = PARSERS[name]
        for lib in filter(None, [module, "xmlp.data.csv.fast", "xmlp.data.csv.exact"]):
            __import__(lib)  # imports are not parsing: outside the timing, for every reader alike
        t0 = time.perf_counter()
        x, y = fn(path)
        took = time.perf_counter() - t0
        print(json.dumps({"s": took, "peak": peak_mib(), "rows": int(x.shape[0]), "result_mib": x.nbytes / 2**20,
                          "checksum": float(np.float64(x[:, :3].sum(dtype=np.float64)))}))
    else:
        took = TRAIN_CASES[name](path)
        print(json.dumps({"s": took, "peak": peak_mib()}))


def measure(kind: str, name: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, name, str(path)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{name}: {out.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def available(module: str | None) -> bool:
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def run_table(kind: str, cases: list[str], path: Path, repeats: int, reference: str | None) -> dict[str, float]:
    results: dict[str, list[dict[str, float]]] = {n: [] for n in cases}
    for _ in range(repeats):  # interleaved: the machine's noise hits every case alike
        for name in cases:
            results[name].append(measure(kind, name, path))
    base = statistics.median(r["s"] for r in results[reference]) if reference in results else None
    print(f"{'case':<28} {'median s':>9} {'min-max s':>15} {'ratio':>7} {'peak MiB':>9} {'peak / result':>14}")
    for name, rs in results.items():
        ts = [r["s"] for r in rs]
        med = statistics.median(ts)
        peak = statistics.median(r["peak"] for r in rs)
        ratio = f"{med / base:6.2f}x" if base else "   -   "
        share = f"{peak / rs[0]['result_mib']:13.2f}x" if rs[0].get("result_mib") else ""
        print(f"{name:<28} {med:9.2f} {min(ts):7.2f}-{max(ts):<7.2f} {ratio:>7} {peak:9.0f} {share}")
    sums = {n: rs[0]["checksum"] for n, rs in results.items() if "checksum" in rs[0]}
    if len(set(np.round(list(sums.values()), 3))) > 1:
        print(f"# WARNING: the readers disagree on the data: {sums}")
    return {name: statistics.median(r["peak"] for r in rs) for name, rs in results.items()}


def growth(kind: str, peaks: dict[int, dict[str, float]], unit: Callable[[int], float], what: str) -> None:
    """Peak memory per MiB of ``what`` between the smallest and the largest size: the factor of
    "peak <= factor x size + a constant" (the constant — interpreter, libraries — cancels out)."""
    if len(peaks) < 2:
        return
    lo, hi = min(peaks), max(peaks)
    print(f"\n### {kind}: peak growth per MiB of {what}, {lo:,} -> {hi:,} rows")
    for name in peaks[hi]:
        if name in peaks[lo]:
            print(f"{name:<28} {(peaks[hi][name] - peaks[lo][name]) / (unit(hi) - unit(lo)):6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=["1e5", "1e6"], help="file sizes in rows (1e7 writes 2.6 GB)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--parsers", nargs="+", default=None, help=f"among: {', '.join(PARSERS)}")
    parser.add_argument("--no-train", action="store_true", help="parse tables only")
    parser.add_argument("--train-cases", nargs="+", default=None, help=f"among: {', '.join(TRAIN_CASES)}")
    parser.add_argument("--no-parse", action="store_true", help="training tables only")
    parser.add_argument("--tmp", default=None, help="folder for the temporary files (default: the system's)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    header("bench_data: CSV parse and in-memory training at scale")
    names = args.parsers or DEFAULT_PARSERS
    parse_peaks: dict[int, dict[str, float]] = {}
    train_peaks: dict[int, dict[str, float]] = {}
    for raw in args.rows:
        rows = int(float(raw))
        folder = Path(tempfile.mkdtemp(prefix="xmlp-bench-data-", dir=args.tmp))
        try:
            path = folder / f"data-{rows}.csv"
            t0 = time.perf_counter()
            size = write_csv(path, rows)
            print(f"\n## {rows:,} rows x {FEATURES} features: {size / 1e6:,.0f} MB "
                  f"(written in {time.perf_counter() - t0:.0f} s); float32 result {rows * FEATURES * 4 / 2**20:,.0f} MiB")
            if not args.no_parse:
                cases = []
                for name in names:
                    if available(PARSERS[name][1]):
                        cases.append(name)
                    else:
                        skipped(name, f"{PARSERS[name][1]} not installed")
                print(f"### parse (reference: pandas; {args.repeats} repeats, each in a fresh process)")
                parse_peaks[rows] = run_table("parse", cases, path, args.repeats, "pandas read_csv (C)")
            if not args.no_train:
                print(f"### xmlp train --epochs 1: 'defaults' with --batch-size 1024 and every other default; the "
                      f"others --batch-size 256 --preprocess standardize --no-refit (read, standardise, one epoch; "
                      f"{args.repeats} repeats); training rows (float32 features and one-hot targets) "
                      f"{training_mib(rows):,.0f} MiB")
                train_peaks[rows] = run_table("train", args.train_cases or list(TRAIN_CASES), path, args.repeats, None)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    growth("parse", parse_peaks, lambda n: n * FEATURES * 4 / 2**20, "the float32 result")
    growth("train", train_peaks, training_mib, "the training arrays")


def training_mib(rows: int) -> float:
    """The float32 features and one-hot targets of all rows (training and validation parts), MiB."""
    return rows * (FEATURES + 2) * 4 / 2**20


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
