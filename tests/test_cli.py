"""The command line: output format, exit codes, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from xmlp.cli import main

ROOT = Path(__file__).resolve().parents[1]
EPOCH = re.compile(r"^epoch (\d\d)/(\d\d) - loss: \d+\.\d{4} - val_loss: \d+\.\d{4} - acc: [01]\.\d{4} - val_acc: [01]\.\d{4}$")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_with_no_arguments_reports_each_epoch(capsys):
    code, out, err = run(capsys, "train")
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0] == "x_train shape : (455, 30)" and lines[1] == "x_valid shape : (114, 30)"
    epochs = [EPOCH.match(line) for line in lines[2:-1]]
    assert all(epochs) and [int(m.group(1)) for m in epochs] == list(range(1, 71))
    acc = float(re.search(r"validation accuracy: ([\d.]+)$", lines[-1]).group(1))
    assert acc >= 0.95


def test_train_options(capsys):
    code, out, _ = run(capsys, "train", "--epochs", "3", "--layer", "8", "--batch_size", "32",
                       "--learning_rate", "0.05", "--dtype", "float64", "--backend", "strict", "--device", "device1")
    assert code == 0
    assert "epoch 3/3 - loss:" in out and "trained on strict:device1 (float64)" in out


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "--device", "cuda"], 69, "expected CuPy for --device cuda; received a Python environment without it (hint: pip install 'xmlp[cuda12]'"),
        (["train", "--device", "tpu"], 2, "expected a device or backend among cpu, cuda"),
        (["train", "--epochs", "0"], 2, "argument --epochs: expected an integer >= 1; received '0'"),
        (["train", "--learning-rate", "-1"], 2, "argument --learning-rate/--learning_rate: expected a finite number > 0; received '-1'"),
        (["train", "--layer", "24", "0"], 2, "argument --layer: expected an integer >= 1; received '0'"),
        (["train", "--batch-size", "0"], 2, "expected an integer >= 1; received '0'"),
        (["train", "--backend", "strict", "--device", "no_float64", "--dtype", "float64"], 69, "does not support (hint: use --dtype float32)"),
        (["fly"], 2, "invalid choice: 'fly'"),
    ],
)
def test_errors_are_one_line_with_a_distinct_code(capsys, monkeypatch, argv, code, message):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as on a machine without CuPy
    got, out, err = run(capsys, *argv)
    assert got == code
    assert err.startswith("xmlp: error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err and "epoch" not in out


def test_python_dash_m_and_debug_traceback():
    env_cmd = [sys.executable, "-m", "xmlp", "train", "--device", "tpu"]
    out = subprocess.run(env_cmd, capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and out.stderr.startswith("xmlp: error:")
    out = subprocess.run(env_cmd + ["--debug"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode != 0 and "Traceback" in out.stderr
