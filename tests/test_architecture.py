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
# The layers of the house (docs/architecture.md): a package imports its own modules and packages of
# lower layers; packages of one layer never import each other (errors -> backends is the one
# exception: an error maps the backend's); nothing imports upward.
LAYERS = [{"_types", "_version", "_registry", "_moved", "errors", "backends"},
          {"nn", "optim", "data", "io", "datasets"},
          {"training"},
          {"models"},
          {"sklearn", "export"},
          {"cli"},
          {"__init__", "__main__"}]
RANK = {p: i for i, layer in enumerate(LAYERS) for p in layer}
# Compute modules speak the Array API only, through the backend's namespace (initializers draw on
# the host with NumPy's generator, by design); host-side modules may use NumPy.
COMPUTE_PACKAGES = ("nn", "optim", "training")
CONCRETE = re.compile(r"^\s*(import|from)\s+(numpy|cupy|torch|jax|array_api_strict)\b", re.M)
MAX_LINES = 300


def _modules() -> dict[str, Path]:
    """Every module of xmlp by dotted name ("xmlp.nn.network", "xmlp.data.csv" for a package's
    __init__, "xmlp" for the package's own)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("xmlp", *path.relative_to(PACKAGE).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()
COMPUTE = sorted(m for m in MODULES if m.split(".")[1:2] and m.split(".")[1] in COMPUTE_PACKAGES
                 and m not in ("xmlp.nn.initializers", "xmlp.nn.masks")) + ["xmlp._registry"]  # host draws


def top(module: str) -> str:
    """The package or top-level module of a dotted name: "xmlp.data.csv.fast" -> "data"."""
    return module.split(".")[1] if module.count(".") else "__init__"


def _package_of(module: str) -> str:
    return module if MODULES[module].name == "__init__.py" else module.rsplit(".", 1)[0]


def imports(module: str) -> set[str]:
    """The xmlp modules ``module`` imports anywhere in its file (top level or inside functions),
    relative imports resolved, each name of ``from package import name`` taken as the submodule
    when it is one (else the package)."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module).split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "xmlp":
                target = node.module or ""
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "xmlp"}
    unknown = {m for m in found if m not in MODULES}
    assert not unknown, f"{module} imports {unknown}, which are not modules of xmlp"
    return found - {module}


EDGES = {m: imports(m) for m in MODULES}


def test_the_scan_sees_imports_lazy_and_relative():
    assert {"xmlp.nn.network", "xmlp.models.fit", "xmlp.io.model_file"} <= EDGES["xmlp.models.sequential"]
    assert "xmlp.training.trainer" in EDGES["xmlp.models.fit"]
    assert "xmlp.export" in EDGES["xmlp.cli.commands"]  # imported inside cmd_export only
    assert "xmlp.data.csv.fast" in EDGES["xmlp.data.csv"]  # "from .fast import read_table" in a package


def test_every_package_has_a_layer_and_the_house_its_shape():
    assert {top(m) for m in MODULES} == set(RANK)
    top_modules = [p.stem for p in PACKAGE.glob("*.py")]
    packages = [p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()]
    assert len(top_modules) <= 10 and 5 <= len(packages) <= 10, (top_modules, packages)


def test_packages_import_only_lower_layers():
    bad = [f"{m} -> {i}" for m, targets in EDGES.items() for i in targets
           if top(m) != top(i) and (RANK[top(i)] > RANK[top(m)]
                                    or (RANK[top(i)] == RANK[top(m)] and {top(m), top(i)} != {"errors", "backends"}))]
    assert bad == []


def test_the_backends_folder_imports_nothing_of_xmlp():
    found = [f"{p.name}: {ast.unparse(n)}" for p in (ROOT / "backends").glob("*.py")
             for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, (ast.Import, ast.ImportFrom))
             and any(name.split(".")[0] == "xmlp" for name in
                     ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]))]
    assert found == []


def test_a_subpackage_init_imports_only_its_own_package():
    bad = [f"{m} -> {i}" for m, path in MODULES.items() if path.name == "__init__.py" and m != "xmlp"
           for i in EDGES[m] if not i.startswith(m + ".")]
    assert bad == []


def test_tests_mirror_the_packages():
    """tests/<package>/ for the modules of a subpackage (the cross-cutting tests stay at the top)."""
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir() and list(p.glob("test_*.py"))}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders <= packages and folders >= packages - {"datasets"}, (folders, packages)


def test_no_import_cycle():
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        if state.get(m) == 1:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(m):] + [m]))
        if state.get(m) == 2:
            return
        state[m] = 1
        for n in sorted(EDGES[m]):
            # a package's __init__ is run before its submodules: "a.b imports a" is no cycle
            if not m.startswith(n + "."):
                visit(n, path + [m])
        state[m] = 2

    for m in sorted(EDGES):
        visit(m, [])


def test_modules_are_short_and_say_their_job():
    """One concept per module, readable in one sitting, with a docstring saying its job."""
    long = {str(p.relative_to(ROOT)): n for p in [*PACKAGE.rglob("*.py"), *(ROOT / "backends").glob("*.py")]
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
    silent = [m for m, p in MODULES.items() if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text()))]
    assert silent == []


def test_no_compute_module_imports_an_array_library():
    offenders = []
    for name in COMPUTE:
        path = MODULES[name]
        for match in CONCRETE.finditer(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == []


HOT = {"forward", "forward_train", "backward", "step", "_step", "_update", "__call__", "value", "forward_backward",
       "log_softmax", "device_confusion", "clipped_nll_sum", "pack", "logits",
       "probabilities", "train_step", "_train_epoch", "_train_pieces", "_score", "_reduce", "allreduce_"}
SYNCS = {"float", "int", "bool", "to_numpy", "item", "tolist", "asarray", "synchronize"}


def _calls(name: str, functions: set[str]) -> list[str]:
    found = []
    short = name.rsplit(".", 1)[-1]
    for fn in ast.walk(ast.parse(MODULES[name].read_text())):
        if not isinstance(fn, ast.FunctionDef) or fn.name not in functions:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                f = node.func
                called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                # float(xp.finfo(dtype).eps) reads a dtype property, not an array.
                if called in SYNCS and "finfo" not in ast.unparse(node):
                    found.append(f"{short}.{fn.name}: {called}()")
    return found


def test_hot_paths_read_nothing_back():
    """No float()/int()/bool()/.item()/.tolist()/to_numpy()/asarray() in the per-batch functions
    (forward, backward, optimizer steps, losses, the epoch loop's batch code), except the
    permutation sent at the start of an epoch (an ensemble stack's: one per member)."""
    found = [f for name in COMPUTE for f in _calls(name, HOT)]
    assert found == ["batched._train_epoch: asarray()", "trainer._train_epoch: asarray()"], found


def test_the_epoch_has_one_host_read():
    """Trainer.fit reads the packed epoch vector once per epoch, and nothing else."""
    assert sorted(_calls("xmlp.training.trainer", {"fit"})) == ["trainer.fit: to_numpy()", "trainer.fit: tolist()"]


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
