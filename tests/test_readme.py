"""README.md and examples/README.md run as written: every shell command (the ``sh`` blocks, and
the complete ``xmlp …`` commands quoted in the text) and every Python block, exactly as
printed, in document order, in a fresh temporary folder, nothing injected. Shell lines run
through bash with ``xmlp`` on PATH (a wrapper for ``python -m xmlp`` of this checkout); the
Python blocks run as one script, in order (a later block continues the earlier ones, as in one
session), in a fresh interpreter. Skipped, each with its reason: the lines in ``SKIP``, and the
Python blocks that import torch when it is not installed."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HAS_TORCH = importlib.util.find_spec("torch") is not None

# (what a line matches, why it is not run here)
SKIP = [
    (re.compile(r"^pip install"), "installs xmlp into the running environment (CI's own first step does it)"),
    (re.compile(r"cuda"), "needs a CUDA GPU (benchmarks/gpu_check.sh runs the GPU path on one)"),
    (re.compile(r"^(mpirun|mpiexec|srun)\b"), "needs MPI and several processes"),
]


def shell_commands(text: str) -> list[str]:
    """Each line of the sh blocks, and each complete ``xmlp`` command quoted in the text (not the
    bare names like `xmlp plot`, nor templates like `xmlp plot RUN RUN …`), in document order."""
    found = []
    for block, inline in re.findall(r"```sh\n(.*?)```|`(xmlp [^`]+)`", text, re.S):
        if block:
            found += [line for line in block.splitlines() if line.strip()]
        elif len(inline.split()) > 2 and "…" not in inline and not re.search(r"\b[A-Z]{2,}\b", inline):
            found.append(inline)
    return found


def skipped(line: str) -> str | None:
    return next((why for pattern, why in SKIP if pattern.search(line)), None)


@pytest.fixture
def folder(tmp_path) -> tuple[Path, dict[str, str]]:
    """A fresh folder holding what a checkout's root holds for the examples (examples/*.toml),
    and the environment: `xmlp` on PATH, this checkout first on sys.path."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("img", "*.md"))
    bin_dir = tmp_path / ".bin"
    bin_dir.mkdir()
    (bin_dir / "xmlp").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m xmlp "$@"\n')
    (bin_dir / "xmlp").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("XMLP_DEVICE", None)
    return tmp_path, env


def run_shell(lines: list[str], cwd: Path, env: dict[str, str]) -> list[str]:
    ran = []
    for line in lines:
        if skipped(line):
            continue
        out = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"{line!r} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        ran.append(line)
    return ran


def test_readme_runs_as_written(folder):
    cwd, env = folder
    text = (ROOT / "README.md").read_text()
    ran = run_shell(shell_commands(text), cwd, env)
    assert "xmlp data wdbc --out data.csv" in ran[0] and "xmlp devices" in " ".join(ran)
    assert (cwd / "run" / "model.safetensors").is_file() and (cwd / "model.onnx").is_file()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5
    runnable = [b for b in blocks if HAS_TORCH or not re.search(r"^import torch", b, re.M)]
    (cwd / "readme.py").write_text("\n".join(runnable))
    out = subprocess.run([sys.executable, "readme.py"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (cwd / "model.safetensors").is_file() and "'accuracy'" in out.stdout
    if HAS_TORCH:
        assert "tensor(" in out.stdout and "torch:cpu" in out.stdout


def test_examples_readme_runs_as_written(folder):
    cwd, env = folder
    lines = shell_commands((ROOT / "examples" / "README.md").read_text())
    ran = run_shell(lines, cwd, env)
    assert len(ran) == len(lines) >= 5
    assert (cwd / "runs/optimizers/comparison.png").is_file() and (cwd / "metrics.png").is_file()
    assert (cwd / "sgd-vs-adam.png").is_file()


def test_the_skip_list_is_explicit():
    """Only installs, GPU and MPI lines are skipped, each with its reason."""
    lines = shell_commands((ROOT / "README.md").read_text()) + shell_commands((ROOT / "examples/README.md").read_text())
    reasons = {line: skipped(line) for line in lines if skipped(line)}
    assert reasons and all(line.startswith("pip install") or "cuda" in line or line.startswith("mpi")
                           for line in reasons)
