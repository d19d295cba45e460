"""``--target A B …``: several numeric targets on the command line — ``--task multilabel`` (one
sigmoid per 0/1 column) and a regression with several outputs — trained, predicted (a column per
label or target), scored as in Python, resumed, and the bad inputs (one line each)."""

from __future__ import annotations

import json

import numpy as np
import pytest

QUIET = ["--epochs", "20", "--no-plots", "--quiet", "--layer", "16"]


@pytest.fixture
def multilabel_csv(tmp_path):
    """An id, six features and three 0/1 label columns a, b, c (two of them follow the features)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    y = np.column_stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, rng.random(300) < 0.3]).astype(int)
    rows = ["id,f0,f1,f2,f3,f4,f5,a,b,c"] + [
        ",".join([f"q{i}", *(f"{v:.6f}" for v in x[i]), *map(str, y[i])]) for i in range(300)]
    (tmp_path / "ml.csv").write_text("\n".join(rows) + "\n")
    return x, y


def test_multilabel_trains_predicts_and_scores_as_python_does(cli, tmp_path, multilabel_csv):
    x, y = multilabel_csv
    code, out, err = cli("train", "--data", "ml.csv", "--task", "multilabel", "--target", "a", "b", "c", "--out", "r",
                         *QUIET[:-3], "--layer", "16", "--no-refit")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("columns       : id 'id' (column 1), targets 'a' (column 8), 'b' (column 9), 'c' (column 10), "
                        "6 features ('f0', 'f1', 'f2', …)")
    assert lines[3].startswith("labels        : 3, positive in ") and "of the 240 training rows" in lines[3]
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert set(history["history"]) == {"loss", "val_loss", "hamming_loss", "val_hamming_loss", "subset_accuracy",
                                       "val_subset_accuracy"}
    assert history["final"]["val_f1_micro"] > 0.7  # labels a and b follow the features; c is noise at 30 %
    code, out, err = cli("predict", "r", "ml.csv", "--out", "p.csv", "--metrics-json", "m.json")
    assert code == 0, err
    from xmlp.models.sequential import load_model

    model = load_model(tmp_path / "r/model.safetensors")
    assert model.task == "multilabel" and model.network.n_outputs == 3
    written = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1, usecols=range(1, 7))
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "id,a,b,c,p_a,p_b,p_c"
    x = np.loadtxt(tmp_path / "ml.csv", delimiter=",", skiprows=1, usecols=range(1, 7))  # the values as written
    proba = model.predict_proba(x)
    # the probabilities as written read back as the same float32 values; the 0/1 columns are p > 0.5
    assert np.array_equal(written[:, 3:].astype(np.float32), proba)
    assert np.array_equal(written[:, :3], (proba > 0.5).astype(float))
    doc = json.loads((tmp_path / "m.json").read_text())
    expected = model.evaluate(x, y)
    for key in ("hamming_loss", "subset_accuracy", "f1_micro", "f1_macro"):
        assert doc[key] == pytest.approx(expected[key], abs=1e-12), key  # the same counts of the same predictions
    assert out.splitlines()[-1].startswith(f"hamming loss: {doc['hamming_loss']:.4f} - subset accuracy: ")
    code, out, err = cli("train", "--resume", "r", "--data", "ml.csv", "--task", "multilabel", "--target", "a", "b",
                         "c", "--out", "more", *QUIET[:-3], "--layer", "16")
    assert code == 0, err


def test_predict_on_rows_without_the_label_columns(cli, tmp_path, multilabel_csv):
    code, out, err = cli("train", "--data", "ml.csv", "--task", "multilabel", "--target", "a", "b", "c", "--out", "r",
                         *QUIET)
    assert code == 0, err
    rows = (tmp_path / "ml.csv").read_text().splitlines()
    (tmp_path / "new.csv").write_text("\n".join(",".join(r.split(",")[:7]) for r in rows) + "\n")
    code, out, err = cli("predict", "r", "new.csv")
    assert code == 0, err
    first = out.splitlines()[1]
    assert first.startswith("q0: ") and ("(no label)" in first or "(0." in first or "(1." in first)


def test_a_regression_with_two_targets(cli, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4))
    y = np.column_stack([x @ [1.0, 2.0, 0.0, 1.0], x @ [0.0, -1.0, 1.0, 0.0]])
    lines = ["u,v,a,b,c,d"] + [",".join(f"{v:.6f}" for v in (*y[i], *x[i])) for i in range(300)]
    (tmp_path / "two.csv").write_text("\n".join(lines) + "\n")
    code, out, err = cli("train", "--data", "two.csv", "--task", "regression", "--target", "u", "v", "--out", "r",
                         "--epochs", "60", "--no-plots", "--layer", "16")
    assert code == 0, err
    assert "(240 training rows, 2 targets)" in out
    code, out, err = cli("predict", "r", "two.csv", "--out", "p.csv", "--metrics-json", "m.json")
    assert code == 0, err
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "u,v"
    pred = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    from sklearn.metrics import r2_score

    doc = json.loads((tmp_path / "m.json").read_text())
    # scikit-learn's uniform average over the two outputs, of the predictions as written (repr: every digit)
    assert doc["r2"] == pytest.approx(r2_score(y, pred), rel=1e-6) and doc["r2"] > 0.9  # a linear target


@pytest.mark.parametrize("argv, code, message", [
    (["--task", "multilabel"], 2, "expected --target with the 0/1 label columns with --task multilabel; received "
                                  "none (hint: --target A B C, by header name or index)"),
    (["--target", "a", "b"], 2, "expected one --target column for a classification; received 2 (hint: --task "
                                "regression for several outputs, --task multilabel for 0/1 labels)"),
    (["--task", "multilabel", "--target", "a", "a"], 65, "ml.csv:1: expected distinct --target columns; received "
                                                         "column 8 twice"),
    (["--task", "multilabel", "--target", "a", "f0"], 65, "ml.csv:2: expected 0 or 1 in the label columns (--task "
                                                          "multilabel); received 0.12573 in label 2"),
    (["--task", "multilabel", "--target", "a", "--loss", "mse"], 2, "expected --loss sigmoidCrossentropy (or none) "
                                                                    "with --task multilabel; received --loss mse"),
    (["--loss", "sigmoidCrossentropy"], 2, "--loss: expected a classification or regression loss; received "
                                           "sigmoidCrossentropy, the multi-label loss (hint: --task multilabel "
                                           "--target LABEL…)"),
])
def test_bad_multitarget_settings_are_one_line(cli, tmp_path, multilabel_csv, argv, code, message):
    got = cli("train", "--data", "ml.csv", *argv, "--out", "r", *QUIET)
    assert got[0] == code and got[2] == f"xmlp: error: {message}\n", got[2]
    assert not (tmp_path / "r").exists()


def test_a_streamed_multilabel_run(cli, tmp_path, multilabel_csv):
    """--stream: the 0/1 columns read as numbers chunk by chunk (unstratified split), each label's share
    from the first pass; it trains as the in-memory run does."""
    code, out, err = cli("train", "--data", "ml.csv", "--task", "multilabel", "--target", "a", "b", "c", "--stream",
                         "--chunk-rows", "64", "--out", "r", "--epochs", "20", "--no-plots", "--layer", "16",
                         "--no-refit")
    assert code == 0, err
    line = next(l for l in out.splitlines() if l.startswith("labels        : "))
    assert line.startswith("labels        : 3, positive in ") and line.endswith("training rows")
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert history["final"]["val_f1_micro"] > 0.7
    code, out, err = cli("predict", "r", "ml.csv", "--out", "p.csv")
    assert code == 0, err
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "id,a,b,c,p_a,p_b,p_c"
