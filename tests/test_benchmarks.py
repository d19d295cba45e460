"""The benchmark programs run and print their tables (no timing is asserted: these machines
are shared and noisy, timings belong in benchmarks/README.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def run(*argv: str) -> str:
    out = subprocess.run([sys.executable, *argv], capture_output=True, text=True, cwd=BENCH, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.slow
def test_bench_42_prints_every_implementation():
    out = run("bench_42.py", "--repeats", "1", "--epochs", "3")
    for row in ("plain NumPy loop", "xmlp numpy (loss only)", "xmlp numpy (+accuracy)"):
        assert f"\n{row} " in out
    assert "# openblas" in out or "BLAS unknown" in out


@pytest.mark.slow
def test_bench_toolkit_small():
    out = run("bench_toolkit.py", "--rows", "2001", "--repeats", "1")  # 2001 = 15·128 + 81 rows
    for row in ("xmlp plain ", "xmlp dropout 0.2 ", "xmlp batchnorm ", "xmlp layernorm ", "xmlp plain + cosine"):
        assert f"\n{row}" in out
    assert "1.00x" in out  # each library's plain network is its own reference


@pytest.mark.slow
def test_bench_mnist_small():
    out = run("bench_mnist.py", "--rows", "2000", "--repeats", "1", "--no-memory")
    assert "xmlp numpy, epoch (loss only)" in out and "GEMMs alone (same shapes)" in out
    assert "matrix products are" in out
    memory = json.loads(run("bench_mnist.py", "--rows", "2000", "--memory-child", "xmlp numpy, whole fit()"))
    assert memory["peak"] >= memory["before"] > 0


@pytest.mark.slow
def test_bench_ensemble_small():
    out = run("bench_ensemble.py", "--repeats", "1", "--epochs", "2", "--members", "1", "3", "--commands", "0")
    for row in ("xmlp K=1 (one network) ", "xmlp K=3 stacked ", "xmlp K=3 one after another "):
        assert f"\n{row}" in out
    assert "# reference (ratio 1.00): xmlp K=1 (one network)" in out


def test_bench_gpu_skips_cleanly_without_cuda():
    out = run("bench_gpu.py", "--rows", "1000", "--batches", "250", "--repeats", "1")
    assert "batch" in out and "250" in out


@pytest.mark.slow
@pytest.mark.skipif(not (BENCH.parents[1] / "shared/data/data.csv").exists(), reason="../shared/data/data.csv not present")
def test_grader_splits_two_splits():
    out = run("grader_splits.py", "--splits", "2", "--", "--epochs", "3")
    assert "grader procedure over 2 splits" in out and "under 0.08:" in out and "paired difference (options - baseline)" in out


@pytest.mark.slow
@pytest.mark.mpi
def test_bench_distributed_small(mpiexec):
    out = run("bench_distributed.py", "--rows", "2000", "--repeats", "1", "--batches", "64", "256")
    assert "2p x 1t s" in out and "communication dominates" in out and "PROJECTION on paper, not measured" in out


@pytest.mark.slow
def test_bench_data_small():
    out = run("bench_data.py", "--rows", "3000", "6000", "--repeats", "1", "--parsers", "xmlp (numpy loadtxt)",
              "numpy loadtxt", "pandas read_csv (C)")
    assert "xmlp (numpy loadtxt)" in out and "in memory, --input-noise 0" in out and "WARNING" not in out
    assert "### train: peak growth per MiB of the training arrays, 3,000 -> 6,000 rows" in out


@pytest.mark.slow
def test_stream_bench_small():
    out = run("_stream_bench.py", "--rows", "5000", "--repeats", "1", "--epochs", "1", "--csv")
    for row in ("in memory (.npy loaded)", "streamed .npy (memory map)", "streamed CSV (parsed every epoch)",
                "streamed CSV (parsed once)"):
        assert f"\n{row} " in out
    assert "peak RSS MiB" in out and "5,000 rows x 30 features" in out


@pytest.mark.slow
def test_bench_regression_prints_every_model():
    out = run("bench_regression.py", "--seeds", "0", "--folds", "2")
    for row in ("xmlp MLPRegressor() (defaults)", "sklearn MLPRegressor(max_iter=2000)", "sklearn, scaled X and y",
                "sklearn early_stopping=True", "RidgeCV"):
        assert f"\n{row} " in out


@pytest.mark.slow
def test_cli_regression_one_seed():
    pytest.importorskip("sklearn")
    out = run("cli_regression.py", "--seeds", "1")
    assert "validation R² (never trained on)" in out and "\nmedian " in out and "defaults better on" in out


@pytest.mark.slow
def test_bench_task_cost_small():
    out = run("bench_task_cost.py", "--rows", "3000", "--repeats", "1")
    for row in ("classification, defaults ", "regression, the same recipe ", "regression, its defaults "):
        assert f"\n{row}" in out
    assert "1.00x" in out
