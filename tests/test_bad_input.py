"""Every kind of bad input: one `xmlp: error:` line, a distinct exit code, no traceback, and
nothing written or changed (the whole folder is compared before and after)."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import safetensors.numpy

from helpers import snapshot, write_subject_csv

USAGE, DATA, NOINPUT, CANTCREATE = 2, 65, 66, 73


@pytest.fixture
def folder(tmp_path, wdbc, cli):
    """A folder with a good data file, a good model, and a run folder."""
    write_subject_csv(tmp_path / "good.csv", wdbc)
    assert cli("train", "--data", "good.csv", "--epochs", "2", "--out", "run", "--quiet", "--no-plots")[0] == 0
    return tmp_path


def good_lines(folder):
    return (folder / "good.csv").read_text().splitlines()


def expect_failure(cli, folder, argv, code, message):
    before = snapshot(folder)
    got, out, err = cli(*argv)
    assert got == code, err
    assert err.startswith("xmlp: error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert "Traceback" not in err
    assert snapshot(folder) == before  # no stray or modified file


def with_line(folder, name, lineno, transform):
    lines = good_lines(folder)
    lines[lineno - 1] = transform(lines[lineno - 1])
    (folder / name).write_text("\n".join(lines) + "\n")
    return name


def set_cell(col, value):
    def transform(line):
        cells = line.split(",")
        cells[col - 1] = value
        return ",".join(cells)

    return transform


COMMANDS = {
    "train": lambda f: ["train", "--data", f, "--out", "newrun"],
    "train-valid": lambda f: ["train", "--train", "good.csv", "--valid", f, "--out", "newrun"],
    "split": lambda f: ["split", f, "--out-dir", "parts"],
    "predict": lambda f: ["predict", "run", f, "--out", "pred.csv"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    "make, message",
    [
        (lambda f: "missing.csv", "missing.csv: expected an existing file; received a path that does not exist"),
        (lambda f: (f / "e.csv").write_text("") and "e.csv" or "e.csv", "e.csv: expected CSV rows; received an empty file"),
        (lambda f: (f / "h.csv").write_text("id,diagnosis,a,b\n") and "h.csv", "h.csv: expected data rows after the header line; received none"),
        (lambda f: with_line(f, "x.csv", 3, lambda l: l + ",1.0"), "x.csv:3: expected 32 fields; received 33"),
        (lambda f: with_line(f, "x.csv", 4, lambda l: l.rsplit(",", 1)[0]), "x.csv:4: expected 32 fields; received 31"),
        (lambda f: with_line(f, "x.csv", 5, set_cell(7, "abc")), "x.csv:5:7: expected a number; received 'abc'"),
        (lambda f: with_line(f, "x.csv", 6, set_cell(9, "")), "x.csv:6:9: expected a number; received an empty cell"),
        (lambda f: with_line(f, "x.csv", 7, set_cell(10, "nan")), "x.csv:7:10: expected a finite number; received 'nan'"),
        (lambda f: with_line(f, "x.csv", 8, set_cell(11, "-inf")), "x.csv:8:11: expected a finite number; received '-inf'"),
        (lambda f: with_line(f, "x.csv", 9, set_cell(12, "1e39")), "x.csv:9:12: expected a value that fits float32 (|x| <= 3.4e+38); received '1e39' (hint: --dtype float64)"),
        (lambda f: with_line(f, "x.csv", 10, set_cell(2, "")), "x.csv:10:2: expected a label; received an empty cell"),
    ],
    ids=["missing", "empty", "header-only", "too-many", "too-few", "non-numeric", "empty-cell", "nan", "inf", "float32-overflow", "no-label"],
)
def test_bad_data_files(cli, folder, command, make, message):
    name = make(folder)
    if command == "split" and "1e39" in message:
        pytest.skip("split copies rows as text and has no dtype: a float32 overflow is not its error")
    code = NOINPUT if "does not exist" in message else DATA
    expect_failure(cli, folder, COMMANDS[command](name), code, message)


def test_unknown_label(cli, folder):
    name = with_line(folder, "x.csv", 12, set_cell(2, "X"))
    expect_failure(cli, folder, COMMANDS["train-valid"](name), DATA, "x.csv:12:2: expected a label among B, M; received 'X'")
    expect_failure(cli, folder, COMMANDS["predict"](name), DATA, "x.csv:12:2: expected a label among B, M; received 'X'")


def test_single_class_training_data(cli, folder):
    lines = [l for l in good_lines(folder) if ",M," in l]
    (folder / "m.csv").write_text("\n".join(lines) + "\n")
    expect_failure(cli, folder, ["train", "--data", "m.csv"], DATA, "m.csv: expected at least two classes in the training data; received only 'M' (212 rows)")
    expect_failure(cli, folder, ["train", "--train", "m.csv", "--valid", "good.csv"], DATA, "received only 'M'")
    expect_failure(cli, folder, ["split", "m.csv"], DATA, "received only 'M'")


def test_feature_count_differs_from_the_model(cli, folder):
    (folder / "narrow.csv").write_text("\n".join(",".join(l.split(",")[:20]) for l in good_lines(folder)) + "\n")
    expect_failure(cli, folder, ["predict", "run", "narrow.csv"], DATA, "narrow.csv:1: expected 30 features (as the model was trained); received 18")


def _rewrite_model(folder, name, meta_change=None, tensor_change=None):
    meta_text = None
    data = (folder / "run/model.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["xmlp"])
    tensors = safetensors.numpy.load(data)
    if meta_change:
        meta_change(meta)
    if tensor_change:
        tensor_change(tensors)
    meta_text = json.dumps(meta)
    (folder / name).write_bytes(safetensors.numpy.save(tensors, metadata={"xmlp": meta_text}))
    return name


@pytest.mark.parametrize(
    "make, code, message",
    [
        (lambda f: "nope.safetensors", NOINPUT, "nope.safetensors: expected an xmlp model file; received a path that is not a file"),
        (lambda f: (f / "t.safetensors").write_bytes((f / "run/model.safetensors").read_bytes()[:-50]) and "t.safetensors", DATA, "t.safetensors: expected complete safetensors data; received a damaged file"),
        (lambda f: (f / "t.safetensors").write_bytes((f / "run/model.safetensors").read_bytes()[:300]) and "t.safetensors", DATA, "t.safetensors: expected an xmlp model (safetensors); received a file whose header does not fit it"),
        (lambda f: (f / "c.safetensors").write_bytes(b"id,diagnosis\n1,M\n") and "c.safetensors", DATA, "c.safetensors: expected an xmlp model (safetensors); received a file whose header does not fit it"),
        (lambda f: (f / "o.safetensors").write_bytes(safetensors.numpy.save({"w": np.zeros(2)})) and "o.safetensors", DATA, "o.safetensors: expected an xmlp model; received a file without xmlp metadata"),
        (lambda f: _rewrite_model(f, "v.safetensors", lambda m: m.update(format_version=3)), DATA, "v.safetensors: expected model format version <= 2; received 3 (written by a newer xmlp: upgrade xmlp to read it)"),
        (lambda f: _rewrite_model(f, "s.safetensors", tensor_change=lambda t: t.update({"layers.1.weight": np.zeros((24, 23), np.float32)})), DATA, "s.safetensors: expected layers.1.weight of shape (24, 24); received (24, 23)"),
        (lambda f: _rewrite_model(f, "u.safetensors", lambda m: m["topology"]["layers"][0].update(units=25)), DATA, "u.safetensors: expected layers.0.weight of shape (30, 25); received (30, 24)"),
        (lambda f: _rewrite_model(f, "a.safetensors", lambda m: m["topology"]["layers"][0].update(activation="os.system")), DATA, "a.safetensors: expected an activation among linear, relu"),
        (lambda f: _rewrite_model(f, "d.safetensors", tensor_change=lambda t: t.update({"layers.0.bias": t["layers.0.bias"].astype(np.float16)})), DATA, "d.safetensors: expected layers.0.bias of dtype float32; received float16"),
        (lambda f: _rewrite_model(f, "n.safetensors", tensor_change=lambda t: t["layers.0.bias"].__setitem__(0, np.nan)), DATA, "n.safetensors: expected finite values in layers.0.bias; received NaN or infinity"),
        (lambda f: _rewrite_model(f, "f.safetensors", lambda m: m.update(format="keras")), DATA, "f.safetensors: expected format 'xmlp-model'; received 'keras'"),
    ],
    ids=["missing", "truncated-tail", "truncated-header", "not-a-model", "foreign-safetensors", "newer-version", "tampered-shape", "tampered-topology", "unknown-activation", "dtype", "nan", "format"],
)
def test_bad_model_files(cli, folder, make, code, message):
    name = make(folder)
    expect_failure(cli, folder, ["predict", name, "good.csv", "--out", "pred.csv"], code, message)


def test_output_that_cannot_be_created(cli, folder):
    (folder / "afile").write_text("x")
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--out", "afile/run"], CANTCREATE,
                   "afile/run: expected a folder to write into; received a path through the file afile")
    expect_failure(cli, folder, ["split", "good.csv", "--out-dir", "afile/parts"], CANTCREATE, "received a path through the file afile")
    expect_failure(cli, folder, ["predict", "run", "good.csv", "--out", "afile/p.csv"], CANTCREATE, "received a path through the file afile")
    expect_failure(cli, folder, ["plot", "run", "--out", "afile/c.png"], CANTCREATE, "received a path through the file afile")


def test_read_only_folder(cli, folder, tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root can write into a read-only folder; the path-through-a-file case covers 73")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        expect_failure(cli, folder, ["split", "good.csv", "--out-dir", "ro"], CANTCREATE, "ro is not writable")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "argument --epochs: expected an integer >= 1; received '0'"),
        (["train", "--learning-rate", "-0.1"], "expected a number > 0.0; received '-0.1'"),
        (["train", "--batch-size", "0"], "expected an integer >= 1; received '0'"),
        (["train", "--layer", "0"], "argument --layer: expected an integer >= 1; received '0'"),
        (["split", "good.csv", "--valid-size", "1.0"], "expected a fraction in (0, 1) or a row count >= 1; received '1.0'"),
        (["split", "good.csv", "--valid-size", "-0.2"], "received '-0.2'"),
        (["split", "good.csv", "--valid-size", "569"], "expected a validation row count in [1, 568]; received 569 (569 rows in good.csv)"),
    ],
)
def test_invalid_option_values(cli, folder, argv, message):
    expect_failure(cli, folder, argv, USAGE, message)


def test_cuda_without_a_gpu_fails_cleanly_for_every_command(cli, folder, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "cupy", None)  # as on a machine without CuPy
    for argv in (["train", "--train", "good.csv", "--out", "newrun", "--device", "cuda"],
                 ["predict", "run", "good.csv", "--out", "pred.csv", "--device", "cuda"],
                 ["train", "--backend", "torch", "--device", "cuda", "--out", "newrun"]):
        import importlib.util

        torch_message = ("received a PyTorch that sees none" if importlib.util.find_spec("torch")
                         else "expected PyTorch for the torch backend; received an environment without it")
        message = "[cuda12]', or 'cuda13' for a CUDA 13 driver)" if "torch" not in argv else torch_message
        expect_failure(cli, folder, argv, 69, message)
