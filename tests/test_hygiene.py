"""Structure rules that keep the core portable."""

from __future__ import annotations

import ast
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


HOT = {"forward", "backward", "step", "_update", "__call__", "value", "confusion",
       "clipped_nll_sum", "_train_epoch", "_logits"}
SYNCS = {"float", "int", "bool", "to_numpy", "item", "tolist", "asarray", "synchronize"}


def test_hot_paths_read_nothing_back():
    """No float()/int()/bool()/.item()/.tolist()/to_numpy()/asarray() in the per-batch functions
    (forward, backward, optimizer steps, losses), except the epoch loop's two marked calls: the
    permutation sent at the start and the packed metrics read at the end."""
    found = []
    for name in COMPUTE:
        path = ROOT / f"xmlp/{name}.py"
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef) or fn.name not in HOT:
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Call):
                    f = node.func
                    called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                    # float(xp.finfo(dtype).eps) reads a dtype property, not an array.
                    if called in SYNCS and "finfo" not in ast.unparse(node):
                        found.append(f"{name}.{fn.name}:{node.lineno}: {called}()")
    allowed = {"model._train_epoch: asarray()", "model._train_epoch: to_numpy()", "model._train_epoch: tolist()"}
    stripped = {f.split(":")[0] + ": " + f.split(": ")[1] for f in found}
    assert stripped <= allowed, found
    assert len(found) == 3, found


def test_optional_libraries_are_imported_lazily():
    """CuPy only for a CUDA backend; safetensors, matplotlib and tqdm only when a model is saved,
    a plot drawn or a bar shown (so a bare GPU machine runs the core with numpy + compat)."""
    code = ("import sys, xmlp, xmlp.cli, backends; xmlp.get_backend('cpu'); "
            "print([m for m in ('cupy', 'safetensors', 'matplotlib', 'tqdm', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


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
