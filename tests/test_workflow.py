"""The 42 workflow end to end: split -> train -> predict, model file round trips."""

from __future__ import annotations

import json
import re

import numpy as np
from helpers import write_subject_csv

from xmlp import load_model
from xmlp.io.model_file import read_model_file


def test_split_keeps_the_input_format_and_class_balance(cli, subject_csv, tmp_path):
    code, out, err = cli("split", subject_csv, "--seed", "1")
    assert code == 0, err
    train, valid = (tmp_path / "data_train.csv").read_text(), (tmp_path / "data_valid.csv").read_text()
    original = subject_csv.read_text().splitlines()
    assert sorted(train.splitlines() + valid.splitlines()) == sorted(original)  # same rows, same text
    assert len(valid.splitlines()) == 114
    # Stratified: 212 M / 357 B -> 42 M / 72 B in the validation part (20 % of each, rounded).
    assert "> wrote 'data_valid.csv': 114 rows (B: 72, M: 42)" in out
    assert "> wrote 'data_train.csv': 455 rows (B: 285, M: 170)" in out
    # Same seed, same split; another seed, another split.
    cli("split", subject_csv, "--seed", "1", "--out-dir", "again")
    assert (tmp_path / "again/data_valid.csv").read_text() == valid
    cli("split", subject_csv, "--seed", "2", "--out-dir", "other")
    assert (tmp_path / "other/data_valid.csv").read_text() != valid


def test_split_refuses_to_overwrite_unless_forced(cli, subject_csv, tmp_path):
    assert cli("split", subject_csv)[0] == 0
    before = (tmp_path / "data_valid.csv").read_bytes()
    code, _, err = cli("split", subject_csv, "--seed", "9")
    assert code == 73 and "data_train.csv: expected a new file; received an existing one (hint: --force overwrites)" in err
    assert (tmp_path / "data_valid.csv").read_bytes() == before
    assert cli("split", subject_csv, "--seed", "9", "--force", "--valid-size", "100")[0] == 0
    assert len((tmp_path / "data_valid.csv").read_text().splitlines()) == 100


def test_split_no_stratify(cli, subject_csv, tmp_path):
    assert cli("split", subject_csv, "--no-stratify", "--valid-size", "0.5")[0] == 0
    assert len((tmp_path / "data_valid.csv").read_text().splitlines()) == 284  # round(0.5 * 569)


def test_split_train_predict_sequence(cli, subject_csv, tmp_path):
    assert cli("split", subject_csv, "--seed", "1")[0] == 0
    code, out, err = cli("train", "--train", "data_train.csv", "--valid", "data_valid.csv", "--out", "run",
                         "--epochs", "30")
    assert code == 0, err
    assert "x_train shape : (455, 30)" in out and "x_valid shape : (114, 30)" in out
    assert "> saving model 'run/model.safetensors' to disk..." in out
    code, out, err = cli("predict", "run/model.safetensors", "data_valid.csv", "--out", "pred.csv")
    assert code == 0, err
    # The default refit trained the saved model on data_valid.csv too: the scores say so.
    assert err == ("xmlp: warning: 114 of 114 rows were used to train this model (refit on training + validation); "
                   "these scores are not a test estimate\n")
    bce = float(re.search(r"binary cross-entropy \(p = P\(M\)\): ([\d.]+)", out).group(1))
    assert 0.0 < bce < 0.2
    assert re.search(r"accuracy: 0\.9\d+ - precision: [01]\.\d+ - recall: [01]\.\d+ - f1: [01]\.\d+", out)
    assert "confusion matrix (rows: true, columns: predicted):" in out
    rows = (tmp_path / "pred.csv").read_text().splitlines()
    assert rows[0] == "id,prediction,p_B,p_M" and len(rows) == 115
    ident, label, pb, pm = rows[1].split(",")
    assert ident.startswith("9") and label in ("B", "M") and abs(float(pb) + float(pm) - 1) < 2e-6
    # The BCE printed is the subject's formula on the predicted probabilities of M.
    labels = [l.split(",")[1] for l in (tmp_path / "data_valid.csv").read_text().splitlines()]
    p = np.clip(np.array([float(r.split(",")[3]) for r in rows[1:]]), 1e-15, 1 - 1e-15)
    y = np.array([l == "M" for l in labels], dtype=float)
    # pred.csv holds the float32 probabilities exactly (round-trip digits): the BCE of the file is
    # the printed one up to its 4-decimal rounding (5e-5) and float32 rounding of p (~1e-7 relative).
    assert abs(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)) - bce) < 5.1e-5


def test_the_readme_workflow_scores_a_held_out_test_file(cli, subject_csv, tmp_path):
    """The README's 42 workflow: a test file split off first is never trained on (no warning), the
    validation file is (the refit), and --metrics-json carries the counts."""
    import json

    assert cli("split", subject_csv, "--seed", "1", "--valid-size", "0.15", "--names", "rest.csv", "test.csv")[0] == 0
    assert cli("split", "rest.csv", "--seed", "1")[0] == 0
    code, out, err = cli("train", "--train", "data_train.csv", "--valid", "data_valid.csv", "--out", "run",
                         "--epochs", "20", "--quiet", "--no-plots")
    assert code == 0, err
    code, out, err = cli("predict", "run", "test.csv", "--metrics-json", "test.json")
    assert code == 0 and err == "" and "binary cross-entropy" in out
    doc = json.loads((tmp_path / "test.json").read_text())
    assert doc["rows"] == 85 and doc["trained_rows"] == 0 and doc["confusion"] and 0 < doc["bce"] < 0.5
    code, out, err = cli("predict", "run", "data_valid.csv", "--metrics-json", "-")
    doc = json.loads(out)  # the JSON alone on standard output; the messages on standard error
    assert code == 0 and doc["rows"] == doc["trained_rows"] == 97
    assert "warning: 97 of 97 rows were used to train this model (refit" in err and "binary cross-entropy" in err
    code, out, err = cli("predict", "run", "data_train.csv")  # the rows of the run itself
    assert "warning: 387 of 387 rows were used to train this model" in err
    code, out, err = cli("train", "--train", "data_train.csv", "--valid", "data_valid.csv", "--out", "norefit",
                         "--epochs", "20", "--quiet", "--no-plots", "--no-refit")
    code, out, err = cli("predict", "norefit", "data_valid.csv")
    assert code == 0 and err == ""  # without the refit the validation rows were not trained on


def test_predict_unlabeled_file(cli, subject_csv, tmp_path, wdbc):
    assert cli("train", "--data", subject_csv, "--epochs", "5", "--out", "run", "--quiet", "--no-plots")[0] == 0
    x, y, _ = wdbc
    (tmp_path / "new.csv").write_text("".join(f"{i}," + ",".join(str(float(v)) for v in x[i]) + "\n" for i in range(3)))
    code, out, err = cli("predict", "run", "new.csv")
    assert code == 0, err
    assert re.search(r"^0: [BM] \(0\.\d{4}\)$", out, re.M) and "binary cross-entropy" not in out


def test_bom_crlf_and_blank_lines_are_accepted(cli, tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "d.csv", wdbc, newline="\r\n", bom=True)
    text = path.read_bytes().replace(b"\r\n", b"\r\n\r\n", 3)  # blank lines in between
    path.write_bytes(text + b"\r\n")
    assert cli("split", "d.csv")[0] == 0
    out = (tmp_path / "data_valid.csv").read_bytes()
    assert out.startswith(b"\xef\xbb\xbf") and b"\r\n" in out and b"\r\n\r\n" not in out
    code, _, err = cli("train", "--train", "data_train.csv", "--valid", "data_valid.csv", "--epochs", "2",
                       "--quiet", "--no-plots", "--out", "r")
    assert code == 0, err


def test_header_files_are_read_by_column_names(cli, tmp_path, wdbc):
    x, y, names = wdbc
    lines = ["ID,feature a,Diagnosis," + ",".join(f"f{k}" for k in range(1, 30))]
    lines += [f"{i},{float(x[i, 0])},{y[i]}," + ",".join(str(float(v)) for v in x[i, 1:]) for i in range(200)]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    code, out, err = cli("train", "--data", "h.csv", "--epochs", "2", "--quiet", "--no-plots", "--out", "r")
    assert code == 0, err
    model = load_model(tmp_path / "r/model.safetensors")
    assert model.feature_names[:2] == ["feature a", "f1"] and model.n_features == 30


def test_preprocessing_is_fitted_on_training_rows_only(cli, tmp_path, wdbc):
    x, y, _ = wdbc
    write_subject_csv(tmp_path / "train.csv", wdbc, rows=slice(0, 300))
    write_subject_csv(tmp_path / "valid.csv", wdbc, rows=slice(300, 569))
    assert cli("train", "--train", "train.csv", "--valid", "valid.csv", "--epochs", "2", "--out", "r",
               "--quiet", "--no-plots", "--preprocess", "standardize", "--no-refit")[0] == 0
    _, tensors = read_model_file(tmp_path / "r/model.safetensors")
    np.testing.assert_array_equal(tensors["preprocess.mean"], x[:300].mean(axis=0))
    np.testing.assert_array_equal(tensors["preprocess.scale"], x[:300].std(axis=0))
    # The default (Yeo-Johnson, refit): the saved model is the refit one, so its transform was
    # fitted on the training + validation rows (all 569 here), never on rows it did not train on.
    from xmlp.data import power

    assert cli("train", "--train", "train.csv", "--valid", "valid.csv", "--epochs", "2", "--out", "d",
               "--quiet", "--no-plots")[0] == 0
    _, tensors = read_model_file(tmp_path / "d/model.safetensors")
    all_rows = np.concatenate([x[:300], x[300:]])
    np.testing.assert_array_equal(tensors["preprocess.lambdas"], power.fit(all_rows))
    np.testing.assert_allclose(tensors["preprocess.mean"], power.transform(all_rows, tensors["preprocess.lambdas"]).mean(axis=0),
                               rtol=1e-12)  # chunked vs one-pass float64 sums: rounding only


def test_history_files(cli, tmp_path):
    assert cli("train", "--epochs", "4", "--metrics", "accuracy", "f1", "bce", "--out", "r", "--quiet")[0] == 0
    lines = (tmp_path / "r/history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,accuracy,f1,bce,val_loss,val_accuracy,val_f1,val_bce" and len(lines) == 5
    doc = json.loads((tmp_path / "r/history.json").read_text())
    assert float(lines[4].split(",")[5]) == doc["history"]["val_loss"][3]
    assert {p.name for p in (tmp_path / "r").glob("*.png")} == {"loss.png", "accuracy.png", "f1.png", "bce.png"}
