"""Shared pieces of the benchmark programs: machine header, interleaved timing, tables."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def header(title: str) -> None:
    import xmlp

    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"xmlp {xmlp.__version__}"]
    for name in ("torch", "sklearn", "cupy"):
        try:
            versions.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            versions.append(f"{name} not installed")
    blas = "BLAS unknown"
    try:
        from threadpoolctl import threadpool_info

        info = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        info = [i for i in info if "numpy" in i.get("filepath", "")] or info  # NumPy's own BLAS
        if info:
            blas = f"{info[0]['internal_api']} {info[0]['version']} ({info[0].get('architecture')}), {info[0]['num_threads']} threads"
    except ImportError:
        pass
    env = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
    print(f"# {title}")
    print(f"# {time.strftime('%Y-%m-%d')}  {platform.node()}  {platform.machine()}  {os.cpu_count()} cpus  "
          f"{_cpu_model()}")
    print(f"# {', '.join(versions)}")
    print(f"# {blas}" + (f"; env {env}" if env else ""))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def interleaved(cases: dict[str, Callable[[], float | None]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Run every case once per round, ``repeats`` rounds (after ``warmup``), so that machine
    noise hits all alike. A case may return its own measured seconds (e.g. one epoch)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(warmup + repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            own = fn()
            took = own if own is not None else time.perf_counter() - t0
            if r >= warmup:
                times[name].append(took)
    return times


def fastest(times: dict[str, list[float]], prefix: str) -> str:
    """The case named ``prefix…`` with the lowest median: the reference of a table (the best of
    the plain-loop variants in this run, never a handicapped one)."""
    return min((k for k in times if k.startswith(prefix)), key=lambda k: statistics.median(times[k]))


def table(times: dict[str, list[float]], baseline: str, extra: dict[str, str] | None = None) -> None:
    print(f"# reference (ratio 1.00): {baseline}")
    base = statistics.median(times[baseline])
    print(f"{'implementation':<34} {'median s':>9} {'min-max s':>17} {'ratio':>8}")
    for name, ts in times.items():
        med = statistics.median(ts)
        note = f"  {extra[name]}" if extra and name in extra else ""
        print(f"{name:<34} {med:9.3f} {min(ts):8.3f}-{max(ts):<8.3f} {med / base:7.2f}x{note}")


def skipped(name: str, why: str) -> None:
    print(f"# {name}: skipped ({why})")
