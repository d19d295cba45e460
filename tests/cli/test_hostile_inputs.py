"""The red-team list of issue 23: inputs a user did not mean, each met with one clear line, the
right exit code and nothing written — or, where the input is legitimate, with the right result."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import snapshot, write_subject_csv


def test_a_pandas_index_column_becomes_the_id_not_a_feature(cli, tmp_path):
    """DataFrame.to_csv(path) writes the row index first, unnamed; on a file sorted by class it
    would be label leakage. It is the id, and the columns line says so."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    frame["target"] = ["x"] * 30 + ["y"] * 30  # sorted by class: the index alone would separate them
    frame.to_csv(tmp_path / "with_index.csv")
    frame.to_csv(tmp_path / "without.csv", index=False)
    code, out, err = cli("train", "--data", "with_index.csv", "--epochs", "3", "--out", "a", "--no-plots")
    assert code == 0, err
    assert out.splitlines()[0] == ("columns       : id column 1 (unnamed: a row index, as pandas' to_csv writes it), "
                                   "label 'target' (column 5), 3 features ('a', 'b', 'c')")
    assert cli("train", "--data", "without.csv", "--epochs", "3", "--out", "b", "--no-plots", "--quiet")[0] == 0
    a, b = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("a", "b"))
    assert a["history"] == b["history"]  # the same training as without the index, to the last bit
    code, out, err = cli("predict", "a", "with_index.csv", "--out", "p.csv")
    assert code == 0 and (tmp_path / "p.csv").read_text().splitlines()[1].startswith("0,")  # the index is the id


def test_metrics_bce_on_three_classes_is_refused_before_training(cli, tmp_path):
    rows = [f"{i},{'abc'[i % 3]},{i % 7},{i % 5}" for i in range(60)]
    (tmp_path / "three.csv").write_text("\n".join(rows) + "\n")
    code, out, err = cli("train", "--data", "three.csv", "--metrics", "bce", "--out", "r")
    assert code == 65 and out == "" and err == (
        "xmlp: error: --metrics bce: expected two classes (binary cross-entropy scores the positive class); received 3 "
        "(hint: leave bce out; the loss, cross-entropy, is always reported)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["three.csv"]


def test_a_batch_larger_than_the_data_is_the_whole_data(cli, tmp_path):
    """--batch-size 1e20 was blamed on --layer by the memory estimate; a batch is at most the rows."""
    code, out, err = cli("train", "--batch-size", str(10**20), "--epochs", "2", "--out", "r", "--quiet", "--no-plots")
    assert code == 0, err
    history = json.loads((tmp_path / "r/history.json").read_text())
    assert history["config"]["batch_size"] == 10**20 and len(history["history"]["loss"]) == 2


@pytest.mark.parametrize("config, message", [
    ({"optimizer": {"name": "sgd", "learning_rate": [0.1]}}, "expected config.optimizer.learning_rate to be a number; received [0.1]"),
    ({"layer": [[24], 24]}, "expected config.layer to be a list of layer widths; received [[24], 24]"),
    ({"initial_epoch": "3"}, "expected config.initial_epoch to be an integer >= 0; received '3'"),
])
def test_plot_refuses_a_history_whose_settings_are_not_what_xmlp_writes(cli, tmp_path, config, message):
    (tmp_path / "r").mkdir()
    (tmp_path / "r/history.json").write_text(json.dumps({"history": {"loss": [0.5, 0.4]}, "config": config}))
    before = snapshot(tmp_path)
    code, out, err = cli("plot", "r", "--out", "c.png")
    assert code == 65 and err == f"xmlp: error: r/history.json: {message}\n" and snapshot(tmp_path) == before


def test_a_resumed_run_is_drawn_from_the_epoch_it_continued_at(cli, tmp_path):
    from xmlp.cli.plots import comparison_figure

    assert cli("train", "--epochs", "3", "--out", "a", "--no-refit", "--quiet", "--no-plots")[0] == 0
    assert cli("train", "--resume", "a", "--epochs", "2", "--out", "b", "--no-refit", "--quiet")[0] == 0
    doc = json.loads((tmp_path / "b/history.json").read_text())
    assert doc["config"]["initial_epoch"] == 3
    assert (tmp_path / "b/history.csv").read_text().splitlines()[1].startswith("4,")
    fig = comparison_figure([("b", doc["history"])], first_epochs=[4])
    assert fig.axes[0].get_lines()[0].get_xdata().tolist() == [4, 5]
    assert cli("plot", "a", "b", "--out", "c.png")[0] == 0


def test_resuming_a_state_without_a_seed_continues_its_own_streams(cli, tmp_path):
    """A hand-edited (or seed=None) state has no seed to check --seed against: it continues."""
    from xmlp.io.model_file import model_file_bytes, read_model_file

    assert cli("train", "--epochs", "2", "--out", "a", "--no-refit", "--quiet", "--no-plots")[0] == 0
    meta, tensors = read_model_file(tmp_path / "a/model.safetensors")
    del meta["resume"]["seed"]
    for key in ("format", "format_version", "xmlp_version"):
        del meta[key]
    (tmp_path / "noseed.safetensors").write_bytes(model_file_bytes(meta, tensors))
    code, out, err = cli("train", "--resume", "noseed.safetensors", "--epochs", "1", "--out", "b", "--no-refit",
                         "--quiet", "--no-plots")
    assert code == 0, err
    assert json.loads((tmp_path / "b/history.json").read_text())["config"]["initial_epoch"] == 2


def test_values_far_outside_the_training_range_warn_once_naming_the_column(cli, tmp_path, wdbc):
    write_subject_csv(tmp_path / "train.csv", wdbc, rows=slice(0, 400))
    write_subject_csv(tmp_path / "new.csv", wdbc, rows=slice(400, 569))
    lines = (tmp_path / "new.csv").read_text().splitlines()
    cells = lines[0].split(",")
    cells[2] = "1e38"  # feature 1, far beyond anything trained on
    lines[0] = ",".join(cells)
    cells = lines[1].split(",")
    cells[10] = "-5000"  # feature 9 too
    lines[1] = ",".join(cells)
    (tmp_path / "hostile.csv").write_text("\n".join(lines) + "\n")
    assert cli("train", "--data", "train.csv", "--epochs", "3", "--out", "r", "--quiet", "--no-plots")[0] == 0
    code, out, err = cli("predict", "r", "hostile.csv")
    assert code == 0
    warnings = [l for l in err.splitlines() if "far outside" in l]
    assert len(warnings) == 1  # once per file, for all its columns
    x = wdbc[0]
    train_x = x[:400].astype(np.float32).astype(np.float64)
    low, high = train_x[:, 0].min(), train_x[:, 0].max()
    widths = (1e38 - high) / (high - low)
    assert warnings[0] == (f"xmlp: warning: 2 of 169 rows hold values far outside the training range (the farthest: "
                           f"feature 1 of 30 = 1e+38, {widths:.3g} range widths beyond its {low:.6g} … {high:.6g}; "
                           "2 columns in all); their predictions extrapolate")
    code, out, err = cli("predict", "r", "new.csv")
    assert code == 0 and "far outside" not in err  # rows of the same data set: no warning
