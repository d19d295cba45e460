"""``--target`` and ``--id``: the label and id columns named by header name or 0-based index —
a pandas-written file with a text id and the label second, a headerless file whose labels are
digits, streamed files, what predict carries over, and the bad inputs (one line, exit 65)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from xmlp.data.csv.exact import read_exact
from xmlp.data.csv.fast import read_table
from xmlp.data.csv.source import CsvSource

FAST = ["--epochs", "3", "--no-plots", "--layer", "8", "--quiet"]


def _blobs(n=120, classes=3, features=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, features)) + 3.0 * y[:, None]  # separable: training reaches high accuracy
    return x, y


@pytest.fixture
def text_id_csv(tmp_path):
    """A header, a text id column under a name that is not 'id', the label second (the subject's order)."""
    x, y = _blobs()
    with open(tmp_path / "first.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sample", "kind", "a", "b", "c", "d"])
        for i in range(len(y)):
            w.writerow([f"s{i}", int(y[i]), *(f"{v:.6f}" for v in x[i])])
    return tmp_path / "first.csv"


@pytest.fixture
def digits_csv(tmp_path):
    """No header, ``id, label, features`` with labels that are numbers (as NumPy's savetxt writes them)."""
    x, y = _blobs()
    np.savetxt(tmp_path / "digits.csv", np.column_stack([np.arange(len(y)), y, x]), delimiter=",", fmt="%g")
    np.savetxt(tmp_path / "digits_unlabeled.csv", np.column_stack([np.arange(len(y)), x]), delimiter=",", fmt="%g")
    return tmp_path / "digits.csv"


def test_readers_agree_on_named_and_indexed_columns(text_id_csv, digits_csv):
    for path, target, id_ in ((text_id_csv, "kind", "sample"), (text_id_csv, 1, 0), (digits_csv, 1, None)):
        fast = read_table(path, label_name=target, id_name=id_)
        exact = read_exact(path, label_name=target, id_name=id_)
        assert np.array_equal(fast.x, exact.x) and fast.x.shape == (120, 4)
        assert list(fast.labels) == list(exact.labels) and sorted(set(fast.labels)) == ["0", "1", "2"]
        assert list(fast.ids) == list(exact.ids)
    assert list(read_table(text_id_csv, label_name=1, id_name="sample").ids[:2]) == ["s0", "s1"]
    source = CsvSource(text_id_csv, chunk_rows=50, label_name="kind", id_name=0)
    chunks = list(source.chunks())
    assert [len(c.x) for c in chunks] == [50, 50, 20] and chunks[0].x.shape[1] == 4


def test_a_text_id_named_by_id_trains_and_predicts_with_its_ids(cli, tmp_path, text_id_csv):
    code, out, err = cli("train", "--data", "first.csv", "--id", "sample", "--target", "kind", "--out", "r", *FAST)
    assert code == 0, err
    meta = json.loads((tmp_path / "r/history.json").read_text())["config"]
    assert meta["target"] == "kind" and meta["id"] == "sample"
    code, out, err = cli("predict", "r", "first.csv", "--out", "p.csv")
    assert code == 0, err
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "id,prediction,p_0,p_1,p_2" and rows[1].startswith("s0,") and rows[120].startswith("s119,")
    # without --id the text column is a feature: the error names the fix
    code, out, err = cli("train", "--data", "first.csv", "--target", "kind", "--out", "bad", *FAST)
    assert code == 65 and not (tmp_path / "bad").exists()
    assert err == ("xmlp: error: first.csv:2:1: expected a number; received 's0' (hint: if column 1 holds row ids or "
                   "labels, xmlp train names it: --id 0 or --target 0, counted from 0, or by its header name)\n")


def test_a_headerless_file_with_digit_labels_trains_with_a_target_index(cli, tmp_path, digits_csv):
    code, out, err = cli("train", "--data", "digits.csv", "--out", "no", *FAST)
    assert code == 65 and "expected class labels in column 2 (id, label, features…); received none" in err
    code, out, err = cli("train", "--data", "digits.csv", "--target", "1", "--out", "r", *FAST[:-1])
    assert code == 0, err
    assert out.splitlines()[0] == "columns       : id column 1, label column 2, 4 features (columns 3–6)"
    code, out, err = cli("predict", "r", "digits.csv", "--metrics-json", "m.json")
    assert code == 0, err
    assert json.loads((tmp_path / "m.json").read_text())["rows"] == 120  # scored: the labels were read
    code, out, err = cli("predict", "r", "digits_unlabeled.csv")  # the same layout without the label column
    assert code == 0, err
    assert out.splitlines()[1].startswith("0: ") and "… 110 more" in out


def test_a_streamed_file_reads_the_named_columns(cli, tmp_path, text_id_csv):
    code, out, err = cli("train", "--data", "first.csv", "--stream", "--id", "0", "--target", "kind", "--out", "r",
                         *FAST)
    assert code == 0, err
    assert json.loads((tmp_path / "r/history.json").read_text())["final"]["val_accuracy"] > 0.5  # 3 classes


@pytest.mark.parametrize("argv, message", [
    (["--target", "9"], "digits.csv:1: expected --target to be a 0-based column index below 6 (the file's fields); "
                        "received 9"),
    (["--target", "kind"], "digits.csv:1: expected a column named 'kind' (--target); received a file without a header "
                           "line (hint: --target N names column N, counted from 0)"),
    (["--target", "1", "--id", "1"], "digits.csv:1: expected --id and --target to name different columns; received "
                                     "column 2 for both"),
])
def test_bad_columns_are_one_line(cli, tmp_path, digits_csv, argv, message):
    code, out, err = cli("train", "--data", "digits.csv", *argv, "--out", "r", *FAST)
    assert (code, err) == (65, f"xmlp: error: {message}\n")
    assert not (tmp_path / "r").exists()


def test_a_target_named_twice_in_the_header_is_refused(cli, tmp_path):
    (tmp_path / "twice.csv").write_text("y,a,y\n0,1.0,1\n1,2.0,0\n")
    code, out, err = cli("train", "--data", "twice.csv", "--target", "y", "--out", "r", *FAST)
    assert (code, err) == (65, "xmlp: error: twice.csv:1: expected one column named 'y' (--target); received 2, in "
                               "columns 1, 3\n")


@pytest.fixture
def weighted_csv(tmp_path):
    """A header with an id, a weight column (integers 1–3), three features and the label last."""
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = rng.normal(size=(200, 3)) + y[:, None]
    w = rng.integers(1, 4, size=200)
    with open(tmp_path / "w.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["id", "w", "a", "b", "c", "label"])
        for i in range(200):
            out.writerow([f"r{i}", w[i], *(f"{v:.6f}" for v in x[i]), y[i]])
    return w


def test_a_weight_column_reaches_the_loss_and_is_never_a_feature(cli, tmp_path, weighted_csv, monkeypatch):
    from xmlp.models.sequential import Sequential

    seen, fit = [], Sequential.fit

    def spy(self, x, y, **kw):
        seen.append((np.asarray(x).shape, kw.get("sample_weight"), kw.get("class_weight")))
        return fit(self, x, y, **kw)

    monkeypatch.setattr(Sequential, "fit", spy)
    code, out, err = cli("train", "--data", "w.csv", "--sample-weight", "w", "--class-weight", "1=0.5", "--out", "r",
                         *FAST[:-1])
    assert code == 0, err
    assert out.splitlines()[0] == ("columns       : id 'id' (column 1), label 'label' (column 6), weight 'w' (column 2), "
                                   "3 features ('a', 'b', 'c')")
    (run_shape, run_w, run_cw), (refit_shape, refit_w, refit_cw) = seen
    assert run_shape == (160, 3) and refit_shape == (200, 3) and run_cw == refit_cw == {"1": 0.5}
    # the run trains on the training part's weights, the refit on every row's (training part first)
    assert sorted(refit_w.tolist()) == sorted(weighted_csv.astype(float).tolist()) and refit_w.dtype == np.float64
    assert refit_w[:160].tolist() == run_w.tolist()
    from xmlp.io.model_file import read_model_file

    meta, _ = read_model_file(tmp_path / "r/model.safetensors")
    assert meta["feature_names"] == ["a", "b", "c"] and meta["training"]["sample_weight"] == "w"
    code, out, err = cli("predict", "r", "w.csv", "--metrics-json", "m.json")  # the weight column is skipped
    assert code == 0, err
    assert json.loads((tmp_path / "m.json").read_text())["rows"] == 200
    rows = (tmp_path / "w.csv").read_text().splitlines()
    (tmp_path / "now.csv").write_text("\n".join(",".join(r.split(",")[:1] + r.split(",")[2:]) for r in rows) + "\n")
    code, out, err = cli("predict", "r", "now.csv", "--out", "p.csv")  # …and may be absent
    assert code == 0, err
    assert (tmp_path / "p.csv").read_text().splitlines()[1].startswith("r0,")


@pytest.mark.parametrize("edit, argv, code, message", [
    (("r5,", "r5,-1,"), [], 65, "w.csv:7: expected a row weight >= 0 (--sample-weight); received -1.0"),
    (("r5,", "r5,x,"), [], 65, "w.csv:7:2: expected a number; received 'x'"),
    (None, ["--class-weight", "7=2"], 65, "--class-weight: expected labels among 0, 1; received '7'"),
    (None, ["--class-weight", "1=-2"], 2, "argument --class-weight/--class_weight: expected 'balanced' or "
                                          "LABEL=WEIGHT,… with weights >= 0; received '1=-2' (see 'xmlp train --help')"),
    (None, ["--task", "regression", "--class-weight", "balanced"], 2, "expected --class-weight with a classification; "
                                                                      "received a regression (hint: --sample-weight COLUMN weighs rows)"),
    (("r5,", "r5,-1,"), ["--stream"], 65, "w.csv:7: expected a finite sample weight >= 0; received -1.0"),
    (None, ["--stream", "--class-weight", "7=2"], 65, "--class-weight: expected labels among 0, 1; received '7'"),
    (None, ["--id", "w"], 65, "w.csv:1: expected --sample-weight to name a column of its own; received column 2, the id"),
])
def test_bad_weights_are_one_line(cli, tmp_path, weighted_csv, edit, argv, code, message):
    path = tmp_path / "w.csv"
    if edit is not None:
        import re

        path.write_text(re.sub(r"^r5,[^,]*,", edit[1], path.read_text(), flags=re.M))
    got = cli("train", "--data", "w.csv", "--sample-weight", "w", *argv, "--out", "r", *FAST)
    assert got[0] == code and got[2] == f"xmlp: error: {message}\n", got[2]
    assert not (tmp_path / "r").exists()


def test_all_zero_weights_are_refused(cli, tmp_path, weighted_csv):
    import re

    path = tmp_path / "w.csv"
    path.write_text(re.sub(r"^(r\d+),\d,", r"\1,0,", path.read_text(), flags=re.M))
    code, out, err = cli("train", "--data", "w.csv", "--sample-weight", "1", "--out", "r", *FAST)
    assert (code, err) == (65, "xmlp: error: w.csv: expected row weights (--sample-weight) that are not all 0; "
                               "received only zeros\n")


def test_streamed_weights_are_the_weights_of_the_rows_read_whole(cli, tmp_path, weighted_csv, monkeypatch):
    """--stream with --sample-weight and --class-weight: the feed's weight column is the file's
    weight times the class's (the same product the in-memory run computes for the same rows)."""
    from xmlp.data import feeds

    seen, model_input = [], feeds.SourceFeed.model_input

    def spy(self, chunk):
        out = model_input(self, chunk)
        seen.append((chunk.labels.copy(), chunk.weights.copy(), out[:, -1].copy()))
        return out

    monkeypatch.setattr(feeds.SourceFeed, "model_input", spy)
    code, out, err = cli("train", "--data", "w.csv", "--stream", "--sample-weight", "w", "--class-weight", "1=0.5",
                         "--out", "r", *FAST)
    assert code == 0, err
    labels, w, column = seen[0]
    np.testing.assert_array_equal(column, w * np.where(labels == "1", 0.5, 1.0))
    assert set(w.tolist()) <= {1.0, 2.0, 3.0} and len(labels) == 160  # the training side of the split
    from xmlp.io.model_file import read_model_file

    meta, _ = read_model_file(tmp_path / "r/model.safetensors")
    assert meta["training"]["sample_weight"] == "w" and meta["feature_names"] == ["a", "b", "c"]
