"""Property-based fuzzing of every reader: random bytes and random mutations of valid CSV, TOML,
history and model files give a valid result or a clean XmlpError from the documented set —
never another exception. Bounded: small inputs, a fixed number of examples, no deadline (the
machine is shared)."""

from __future__ import annotations

import json

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis drives the fuzzing (pip install '.[test]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st

from xmlp.errors import XmlpError  # noqa: E402

FUZZ = settings(max_examples=int(__import__("os").environ.get("XMLP_FUZZ_EXAMPLES", "200")), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CSV = b"id,diagnosis,a,b\n1,M,1.5,2\n2,B,0.5,3e-1\n3,M,7,8\n"
TOML = b'layer = [8, 4]\nepochs = 2\noptimizer = "adam"\n[runs.a]\nbeta1 = 0.8\n'
HISTORY = json.dumps({"history": {"loss": [0.5, 0.4], "val_loss": [0.6, 0.5]}, "config": {"optimizer": {"name": "sgd"}}}).encode()


@st.composite
def mutated(draw, valid: bytes):
    """``valid`` with a few bytes replaced, inserted or deleted (or random bytes altogether)."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=400))
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if op == "insert" or at == len(data):
            data.insert(at, byte)
        elif op == "replace":
            data[at] = byte
        else:
            del data[at]
    return bytes(data)


def _clean(fn, *args):
    try:
        fn(*args)
    except XmlpError:
        pass  # a clean one-line error with its exit code: fine


@FUZZ
@given(data=mutated(CSV))
def test_csv_reader(tmp_path, data):
    from xmlp.data.csv.exact import read_exact

    (tmp_path / "f.csv").write_bytes(data)
    for labels in ("required", "optional"):
        _clean(lambda: read_exact(tmp_path / "f.csv", labels=labels, feature_names=["a", "b"]))


@FUZZ
@given(data=mutated(TOML))
def test_config_reader(tmp_path, data):
    from xmlp.cli.main import _train_parser, build_parser
    from xmlp.cli.settings import train_settings

    (tmp_path / "c.toml").write_bytes(data)
    _clean(lambda: train_settings(_train_parser(build_parser()), ["--config", str(tmp_path / "c.toml")]))


@FUZZ
@given(data=mutated(HISTORY))
def test_history_reader(tmp_path, data):
    from xmlp.io.history import read_history, run_labels

    (tmp_path / "history.json").write_bytes(data)

    def read():
        history, config = read_history(tmp_path / "history.json")
        run_labels(["a"], [config])

    _clean(read)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    import numpy as np

    import xmlp

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.repeat(["a", "b"], 20)
    model = xmlp.Sequential([xmlp.Dense(2, "tanh"), xmlp.Dense(2, "softmax")], preprocess="yeo-johnson")
    model.fit(x, y, epochs=1, seed=0)
    path = tmp_path_factory.mktemp("m") / "m.safetensors"
    model.save(path)
    return path.read_bytes()


@FUZZ
@given(st.data())
def test_model_reader(tmp_path, model_bytes, data):
    import xmlp

    blob = data.draw(mutated(model_bytes))
    (tmp_path / "m.safetensors").write_bytes(blob)
    _clean(lambda: xmlp.load_model(tmp_path / "m.safetensors"))


# ----------------------------------------------------------------------------- the model file's description
# Every key of the JSON description (and every element of its lists), deleted, given another JSON
# type, or an out-of-range value: the model loads and predicts, or the load is one line with exit
# code 65 (DataError) — never another exception (an internal error, exit 70). Structured, so that
# the examples reach the validation of each field rather than the safetensors framing.
DESCRIPTION_EXAMPLES = int(__import__("os").environ.get("XMLP_MODEL_FUZZ_EXAMPLES", "2000"))
REPLACEMENTS = [None, True, False, 0, 1, -1, 2, 3, 0.5, -0.5, 1e-300, 1e308, -1e308, 2**53 + 1, 2**70, -(2**70), "",
                "x", "Dense", "sgd", "float16", [], [1], ["a", "a"], {}, {"kind": "Dense"}]


def _paths(doc, prefix=()):
    """Every path to a value of the JSON document (dict keys and list positions)."""
    out = []
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        out.append(prefix + (key,))
        out += _paths(value, prefix + (key,))
    return out


@pytest.fixture(scope="module")
def descriptions(tmp_path_factory):
    """(JSON description, tensors) of two models that between them use every part of the format:
    Yeo-Johnson, a training state, a fingerprint; BatchNorm, Dropout, LayerNorm, an ensemble,
    a schedule, a calibrated temperature."""
    import numpy as np

    import xmlp

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.repeat(["a", "b"], 20)
    plain = xmlp.Sequential([xmlp.Dense(2, "tanh"), xmlp.Dense(2, "softmax")], preprocess="yeo-johnson")
    plain.fit(x, y, epochs=1, seed=0, optimizer="adam")
    rich = xmlp.Sequential([xmlp.Dense(4), xmlp.BatchNorm(), xmlp.Activation("gelu"), xmlp.Dropout(0.2),
                            xmlp.Dense(3), xmlp.LayerNorm(), xmlp.Dense(2, "softmax")], ensemble=2)
    rich.fit(x, y, epochs=2, batch_size=8, seed=1, optimizer="sgd", lr_schedule=xmlp.StepDecay(1, 0.5))
    out = []
    for model in (plain, rich):
        meta, tensors = model.to_file_data({"training": {"seed": 0, "epochs_run": 1}, "metrics": {"val_loss": 0.5}})
        out.append((meta, tensors, x[:5]))
    return out


@settings(max_examples=DESCRIPTION_EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_every_key_of_the_model_description(tmp_path, descriptions, data):
    import copy

    import xmlp
    from xmlp.errors import as_user_error
    from xmlp.io.model_file import model_file_bytes

    meta, tensors, x = descriptions[data.draw(st.integers(0, len(descriptions) - 1), label="model")]
    meta = copy.deepcopy(meta)
    path = data.draw(st.sampled_from(_paths(meta)), label="path")
    parent = meta
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans(), label="delete"):
        del parent[path[-1]]
    else:
        parent[path[-1]] = copy.deepcopy(data.draw(st.sampled_from(REPLACEMENTS), label="value"))
    (tmp_path / "m.safetensors").write_bytes(model_file_bytes(meta, tensors))
    try:
        model = xmlp.load_model(tmp_path / "m.safetensors")
        model.predict_proba(x)
    except Exception as exc:  # noqa: BLE001 (what the command line would make of any exception is the point)
        err = as_user_error(exc)
        assert err is not None and err.exit_code == 65, f"{path}: {type(exc).__name__}: {exc}"
        assert "\n" not in str(err)
