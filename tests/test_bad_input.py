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


def _oversized_header(folder):
    """A file whose 8-byte header length (8 000 008) fits the file but exceeds the 8 MB limit."""
    import struct

    body = b'{"__metadata__": {"xmlp": "' + b" " * 7_999_970 + b'"}}'
    blob = struct.pack("<Q", 8_000_008) + body.ljust(8_000_008, b" ")
    (folder / "h.safetensors").write_bytes(blob)
    return "h.safetensors"


@pytest.mark.parametrize(
    "make, code, message",
    [
        (lambda f: "nope.safetensors", NOINPUT, "nope.safetensors: expected an xmlp model file; received a path that is not a file"),
        (lambda f: (f / "t.safetensors").write_bytes((f / "run/model.safetensors").read_bytes()[:-50]) and "t.safetensors", DATA, "t.safetensors: expected complete safetensors data; received a damaged file"),
        (lambda f: (f / "t.safetensors").write_bytes((f / "run/model.safetensors").read_bytes()[:300]) and "t.safetensors", DATA, "t.safetensors: expected an xmlp model (safetensors); received a file whose header does not fit it"),
        (lambda f: (f / "c.safetensors").write_bytes(b"id,diagnosis\n1,M\n") and "c.safetensors", DATA, "c.safetensors: expected an xmlp model (safetensors); received a file whose header does not fit it"),
        (lambda f: (f / "o.safetensors").write_bytes(safetensors.numpy.save({"w": np.zeros(2)})) and "o.safetensors", DATA, "o.safetensors: expected an xmlp model; received a file without xmlp metadata"),
        (lambda f: _rewrite_model(f, "v.safetensors", lambda m: m.update(format_version=6)), DATA, "v.safetensors: expected model format version <= 5; received 6 (written by a newer xmlp: upgrade xmlp to read it)"),
        (lambda f: _rewrite_model(f, "s.safetensors", tensor_change=lambda t: t.update({"layers.1.weight": np.zeros((24, 23), np.float32)})), DATA, "s.safetensors: expected layers.1.weight of shape (24, 24); received (24, 23)"),
        (lambda f: _rewrite_model(f, "u.safetensors", lambda m: m["topology"]["layers"][0].update(units=25)), DATA, "u.safetensors: expected layers.0.weight of shape (30, 25); received (30, 24)"),
        (lambda f: _rewrite_model(f, "a.safetensors", lambda m: m["topology"]["layers"][0].update(activation="os.system")), DATA, "a.safetensors: expected an activation among linear, relu"),
        (lambda f: _rewrite_model(f, "d.safetensors", tensor_change=lambda t: t.update({"layers.0.bias": t["layers.0.bias"].astype(np.float16)})), DATA, "d.safetensors: expected layers.0.bias of dtype float32; received float16"),
        (lambda f: _rewrite_model(f, "n.safetensors", tensor_change=lambda t: t["layers.0.bias"].__setitem__(0, np.nan)), DATA, "n.safetensors: expected finite values in layers.0.bias; received NaN or infinity"),
        # a Yeo-Johnson lambda of NaN would transform one-signed columns by log1p and others to NaN
        (lambda f: _rewrite_model(f, "y.safetensors", tensor_change=lambda t: t["preprocess.lambdas"].__setitem__(3, np.nan)), DATA, "y.safetensors: expected finite values in preprocess.lambdas; received NaN or infinity"),
        (lambda f: _rewrite_model(f, "f.safetensors", lambda m: m.update(format="keras")), DATA, "f.safetensors: expected format 'xmlp-model'; received 'keras'"),
        # found by the model-description fuzz test (tests/test_fuzz.py): internal errors before
        (lambda f: _rewrite_model(f, "l.safetensors", lambda m: m.pop("loss")), DATA, "l.safetensors: expected a loss name; received None"),
        (lambda f: _rewrite_model(f, "p.safetensors", lambda m: m.update(preprocess=[])), DATA, "p.safetensors: expected preprocess among 'standardize', 'yeo-johnson' or null; received []"),
        (lambda f: _rewrite_model(f, "b.safetensors", lambda m: m.update(classes=[True, "M"])), DATA, "b.safetensors: expected 2 distinct class labels; received [True, 'M']"),
        (lambda f: _oversized_header(f), DATA, "h.safetensors: expected an xmlp model whose JSON header is at most 8,000,000 bytes; received one of 8,000,008 bytes"),
    ],
    ids=["missing", "truncated-tail", "truncated-header", "not-a-model", "foreign-safetensors", "newer-version", "tampered-shape", "tampered-topology", "unknown-activation", "dtype", "nan", "nan-lambda", "format",
         "no-loss", "preprocess-list", "bool-class", "oversized-header"],
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


# ----------------------------------------------------------------------------- hostile and careless use
def test_outputs_that_are_inputs_are_refused(cli, folder):
    expect_failure(cli, folder, ["predict", "run", "good.csv", "--out", "good.csv"], USAGE,
                   "good.csv: expected an output other than the command's inputs; received good.csv, one of its inputs")
    expect_failure(cli, folder, ["predict", "run", "good.csv", "--out", "run/model.safetensors"], USAGE,
                   "expected an output other than the command's inputs; received run/model.safetensors")
    expect_failure(cli, folder, ["plot", "run", "--out", "run/history.json"], USAGE,
                   "expected an output other than the command's inputs; received run/history.json")


def test_predict_to_a_device_writes_through(cli, folder):
    import os
    import stat

    code, out, err = cli("predict", "run", "good.csv", "--out", "/dev/null")
    assert code == 0, err and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_existing_run_folder_needs_force(cli, folder):
    (folder / "run" / "stale.png").write_bytes(b"old plot")
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--out", "run", "--epochs", "1"], CANTCREATE,
                   "run: expected a new run folder; received an existing one (hint: --force replaces it)")
    assert cli("train", "--data", "good.csv", "--out", "run", "--epochs", "1", "--quiet", "--force", "--no-plots")[0] == 0
    assert sorted(p.name for p in (folder / "run").iterdir()) == ["history.csv", "history.json", "model.safetensors"]
    (folder / "run" / "in.csv").write_bytes((folder / "good.csv").read_bytes())
    expect_failure(cli, folder, ["train", "--data", "run/in.csv", "--out", "run", "--force"], USAGE,
                   "expected a run folder that holds none of the inputs; received one holding run/in.csv")


def test_a_failing_run_leaves_nothing(cli, folder, monkeypatch):
    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("xmlp.cli.plots.plot_history", full_disk)  # fails after the model and history
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--out", "newrun", "--epochs", "1"], CANTCREATE,
                   "No space left on device")
    assert not (folder / "runs").exists()
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--epochs", "1"], CANTCREATE, "No space left")


def test_default_run_folders_are_never_shared(cli, folder):
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    (folder / "runs" / stamp).mkdir(parents=True)  # another process took this second's name
    assert cli("train", "--data", "good.csv", "--epochs", "1", "--quiet", "--no-plots")[0] == 0
    made = sorted(p.name for p in (folder / "runs").iterdir())
    assert len(made) == 2 and not list((folder / "runs" / stamp).iterdir())


@pytest.mark.parametrize("make, message", [
    (lambda f: "/dev/zero", "/dev/zero:1: expected lines of at most 1,048,576 bytes"),
    (lambda f: (f / "commas.csv").write_text(",\n" * 100_000) and "commas.csv", "commas.csv:2: expected class labels"),
    (lambda f: (f / "one.csv").write_bytes(b"9" * 3_000_000) and "one.csv", "one.csv:1: expected lines of at most"),
    (lambda f: with_line(f, "typo.csv", 57, set_cell(2, "m")), "typo.csv: expected at least 5 rows of each class; received 1 of class 'm' (first at line 57"),
    (lambda f: (f / "two.csv").write_text("\n".join(good_lines(f)[:1] + [l for l in good_lines(f) if ",B," in l][:1]) + "\n") and "two.csv", "expected at least 5 rows of each class; received 1 of class"),
    (lambda f: with_line(f, "esc.csv", 3, set_cell(5, "1\x1b[31mred")), "esc.csv:3:5: expected a number; received '1\\x1b[31mred'"),
], ids=["dev-zero", "comma-lines", "one-huge-line", "typo-label", "two-rows", "escape-chars"])
def test_hostile_data_files(cli, folder, make, message):
    expect_failure(cli, folder, ["train", "--data", make(folder), "--out", "newrun"], DATA, message)


def test_huge_network_is_refused_before_allocating(cli, folder):
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--layer", "100000", "100000"], USAGE,
                   "--layer: expected a network that fits in memory; received one that needs about")


def test_columns_by_name_at_predict(cli, folder, wdbc, tmp_path):
    x, y, names = wdbc
    header = ["id", "diagnosis", *names]
    rows = [",".join([str(i), y[i], *map(repr, x[i].tolist())]) for i in range(120)]
    (folder / "h.csv").write_text("\n".join([",".join(header)] + rows) + "\n")
    assert cli("train", "--data", "h.csv", "--out", "named", "--epochs", "2", "--quiet", "--no-plots")[0] == 0
    order = list(reversed(range(len(header))))  # every column moved
    shuffled = [",".join(header[k] for k in order)] + [",".join(r.split(",")[k] for k in order) for r in rows]
    (folder / "shuffled.csv").write_text("\n".join(shuffled) + "\n")
    same = [cli("predict", "named", f, "--out", f"p-{f}")[0] for f in ("h.csv", "shuffled.csv")]
    assert same == [0, 0] and (folder / "p-h.csv").read_text() == (folder / "p-shuffled.csv").read_text()
    (folder / "missing.csv").write_text("\n".join(",".join(r.split(",")[:-1]) for r in [",".join(header)] + rows) + "\n")
    expect_failure(cli, folder, ["predict", "named", "missing.csv"], DATA,
                   "missing.csv:1: expected a column named 'worst fractal dimension' (a feature of the model)")


@pytest.mark.parametrize("text, code, message", [
    ("epochs = 1\n[train]\nlayer = [8]\n", DATA, "expected the settings either at the top level or in [train]; received both ('epochs'"),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", DATA, "expected TOML; received invalid text"),
    ("layer = [{a = 1}]\n", USAGE, "expected a number, a string or a list for 'layer'"),  # a value: as on the command line
])
def test_bad_config_structures(cli, folder, text, code, message):
    (folder / "c.toml").write_text(text)
    expect_failure(cli, folder, ["train", "--config", "c.toml"], code, message)


@pytest.mark.parametrize("change, message", [
    (lambda m, t: t.update({"layers.0.weight": np.full((30, 24), 3e38, np.float32)}), "expected |values| <= 1e+10 in layers.0.weight"),
    (lambda m, t: m.update(temperature=5e-324), "expected a temperature in [0.001, 1000]"),
    (lambda m, t: t.update({"preprocess.scale": np.full(30, 1e-300)}), "expected preprocess.scale >= 1e-30"),
    (lambda m, t: m.update(topology="layers"), "expected a topology with n_features and layers"),
    (lambda m, t: m["topology"]["layers"][0].update(kernel_initializer=5), "expected an initializer among"),
])
def test_model_files_that_would_give_nan_are_refused(cli, folder, change, message):
    name = _rewrite_model(folder, "m.safetensors", lambda m: None)
    data = (folder / name).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    meta = json.loads(json.loads(data[8 : 8 + n])["__metadata__"]["xmlp"])
    tensors = safetensors.numpy.load(data)
    change(meta, tensors)
    (folder / name).write_bytes(safetensors.numpy.save(tensors, metadata={"xmlp": json.dumps(meta)}))
    expect_failure(cli, folder, ["predict", name, "good.csv"], DATA, message)


def test_overflowing_feature_at_predict_names_its_line(cli, folder):
    assert cli("train", "--data", "good.csv", "--out", "std", "--epochs", "1", "--preprocess", "standardize",
               "--quiet", "--no-plots")[0] == 0
    # Column 7 (mean smoothness) has a standard deviation of ~0.014: 1e38 / 0.014 overflows float32.
    name = with_line(folder, "big.csv", 4, set_cell(7, "1e38"))
    expect_failure(cli, folder, ["predict", "std", name], DATA, "big.csv:4: expected values that fit float32 after preprocessing")


def test_malformed_history_files(cli, folder):
    (folder / "deep").mkdir()
    (folder / "deep/history.json").write_text('{"history": ' + "[" * 100_000 + "]" * 100_000 + "}")
    expect_failure(cli, folder, ["plot", "deep"], DATA, "expected an xmlp history (JSON with history.loss)")
    (folder / "words").mkdir()
    (folder / "words/history.json").write_text('{"history": {"loss": [0.1, "x"]}}')
    expect_failure(cli, folder, ["plot", "words"], DATA, "expected history.loss to be 2 finite numbers")


def test_split_all_or_nothing_and_no_empty_part(cli, folder):
    (folder / "data_valid.csv").mkdir()
    expect_failure(cli, folder, ["split", "good.csv", "--force"], CANTCREATE, "received a folder")
    lines = good_lines(folder)
    tiny = [l for l in lines if ",M," in l][:1] + [l for l in lines if ",B," in l][:1]
    (folder / "tiny.csv").write_text("\n".join(tiny) + "\n")
    expect_failure(cli, folder, ["split", "tiny.csv", "--out-dir", "parts"], USAGE, "expected two non-empty parts")


@pytest.mark.parametrize("text, code, message", [
    ('epochs = 1\n[runs.a]\n[runs."x\\u0000y"]\n', DATA, "expected a plain run name"),
    ('epochs = 1\n[runs."' + "n" * 300 + '"]\n', DATA, "expected a plain run name"),
    ('layer = ["8", "--quiet"]\n', USAGE, "expected a value for 'layer'; received '--quiet', which reads as an option"),
    ('activation = "--debug"\n', USAGE, "expected a value for 'activation'; received '--debug'"),
])
def test_config_values_cannot_smuggle_options_or_paths(cli, folder, text, code, message):
    (folder / "c.toml").write_text(text)
    expect_failure(cli, folder, ["train", "--config", "c.toml"], code, message)


def test_histories_that_cannot_be_drawn(cli, folder):
    import json as _json

    for name, history in (("big", {"loss": [1e308, 1.0]}), ("keys", {"loss": [1.0], "k" * 1000: [1.0]})):
        (folder / name).mkdir()
        (folder / name / "history.json").write_text(_json.dumps({"history": history}))
    expect_failure(cli, folder, ["plot", "big"], DATA, "expected history.loss to be 2 finite numbers (one per epoch, |x| <= 1e+100)")
    expect_failure(cli, folder, ["plot", "keys"], DATA, "expected at most 100 metrics with names of at most 64 characters")


def test_existing_outputs_need_force_even_through_a_symlink(cli, folder):
    (folder / "other.txt").write_text("mine")
    (folder / "lnk").symlink_to("other.txt")
    for argv in (["predict", "run", "good.csv", "--out", "lnk"], ["plot", "run", "--out", "lnk"],
                 ["plot", "run", "--out", "run/model.safetensors"], ["predict", "run", "good.csv", "--out", "other.txt"]):
        expect_failure(cli, folder, argv, CANTCREATE, "expected a new file; received an existing one (hint: --force overwrites)")
    assert cli("predict", "run", "good.csv", "--out", "lnk", "--force")[0] == 0  # asked for: the target is replaced
    assert (folder / "lnk").is_symlink() and (folder / "other.txt").read_text().startswith("id,prediction")


def test_force_replaces_only_a_run_folder(cli, folder):
    (folder / "mine").mkdir()
    (folder / "mine" / "thesis.tex").write_text("years of work")
    expect_failure(cli, folder, ["train", "--data", "good.csv", "--out", "mine", "--force", "--epochs", "1"], CANTCREATE,
                   "expected an xmlp run folder to replace (holding comparison.png or history.json or model.safetensors)")


def test_a_fifo_without_a_writer_ends_at_once(cli, folder):
    import os
    import time

    os.mkfifo(folder / "f.csv")
    t0 = time.perf_counter()
    expect_failure(cli, folder, ["train", "--data", "f.csv", "--out", "newrun"], DATA, "f.csv: expected CSV rows; received an empty file")
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize("cell", ["1.5\x0c", "\u20281.5", "1.5\u00a0", "\u30001.5", "1.5\x85"])
def test_only_ascii_blanks_pad_a_number(cli, folder, cell):
    name = with_line(folder, "ws.csv", 4, set_cell(6, cell))
    expect_failure(cli, folder, ["split", name, "--out-dir", "parts"], DATA, "ws.csv:4:6: expected a number; received")
