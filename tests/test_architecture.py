"""The architecture's rules: floors and imports, no cycles, short modules, a portable compute core."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xmlp"
# The floors of the house (docs/architecture.md): a module imports only from its own floor or
# below. Compute modules speak the Array API only, through the backend's namespace; host-side
# modules (data files, preprocessing, initializers' RNG draws, the model file, plots, the CLI)
# may use NumPy.
FLOORS = {
    0: {"_types", "_version", "registry", "errors", "backends"},
    1: {"losses", "activations", "initializers", "layers", "optimizers", "metrics", "network", "callbacks",
        "parallel", "trainer", "updates"},
    2: {"textlines", "history", "power", "seeding", "preprocessing", "rowbuffer", "inputs", "calibration", "split", "evaluation",
        "fileio", "serialization", "saving", "csvlayout", "csvdata", "bulkcsv", "fastcsv", "datasets", "shards",
        "fitting", "resume", "estimator", "sources", "parquet", "npysource", "csvsource", "streaming", "feeds", "streamfit", "spill"},
    3: {"config", "preflight", "runs", "distributed", "plots", "commands", "cli", "__main__", "__init__", "sklearn",
        "export", "cli_options", "resuming", "run_data"},
}
COMPUTE = sorted(FLOORS[1] - {"initializers"}) + ["registry"]
CONCRETE = re.compile(r"^\s*(import|from)\s+(numpy|cupy|torch|jax|array_api_strict)\b", re.M)


def _modules() -> dict[str, Path]:
    out = {p.stem: p for p in PACKAGE.glob("*.py")}
    out["datasets"] = PACKAGE / "datasets" / "__init__.py"
    return out


def _imports(path: Path) -> set[str]:
    """xmlp modules imported anywhere in the file (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            base = (node.module or "").split(".")[0]
            names = [base] if base else [a.name for a in node.names]
            found |= {n if n in _modules() else "__init__" for n in names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xmlp"):
            parts = node.module.split(".")
            found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("xmlp.")}
    return found


def test_every_module_has_a_floor():
    placed = set().union(*FLOORS.values())
    assert set(_modules()) - {"__init__"} <= placed and placed - {"__init__"} <= set(_modules())


def test_modules_import_only_their_floor_or_below():
    floor = {m: k for k, names in FLOORS.items() for m in names}
    upward = [f"{m} (floor {floor[m]}) imports {i} (floor {floor[i]})"
              for m, path in _modules().items() for i in _imports(path) if floor[i] > floor[m]]
    assert upward == []


def test_no_import_cycle():
    graph = {m: _imports(p) - {m} for m, p in _modules().items()}
    assert graph["estimator"] >= {"network", "fitting", "serialization"} and "trainer" in graph["fitting"]  # the scan sees imports
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for n in sorted(graph[m]):
            visit(n, path + [m])
        state[m] = 2

    for m in sorted(graph):
        visit(m, [])


def test_modules_are_short():
    """One concept per module, readable in one sitting."""
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(ROOT / "backends").glob("*.py")]
            if (n := len(p.read_text().splitlines())) > 260}
    assert long == {}


def test_no_compute_module_imports_an_array_library():
    offenders = []
    for name in COMPUTE:
        path = PACKAGE / f"{name}.py"
        for match in CONCRETE.finditer(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []


HOT = {"forward", "forward_train", "backward", "step", "_step", "_update", "__call__", "value", "forward_backward",
       "log_softmax", "confusion", "confusion_of_predictions", "clipped_nll_sum", "pack", "logits",
       "probabilities", "train_step", "_train_epoch", "_train_pieces", "_score", "_reduce", "allreduce_"}
SYNCS = {"float", "int", "bool", "to_numpy", "item", "tolist", "asarray", "synchronize"}


def _calls(name: str, functions: set[str]) -> list[str]:
    found = []
    for fn in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
        if not isinstance(fn, ast.FunctionDef) or fn.name not in functions:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                # float(xp.finfo(dtype).eps) reads a dtype property, not an array.
                if called in SYNCS and "finfo" not in ast.unparse(node):
                    found.append(f"{name}.{fn.name}: {called}()")
    return found


def test_hot_paths_read_nothing_back():
    """No float()/int()/bool()/.item()/.tolist()/to_numpy()/asarray() in the per-batch functions
    (forward, backward, optimizer steps, losses, the epoch loop's batch code), except the
    permutation sent at the start of an epoch."""
    found = [f for name in COMPUTE for f in _calls(name, HOT)]
    assert found == ["trainer._train_epoch: asarray()"], found


def test_the_epoch_has_one_host_read():
    """Trainer.fit reads the packed epoch vector once per epoch, and nothing else."""
    assert sorted(_calls("trainer", {"fit"})) == ["trainer.fit: to_numpy()", "trainer.fit: tolist()"]


def test_optional_libraries_are_imported_lazily(tmp_path):
    """CuPy only for a CUDA backend; safetensors, matplotlib and tqdm only when a model is saved,
    a plot drawn or a bar shown (so a bare GPU machine runs the core with numpy + compat);
    scikit-learn only with xmlp.sklearn, onnx only for an export; mpi4py only under an MPI launcher
    or with --distributed: a plain training run never imports it."""
    code = ("import sys, xmlp, xmlp.cli; xmlp.get_backend('cpu'); print([m for m in ('cupy', 'safetensors', "
            "'matplotlib', 'tqdm', 'torch', 'sklearn', 'scipy', 'onnx', 'onnxruntime', 'mpi4py') if m in sys.modules])")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_", "MV2_"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True, env=env)
    assert out.stdout.strip() == "[]"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from xmlp.cli import main; "
            "main(['train', '--epochs', '1', '--no-plots', '--quiet', '--out', 'run']); "
            "print('mpi4py' in sys.modules, 'xmlp._backends.comm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "False True"  # the trivial communicator, without MPI


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
