"""Structure rules that keep the core portable."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Compute modules speak the Array API only, through the backend's namespace. (Host-side modules,
# data, preprocessing, initializers (host RNG draws), serialization, plots and cli, may use NumPy.)
COMPUTE = ["activations", "layers", "losses", "optimizers", "model", "metrics", "training"]
CONCRETE = re.compile(r"^\s*(import|from)\s+(numpy|cupy|torch|jax|array_api_strict)\b", re.M)


def test_no_compute_module_imports_an_array_library():
    offenders = []
    for name in COMPUTE:
        for path in ROOT.glob(f"xmlp/{name}*.py"):
            for match in CONCRETE.finditer(path.read_text()):
                offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []
    assert len(list(ROOT.glob("xmlp/*.py"))) > len(COMPUTE)  # the scan found the files


def test_compute_modules_read_nothing_back_per_batch():
    """No float()/.item()/to_numpy/bool() of device values inside the compute modules' code,
    except the one packed per-epoch read in model.py (marked by its comment)."""
    pattern = re.compile(r"\.item\(\)|\bfloat\(|\bbool\(|to_numpy\(")
    hits = []
    for name in ["activations", "layers", "losses", "optimizers", "metrics"]:
        for i, line in enumerate((ROOT / f"xmlp/{name}.py").read_text().splitlines(), 1):
            code = line.split("#")[0]
            if pattern.search(code) and "finfo" not in code and "learning_rate" not in code and "alpha" not in code:
                hits.append(f"{name}.py:{i}: {line.strip()}")
    assert hits == []


def test_cupy_is_imported_lazily():
    code = "import sys, xmlp, backends; xmlp.get_backend('cpu'); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_require_cuda_turns_the_skip_into_a_failure(tmp_path):
    """Run the CuPy-marked tests in a child pytest with XMLP_REQUIRE_CUDA=1 and no GPU."""
    env = {**os.environ, "XMLP_REQUIRE_CUDA": "1"}
    import importlib.util

    if importlib.util.find_spec("cupy") is not None:
        import pytest

        pytest.skip("CuPy is installed here; this checks the no-GPU path")
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda",
            str(ROOT / "tests/test_backends.py::test_contract_roundtrip_and_counts")]
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 1, out.stdout
    assert "XMLP_REQUIRE_CUDA=1 but cuda is unavailable" in out.stdout
    env.pop("XMLP_REQUIRE_CUDA")
    out = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0 and "1 skipped" in out.stdout, out.stdout
