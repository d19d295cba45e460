"""One backend fixture for the whole suite (as Thinc does): every test that takes ``backend``
runs on numpy, the three array-api-strict devices, torch when installed, and CuPy (marked
``cuda``: skipped without CuPy and a GPU, a failure instead when XMLP_REQUIRE_CUDA=1)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

# scikit-learn's array-API dispatch (tests/test_sklearn.py) needs SciPy's own array-API mode,
# which SciPy reads once, on import: set it before anything imports SciPy.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest
from helpers import write_subject_csv

from xmlp import backends

HAS_TORCH = importlib.util.find_spec("torch") is not None

BACKEND_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("strict:cpu", id="strict-cpu"),
    pytest.param("strict:device1", id="strict-device1"),
    pytest.param("strict:no_float64", id="strict-nof64"),
    pytest.param(
        "torch", id="torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="torch not installed")
    ),
    pytest.param("cuda", id="cupy", marks=pytest.mark.cuda),
]


def make_backend(spec: str) -> backends.Backend:
    """A fresh backend; a CUDA one that cannot be had is a skip, or a failure when required."""
    try:
        return backends.get_backend(spec)
    except backends.BackendError as exc:
        if spec.startswith("cuda") and os.environ.get("XMLP_REQUIRE_CUDA") == "1":
            pytest.fail(f"XMLP_REQUIRE_CUDA=1 but {spec} is unavailable: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> backends.Backend:
    return make_backend(request.param)


@pytest.fixture
def backend64(backend) -> backends.Backend:
    """The backend, for tests that need float64 (gradient checks); skipped where it has none."""
    if not backend.supports("float64"):
        pytest.skip(f"{backend} has no float64")
    return backend


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def wdbc():
    from xmlp.datasets import load_wdbc

    return load_wdbc()


@pytest.fixture
def split(wdbc):
    """The default 80/20 stratified split of the embedded data (seed 42): xt, yt, xv, yv."""
    from xmlp.data.split import split_indices

    x, y, _ = wdbc
    tr, va = split_indices(y, 0.2, np.random.default_rng(42))
    return x[tr], y[tr], x[va], y[va]


# ----------------------------------------------------------------------------- CLI fixtures
@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """Run ``xmlp`` in-process inside an empty temporary folder: (exit code, stdout, stderr)."""
    from xmlp.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*argv):
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def subject_csv(tmp_path, wdbc):
    return write_subject_csv(tmp_path / "data.csv", wdbc)


# ----------------------------------------------------------------------------- MPI
def mpi_launcher() -> tuple[str | None, str]:
    """(mpiexec's path, or None, and why not): the one beside this Python first (the mpich
    wheel's), then the PATH's; and mpi4py importable."""
    if importlib.util.find_spec("mpi4py") is None:
        return None, "mpi4py not installed (pip install '.[mpi]')"
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    return (found, "") if found else (None, "no mpiexec found (pip install '.[mpi]' brings MPICH's)")


@pytest.fixture
def mpiexec() -> str:
    """The path of mpiexec; without MPI a skip, or a failure when XMLP_REQUIRE_MPI=1."""
    path, why = mpi_launcher()
    if path is None:
        if os.environ.get("XMLP_REQUIRE_MPI") == "1":
            pytest.fail(f"XMLP_REQUIRE_MPI=1 but MPI is unavailable: {why}")
        pytest.skip(why)
    return path
