"""The promises across versions: model files written by xmlp 0.1.0 keep loading and predicting
what they predicted then, and the default ``xmlp train`` run keeps its exact weights."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xmlp

DATA = Path(__file__).parent / "files"
# Written by `xmlp train` of xmlp 0.1.0 (commit 0e9cc1e): the default recipe (float32, Yeo-Johnson,
# refit), a 2-member float64 ensemble (standardize, Adam, --no-refit), a calibrated momentum run.
V010 = ["default", "ensemble-float64", "calibrated-momentum"]


@pytest.mark.parametrize("name", V010)
def test_a_0_1_0_model_file_predicts_what_it_predicted(backend, wdbc, name):
    if "float64" in name and not backend.supports("float64"):
        pytest.skip(f"{backend} has no float64")
    model = xmlp.load_model(DATA / "v0.1.0" / f"{name}.safetensors", backend=backend)
    x, y, _ = wdbc
    expected = np.loadtxt(DATA / "v0.1.0" / f"{name}.proba.csv", delimiter=",")
    got = np.asarray(model.predict_proba(x), dtype=np.float64)
    # The tolerances of tests/test_parity.py: float64 rtol 1e-10; float32 rtol 1e-5 / atol 1e-6 (a
    # float32 softmax of logits that differ in the last ulp across backends' BLAS and reductions).
    tol = {"rtol": 1e-10, "atol": 0.0} if model.dtype == "float64" else {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(got, expected, **tol)
    assert model.classes == ["B", "M"] and model.n_features == 30
    assert (np.asarray(model.predict(x)) == np.where(expected[:, 1] > expected[:, 0], "M", "B")).mean() > 0.999


# sha256 over (name, bytes) of every tensor of the model file of `xmlp train` with its defaults,
# sorted by name, but the training-row fingerprint (added in 0.3.0: what the weights saw, not weights). Recorded with xmlp 0.1.0 (NumPy 2.4.6 and its OpenBLAS 0.3.31, x86-64); a change
# here means the default run no longer trains the same weights bit for bit (a BLAS built for another
# CPU can differ in the last bits too: then re-record it on main before the change under test).
DEFAULT_RUN_SHA256 = "f588a510bd6084ff39eed50ef3221b051124add7bb9f63d2e9338d6c66a0b7e0"


def tensors_sha256(path: Path) -> str:
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    h = hashlib.sha256()
    for key in sorted(k for k in tensors if k.split(".")[0] != "fingerprint"):
        h.update(key.encode())
        h.update(tensors[key].tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_the_default_run_trains_the_same_weights_bit_for_bit(cli, tmp_path):
    code, _, err = cli("train", "--out", "run", "--no-plots", "--quiet")
    assert code == 0, err
    assert tensors_sha256(tmp_path / "run" / "model.safetensors") == DEFAULT_RUN_SHA256


def test_the_0_1_0_module_paths_still_import_with_a_deprecation_warning():
    """Until 0.3.0: ``import xmlp.layers``, ``from xmlp.estimator import …`` and ``xmlp.parallel``
    give the modules' new homes (the same objects) and warn, naming the new path."""
    code = """
import warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import xmlp
    assert not caught, caught  # importing xmlp itself warns about nothing
    import xmlp.layers
    from xmlp.estimator import Sequential
    from xmlp.csvdata import read_exact
    partition = xmlp.parallel.Partition
import xmlp.nn.layers, xmlp.training.parallel
assert xmlp.layers is xmlp.nn.layers and Sequential is xmlp.Sequential and partition is xmlp.training.parallel.Partition
for w in caught:
    print(w.category.__name__, w.message)
try:
    xmlp.no_such_module
except AttributeError as exc:
    print(exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        f"DeprecationWarning xmlp.{old} is xmlp.{new} since xmlp 0.2.0 (an internal module; the public names are "
        "xmlp.__all__'s); the old path goes in 0.3.0"
        for old, new in [("layers", "nn.layers"), ("estimator", "models.sequential"), ("csvdata", "data.csv.exact"),
                         ("parallel", "training.parallel")]] + ["module 'xmlp' has no attribute 'no_such_module'"]


V010_ALL = ["Adam", "Backend", "BackendError", "Callback", "ChunkList", "CsvSource", "Dense", "EarlyStopping", "History",
            "LeakyReLU", "Network", "NpySource", "Optimizer", "ParquetSource", "RMSprop", "SGD", "Sequential", "Source",
            "TrainingDiverged", "XmlpError", "available_backends", "get_backend", "load_model", "__version__"]


def test_every_public_name_of_0_1_0_is_still_there():
    assert [n for n in V010_ALL if n not in xmlp.__all__ or not hasattr(xmlp, n)] == []
    from xmlp.cli import build_parser, main  # noqa: F401  (the script's entry point, xmlp.cli:main)
