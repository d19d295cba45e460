"""The command line: output format, exit codes, one-line errors, config files."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EPOCH = re.compile(r"^epoch (\d{3})/150 - loss: \d+\.\d{4} - val_loss: \d+\.\d{4} - acc: [01]\.\d{4} - val_acc: [01]\.\d{4}$")


def test_train_with_no_arguments(cli, tmp_path):
    code, out, err = cli("train", "--out", "run")
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0] == "x_train shape : (455, 30)" and lines[1] == "x_valid shape : (114, 30)"
    assert lines[2] == "classes       : B 285, M 170"
    lines = lines[1:]
    epochs = [EPOCH.match(line) for line in lines[2:152]]
    assert all(epochs) and [int(m.group(1)) for m in epochs] == list(range(1, 151))
    # The default recipe refits the saved model on all 569 labelled rows after the validation run.
    assert lines[152] == ("> refit on 569 rows (training + validation) for 150 epochs: the saved model; "
                          "the curves and validation scores come from the run above")
    assert lines[153] == "> saving model 'run/model.safetensors' to disk..."
    acc = float(re.search(r"validation accuracy: ([\d.]+) \(the run on the training rows; the saved model "
                          r"'run/model.safetensors' was refit on 569 rows, validation included\)$", lines[-1]).group(1))
    assert acc >= 0.95
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "accuracy.png", "history.csv", "history.json", "loss.png", "model.safetensors"]
    history = json.loads((tmp_path / "run/history.json").read_text())
    assert len(history["history"]["val_loss"]) == 150 and history["config"]["activation"] == "tanh"
    assert history["config"]["refit"] == {"rows": 569, "epochs": 150} and history["config"]["preprocess"] == "yeo-johnson"


def test_default_run_folder_is_new_each_time(cli, tmp_path):
    for _ in range(2):
        assert cli("train", "--epochs", "1", "--quiet", "--no-plots")[0] == 0
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all((r / "model.safetensors").is_file() for r in runs)


def test_train_options_and_42_spellings(cli):
    code, out, _ = cli("train", "--epochs", "3", "--layer", "8", "4", "--batch_size", "32",
                       "--learning_rate", "0.05", "--dtype", "float64", "--backend", "strict",
                       "--device", "device1", "--weights_initializer", "glorotUniform",
                       "--loss", "binaryCrossentropy", "--out", "r", "--no-plots")
    assert code == 0, out
    assert "epoch 3/3 - loss:" in out and "trained on strict:device1 (float64) in 3 epochs" in out
    meta = json.loads((Path("r") / "history.json").read_text())["config"]
    assert meta["layer"] == [8, 4] and meta["batch_size"] == 32 and meta["weights_initializer"] == "glorotUniform"


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "--device", "cuda"], 69, "expected CuPy for --device cuda; received a Python environment without it (hint: pip install '"),
        (["train", "--device", "tpu"], 2, "expected a device or backend among cpu, cuda"),
        (["train", "--epochs", "0"], 2, "argument --epochs: expected an integer >= 1; received '0'"),
        (["train", "--learning-rate", "-1"], 2, "argument --learning-rate/--learning_rate: expected a number > 0.0; received '-1'"),
        (["train", "--layer", "24", "0"], 2, "argument --layer: expected an integer >= 1; received '0'"),
        (["train", "--batch-size", "0"], 2, "argument --batch-size/--batch_size: expected an integer >= 1; received '0'"),
        (["train", "--valid-size", "1.5"], 2, "expected a fraction in (0, 1) or a row count >= 1; received '1.5'"),
        (["train", "--valid-size", "0"], 2, "expected a fraction in (0, 1) or a row count >= 1; received '0'"),
        (["train", "--valid-size", "600"], 2, "expected a validation row count in [1, 568]; received 600"),
        (["train", "--optimizer", "lbfgs"], 2, "argument --optimizer: expected an optimizer among sgd, momentum, nesterov, rmsprop, adam, adamw; received 'lbfgs'"),
        (["train", "--optimizer", "sgd", "--beta1", "0.8"], 2, "expected options that sgd takes; received --beta1"),
        (["train", "--optimizer", "adam", "--beta1", "0.8", "--momentum", "0.9"], 2, "expected options that adam takes; received --momentum (hint: adam takes --beta1, --beta2, --eps)"),
        (["train", "--early-stopping", "--monitor", "loss"], 2, "expected early stopping to monitor a validation metric"),
        (["train", "--early-stopping", "--monitor", "val_f1"], 2, "--monitor: expected early stopping to monitor one of val_loss, val_accuracy; received 'val_f1'"),
        (["train", "--activation", "mish"], 2, "argument --activation: expected an activation among linear, relu, leakyRelu, sigmoid, tanh, softmax, gelu, silu, elu, softplus; received 'mish'"),
        (["train", "--backend", "strict", "--device", "no_float64", "--dtype", "float64"], 69, "(hint: use --dtype float32)"),
        (["train", "--data", "a.csv", "--train", "b.csv"], 2, "expected either --data or --train/--valid; received both"),
        (["train", "--valid", "b.csv"], 2, "expected --train with --valid; received --valid alone"),
        (["fly"], 2, "invalid choice: 'fly'"),
    ],
)
def test_errors_are_one_line_with_a_distinct_code(cli, tmp_path, monkeypatch, argv, code, message):
    monkeypatch.setitem(sys.modules, "cupy", None)  # as on a machine without CuPy
    got, out, err = cli(*argv)
    assert got == code, err
    assert err.startswith("xmlp: error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err and "epoch" not in out
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_python_dash_m_and_debug_traceback(tmp_path):
    cmd = [sys.executable, "-m", "xmlp", "train", "--device", "tpu"]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 2 and out.stderr.startswith("xmlp: error:")
    out = subprocess.run(cmd + ["--debug"], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 2 and "Traceback" in out.stderr and "UsageError" in out.stderr


@pytest.mark.parametrize("name", ["optimizers", "early_stopping", "metrics", "subject"])
def test_example_configs_run(cli, tmp_path, name):
    code, out, err = cli("train", "--config", ROOT / "examples" / f"{name}.toml", "--epochs", "3", "--out", "r", "--quiet")
    assert code == 0, err
    if name == "optimizers":
        assert [l for l in out.splitlines() if l.startswith("== run")] == [
            "== run 'sgd'", "== run 'momentum'", "== run 'nesterov'", "== run 'rmsprop'", "== run 'adam'"]
        assert (tmp_path / "r/comparison.png").is_file() and (tmp_path / "r/adam/model.safetensors").is_file()
        cfg = json.loads((tmp_path / "r/nesterov/history.json").read_text())["config"]["optimizer"]
        assert cfg == {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True}
    else:
        assert (tmp_path / "r/model.safetensors").is_file()


def test_a_closed_pipe_stops_quietly(tmp_path):
    """`xmlp train | head -1`: no traceback, no error line, the SIGPIPE exit status."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([sys.executable, "-m", "xmlp", "train", "--out", "r", "--no-plots"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("x_train shape")
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 141 and err == ""


def test_quiet_prints_only_the_summary(cli):
    code, out, err = cli("train", "--quiet", "--epochs", "3", "--out", "r")
    lines = out.splitlines()
    assert code == 0 and err == "" and len(lines) == 1
    # The one line says which model its validation scores describe: the run's, not the refit saved one.
    assert re.fullmatch(r"trained on numpy \(float32\) in 3 epochs - validation binary cross-entropy: "
                        r"\d\.\d{4} - validation accuracy: \d\.\d{4} \(the run on the training rows; the saved "
                        r"model 'r/model.safetensors' was refit on 569 rows, validation included\)", lines[0])
    code, out, err = cli("train", "--quiet", "--epochs", "3", "--out", "n", "--no-refit")
    assert code == 0 and out.endswith(" (the saved model 'n/model.safetensors')\n") and out.count("\n") == 1


SHARED_DATA = ROOT.parent / "shared" / "data" / "data.csv"


def test_data_writes_the_subjects_layout(cli, tmp_path):
    code, out, err = cli("data", "wdbc", "--out", "data.csv")
    assert code == 0 and err == "" and "wrote 'data.csv': 569 rows" in out
    lines = (tmp_path / "data.csv").read_text().splitlines()
    assert len(lines) == 569 and lines[0].startswith("1,M,17.99,10.38,122.8,1001,")
    assert all(len(line.split(",")) == 32 for line in lines) and lines[-1].startswith("569,")
    if SHARED_DATA.exists():  # the subject's data.csv, but for the ids (the embedded copy has none)
        theirs = [line.split(",", 1)[1] for line in SHARED_DATA.read_text().splitlines()]
        assert [line.split(",", 1)[1] for line in lines] == theirs
    assert cli("data", "wdbc", "--out", "data.csv")[0] == 73  # never overwritten without --force
    assert cli("data", "wdbc", "--out", "data.csv", "--force")[0] == 0
    code, out, _ = cli("split", "data.csv")
    assert code == 0 and "data_train.csv': 455 rows" in out
    code, out, _ = cli("data", "wdbc")
    assert out.splitlines() == lines
    assert "no UCI ids" in subprocess.run([sys.executable, "-m", "xmlp", "data", "--help"], capture_output=True,
                                          text=True, cwd=ROOT).stdout


def test_devices_says_what_runs_and_how_to_enable_the_rest(cli):
    code, out, _ = cli("devices")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("numpy") and "runs here: NumPy" in lines[0]
    assert not any(line.startswith("strict") for line in lines)  # test-only devices: --all
    missing = [i for i, line in enumerate(lines) if " missing: " in line]
    assert all(lines[i + 1].split()[0] == "enable:" for i in missing)
    if importlib.util.find_spec("cupy") is None:
        assert any(line.startswith("cuda ") and "CuPy is not installed" in line for line in lines)
        assert "[cuda12]'" in lines[next(i for i in missing if lines[i].startswith("cuda ")) + 1]
    code, out, _ = cli("devices", "--all")
    assert "strict:device1" in out and "test-only" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--learnin_rate", "0.1"], "unrecognized arguments: --learnin_rate 0.1 (did you mean --learning_rate?) "
                                         "(see 'xmlp train --help')"),
    (["train", "data.csv"], "unrecognized arguments: data.csv (see 'xmlp train --help')"),
    (["split", "a.csv", "--bogus"], "unrecognized arguments: --bogus (see 'xmlp split --help')"),
])
def test_an_unknown_option_points_to_the_commands_help(cli, argv, message):
    code, _, err = cli(*argv)
    prog = "xmlp " + argv[0]  # one line in the Keras manner: what is expected, what was received
    assert code == 2 and err == f"xmlp: error: expected {prog}'s commands and options; received {message}\n"


@pytest.mark.parametrize("argv, message", [
    ([], "expected command; received none (the following arguments are required: command) (see 'xmlp --help')"),
    (["predict"], "expected model, data; received none (the following arguments are required: model, data)"),
    (["fly"], "expected xmlp's commands and options; received command: invalid choice: 'fly'"),
])
def test_argparse_errors_say_what_was_expected(cli, argv, message):
    code, _, err = cli(*argv)
    assert code == 2 and err.startswith("xmlp: error: " + message) and err.count("\n") == 1
