"""``xmlp train --task regression`` and ``xmlp predict`` of a regression model: a headered CSV, the
target named by --target, the scores, the predictions file, --resume, and the bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture
def diabetes_csv(tmp_path):
    datasets = pytest.importorskip("sklearn.datasets")
    frame = datasets.load_diabetes(as_frame=True).frame  # 10 features, then 'target'
    frame.to_csv(tmp_path / "diabetes.csv", index=False)
    return tmp_path / "diabetes.csv"


def test_train_and_predict_a_regression(cli, tmp_path, diabetes_csv):
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    code, out, err = cli("train", "--data", "diabetes.csv", "--task", "regression", "--epochs", "20", "--out", "r",
                         "--no-plots", "--no-refit", "--metrics", "rmse", "r2")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "columns       : no id column, target 'target' (column 11), 10 features ('age', 'sex', 'bmi', …)"
    assert lines[3].startswith("target        : mean ") and "(354 training rows)" in lines[3]
    assert " - rmse: " in lines[4] and " - val_r2: " in lines[4]
    assert lines[-1].startswith("trained on numpy (float32) in 20 epochs - validation rmse: ")
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert history["config"]["task"] == "regression" and set(history["history"]) == {
        "loss", "val_loss", "rmse", "val_rmse", "r2", "val_r2"}
    code, out, err = cli("predict", "r", "diabetes.csv", "--out", "p.csv", "--metrics-json", "m.json")
    assert code == 0, err
    pred = np.array([float(l) for l in (tmp_path / "p.csv").read_text().splitlines()[1:]])
    y = np.loadtxt(diabetes_csv, delimiter=",", skiprows=1)[:, -1]
    doc = json.loads((tmp_path / "m.json").read_text())
    # The JSON's scores are scikit-learn's of the written predictions (repr: every digit of float64).
    assert doc["r2"] == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert doc["mse"] == pytest.approx(mean_squared_error(y, pred), rel=1e-9)
    assert doc["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-9)
    assert doc["trained_rows"] == 354  # --no-refit: the training part
    assert out.splitlines()[-1] == (f"mse: {doc['mse']:.6g} - rmse: {doc['rmse']:.6g} - mae: {doc['mae']:.6g} - "
                                    f"r2: {doc['r2']:.4f}")
    code, out, err = cli("train", "--resume", "r", "--data", "diabetes.csv", "--task", "regression", "--epochs", "2",
                         "--out", "more", "--no-plots", "--quiet", "--metrics", "rmse", "r2")
    assert code == 0, err
    code, out, err = cli("train", "--resume", "r", "--data", "diabetes.csv", "--loss", "mae", "--epochs", "2",
                         "--out", "other", "--no-plots", "--quiet", "--metrics", "rmse", "r2")
    assert code == 78 and "expected --loss name=mse (the model's); received name=mae" in err


def test_a_named_target_and_huber(cli, tmp_path, diabetes_csv):
    code, out, err = cli("train", "--data", "diabetes.csv", "--loss", "huber", "--huber-delta", "0.5", "--target", "bmi",
                         "--epochs", "3", "--out", "r", "--no-plots", "--quiet")
    assert code == 0, err
    from xmlp.io.model_file import read_model_file

    meta, _ = read_model_file(tmp_path / "r/model.safetensors")
    assert meta["loss_config"] == {"name": "huber", "delta": 0.5} and meta["training"]["target"] == "bmi"
    assert meta["feature_names"] == ["age", "sex", "bp", "s1", "s2", "s3", "s4", "s5", "s6", "target"]
    code, out, err = cli("predict", "r", "diabetes.csv")  # scored against bmi, the model's --target
    assert code == 0 and out.splitlines()[-1].startswith("mse: ")


@pytest.mark.parametrize("argv, code, message", [
    (["--task", "regression", "--target", "nope"], 65, "diabetes.csv:1: expected a column named 'nope' (--target); "
                                                       "received a header without it ('age', 'sex', 'bmi', 'bp', 's1', 's2', …)"),
    ([], 65, "diabetes.csv: expected class labels; received 214 distinct numbers (such as '100.0'), a regression's "
             "targets (hint: --task regression)"),
    (["--loss", "mse", "--metrics", "accuracy"], 2, "--metrics: expected metrics among mse, rmse, mae, r2 (a regression); "
                                                    "received ['accuracy']"),
    (["--task", "regression", "--loss", "binaryCrossentropy"], 2, "expected a regression loss (mse, mae, huber) with "
                                                                  "--task regression"),
    (["--task", "regression", "--calibrate", "--no-refit"], 2, "expected --calibrate with a classification"),
    (["--loss", "sigmoidCrossentropy"], 2, "--loss: expected a classification or regression loss; received "
                                           "sigmoidCrossentropy, the multi-label loss"),
])
def test_regression_mistakes_are_one_line(cli, tmp_path, diabetes_csv, argv, code, message):
    got, out, err = cli("train", "--data", "diabetes.csv", *argv, "--out", "r")
    assert got == code and err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["diabetes.csv"]


def test_labels_given_to_a_regression_name_the_line(cli, tmp_path):
    from xmlp.cli.commands import wdbc_rows

    (tmp_path / "d.csv").write_text(wdbc_rows())
    code, out, err = cli("train", "--data", "d.csv", "--task", "regression", "--out", "r")
    assert code == 65 and err == ("xmlp: error: d.csv:1: expected a finite number as the regression target; received "
                                  "'M' (hint: labels are a classification: --task classification)\n")


def test_a_regression_split_is_random_not_stratified_on_the_targets(cli, tmp_path):
    """Every target distinct (a price, a dose): a split stratified on them could put none of the rows
    in the validation part (a class of one keeps its training row); the split is a random 20 %."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=100) * 0.1  # 100 distinct floats
    lines = ["a,b,c,target"] + [",".join(f"{v:.9g}" for v in (*row, t)) for row, t in zip(x, y)]
    (tmp_path / "distinct.csv").write_text("\n".join(lines) + "\n")
    code, out, err = cli("train", "--data", "distinct.csv", "--task", "regression", "--epochs", "2", "--no-plots",
                         "--out", "r")
    assert code == 0, err
    assert "x_train shape : (80, 3)" in out and "x_valid shape : (20, 3)" in out


def test_a_streamed_regression_trains_on_the_same_rows_and_scales_from_the_first_pass(cli, tmp_path, diabetes_csv):
    """--stream: the target column read as numbers chunk by chunk, its scaling merged from the
    chunks' moments (= the training rows' mean and std), a random split; predict scores it."""
    code, out, err = cli("train", "--data", "diabetes.csv", "--task", "regression", "--stream", "--chunk-rows", "100",
                         "--epochs", "40", "--out", "r", "--no-plots", "--no-refit", "--optimizer", "adam")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("> streaming diabetes.csv in chunks of 100 rows")
    y = np.loadtxt(diabetes_csv, delimiter=",", skiprows=1)[:, -1]
    assert "(353 training rows)" in lines[3]  # a random 20 % of each chunk: 89 validation rows
    from xmlp.models.sequential import load_model

    model = load_model(tmp_path / "r/model.safetensors")
    assert f"mean {model.encoder.mean[0]:.6g}, std {model.encoder.scale[0]:.6g} " in lines[3]  # the line's 6 digits
    assert y.min() < model.encoder.mean[0] < y.max() and model.encoder.scale[0] == pytest.approx(np.std(y), rel=0.1)
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert history["final"]["val_r2"] > 0.3  # it learns (diabetes: ~0.45 with 40 epochs of Adam)
    code, out, err = cli("predict", "r", "diabetes.csv", "--metrics-json", "m.json")
    assert code == 0, err
    assert json.loads((tmp_path / "m.json").read_text())["trained_rows"] == 353
