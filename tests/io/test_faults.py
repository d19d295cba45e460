"""Faults while writing: a file-size limit (``ulimit -f``: EFBIG, Python ignores SIGXFSZ), a full
disk (ENOSPC: /dev/full, and a 64 KiB tmpfs where the machine lets us mount one) and SIGTERM.
Each: exit 73 (130/143 for the signals) with one line, no partial or temporary file, an existing
output intact."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from xmlp.cli import main

    folder = tmp_path_factory.mktemp("faults")
    assert main(["data", "wdbc", "--out", str(folder / "data.csv")]) == 0
    (folder / "big.csv").write_bytes((folder / "data.csv").read_bytes() * 20)  # ~0.5 MB of predictions
    assert main(["train", "--data", str(folder / "data.csv"), "--epochs", "2", "--out", str(folder / "run"),
                 "--no-plots", "--quiet"]) == 0
    return folder


def limited(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def xmlp(cwd: Path, *argv: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "xmlp", *argv], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=180, preexec_fn=None if limit is None else limited(limit))


def error_line(stderr: str) -> str:
    """The one error line, last (after the warning that these rows were trained on)."""
    lines = stderr.splitlines()
    assert [l for l in lines if l.startswith("xmlp: error: ")] == lines[-1:] and "Traceback" not in stderr, stderr
    return lines[-1]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".xmlp-tmp-"))


def test_a_file_size_limit_while_writing_predictions_keeps_the_old_file(trained, tmp_path):
    old = tmp_path / "preds.csv"
    old.write_text("the previous predictions\n")
    out = xmlp(trained, "predict", "run", "big.csv", "--out", str(old), "--force", limit=100_000)
    assert out.returncode == 73, out.stderr
    error = error_line(out.stderr)
    assert "File too large (the file would exceed the file-size limit: see 'ulimit -f'); nothing was written" in error
    assert old.read_text() == "the previous predictions\n" and leftovers(tmp_path) == []


def test_a_file_size_limit_while_saving_a_run_leaves_no_run_folder(trained, tmp_path):
    # The model file (~5 KB) fits a 4 KB limit no more than the history does.
    out = xmlp(tmp_path, "train", "--data", str(trained / "data.csv"), "--epochs", "2", "--out", "run",
               "--no-plots", limit=4096)
    assert out.returncode == 73, out.stderr[-2000:]
    assert out.stderr.count("xmlp: error:") == 1 and "Traceback" not in out.stderr
    assert "xmlp: error: run/model.safetensors: cannot write: File too large" in out.stderr  # the run's path, not the staged one
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither run/ nor a staged folder


def test_a_file_size_limit_while_splitting_writes_neither_part(trained, tmp_path):
    out = xmlp(tmp_path, "split", str(trained / "big.csv"), "--out-dir", "parts", limit=200_000)
    assert out.returncode == 73, out.stderr
    assert "File too large" in out.stderr and out.stderr.count("\n") == 1
    assert not (tmp_path / "parts").exists() or sorted(os.listdir(tmp_path / "parts")) == []


def test_dev_full_is_a_full_disk(trained):
    out = xmlp(trained, "predict", "run", "data.csv", "--out", "/dev/full")
    assert out.returncode == 73
    assert error_line(out.stderr) == "xmlp: error: /dev/full: cannot write: No space left on device (the file system is full)"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs, mounted only where this process may (root in a VM); else the test skips."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if not shutil.which("mount") or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                                   capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root); the size-limit tests cover the same paths")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_while_writing_predictions_keeps_the_old_file(trained, tiny_disk):
    old = tiny_disk / "preds.csv"
    old.write_text("the previous predictions\n")
    out = xmlp(trained, "predict", "run", "big.csv", "--out", str(old), "--force")
    assert out.returncode == 73
    assert error_line(out.stderr).endswith("cannot write: No space left on device (the file system is full); nothing was written")
    assert old.read_text() == "the previous predictions\n" and sorted(os.listdir(tiny_disk)) == ["preds.csv"]


def test_a_full_disk_while_saving_a_run_leaves_no_run_folder(trained, tiny_disk):
    out = xmlp(tiny_disk, "train", "--data", str(trained / "data.csv"), "--epochs", "2", "--out", "run")
    assert out.returncode == 73, out.stderr[-2000:]
    assert "No space left on device" in out.stderr and "Traceback" not in out.stderr
    assert sorted(os.listdir(tiny_disk)) == []


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_training_ends_cleanly(trained, tmp_path, sig, code):
    """SIGTERM as Ctrl-C: one line, exit 128 + the signal, no run folder, no temporary file."""
    proc = subprocess.Popen([sys.executable, "-m", "xmlp", "train", "--data", str(trained / "data.csv"),
                             "--epochs", "100000", "--out", "run", "--no-plots"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch"):
            break  # training has started
    time.sleep(0.3)
    proc.send_signal(sig)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    name = "terminated" if sig == signal.SIGTERM else "interrupted"
    assert err == f"xmlp: {name}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
