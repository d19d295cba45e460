"""Early stopping, metrics, history, progress and comparison plots."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from xmlp import Dense, Sequential
from xmlp.data import split_indices
from xmlp.evaluation import confusion_matrix
from xmlp.metrics import confusion, from_confusion
from xmlp.progress import ProgressBar
from xmlp.serialization import load_model
from xmlp.training import EarlyStopping


@pytest.fixture
def split(wdbc):
    x, y, _ = wdbc
    tr, va = split_indices(y, 0.2, np.random.default_rng(42))
    return x[tr], y[tr], x[va], y[va]


def overfitting_model(backend="numpy"):
    return Sequential([Dense(128, "relu"), Dense(128, "relu"), Dense(2, "softmax")], backend=backend)


def test_early_stopping_stops_and_restores_the_best_weights(backend, split):
    xt, yt, xv, yv = split
    model = overfitting_model(backend)
    stopper = EarlyStopping(patience=5)
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=200, learning_rate=0.1, seed=0,
                        early_stopping=stopper)
    val = history.history["val_loss"]
    assert history.stopped_epoch is not None and history.stopped_epoch < 200
    assert len(val) == history.stopped_epoch == history.best_epoch + 5
    assert history.best_epoch == int(np.argmin(val)) + 1
    # The kept weights are the best epoch's: their validation loss is the best in the history.
    # History: float32 log-sum-exp on the device; evaluate: float32 probabilities read back and
    # scored in float64 — the two differ by float32 rounding, ~1e-7 relative.
    np.testing.assert_allclose(model.evaluate(xv, yv)["loss"], min(val), rtol=1e-5)


def test_without_restore_the_last_weights_stay(split):
    xt, yt, xv, yv = split
    model = overfitting_model()
    history = model.fit(xt, yt, validation_data=(xv, yv), epochs=200, learning_rate=0.1, seed=0,
                        early_stopping=EarlyStopping(patience=5, restore_best_weights=False))
    np.testing.assert_allclose(model.evaluate(xv, yv)["loss"], history.history["val_loss"][-1], rtol=1e-5)
    assert history.history["val_loss"][-1] > min(history.history["val_loss"])


def test_early_stopping_on_a_maximized_metric_with_min_delta(split):
    xt, yt, xv, yv = split
    stopper = EarlyStopping(monitor="val_f1", patience=3, min_delta=0.5)  # nothing beats +0.5
    history = Sequential([Dense(8, "tanh"), Dense(2, "softmax")]).fit(
        xt, yt, validation_data=(xv, yv), epochs=50, seed=0, metrics=["f1"], early_stopping=stopper)
    assert (history.best_epoch, history.stopped_epoch) == (1, 4)  # 3 epochs without improvement


def test_early_stopping_misconfiguration_is_an_error(split):
    xt, yt, xv, yv = split
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")])
    with pytest.raises(ValueError, match="expected validation data for early stopping; received none"):
        model.fit(xt, yt, epochs=3, early_stopping=EarlyStopping())
    with pytest.raises(ValueError, match="expected early stopping to monitor one of val_loss, val_accuracy; received 'val_f1'"):
        model.fit(xt, yt, validation_data=(xv, yv), epochs=3, early_stopping=EarlyStopping("val_f1"))
    with pytest.raises(ValueError, match="expected early stopping to monitor a validation metric"):
        EarlyStopping("loss")
    with pytest.raises(ValueError, match="expected patience to be an integer >= 0; received -1"):
        EarlyStopping(patience=-1)


def test_cli_early_stopping_saves_the_best_epoch(cli, tmp_path):
    code, out, err = cli("train", "--layer", "128", "128", "--activation", "relu", "--weight-decay", "0",
                         "--learning-rate", "0.1", "--epochs", "200", "--early-stopping", "--patience", "5",
                         "--out", "r", "--quiet", "--no-plots")
    assert code == 0, err
    m = re.search(r"early stopping at epoch (\d+): no val_loss improvement for 5 epochs; keeping the weights of epoch (\d+)", out)
    stopped, best = int(m.group(1)), int(m.group(2))
    assert stopped < 200 and best == stopped - 5
    doc = json.loads((tmp_path / "r/history.json").read_text())
    val = doc["history"]["val_loss"]
    assert (doc["stopped_epoch"], doc["best_epoch"]) == (stopped, best) and int(np.argmin(val)) + 1 == best
    model = load_model(tmp_path / "r/model.safetensors")
    assert model.info["training"]["best_epoch"] == best
    # The saved model's validation loss (its metadata, from evaluate) is the history's best.
    np.testing.assert_allclose(model.info["metrics"]["val_loss"], min(val), rtol=1e-5)  # as above


def test_metrics_from_confusion_by_hand():
    cm = [[50, 2], [5, 43]]  # rows true B/M, columns predicted; positive = M
    got = from_confusion(cm)
    assert got["accuracy"] == 93 / 100
    assert got["precision"] == 43 / 45 and got["recall"] == 43 / 48
    assert got["f1"] == pytest.approx(2 * (43 / 45) * (43 / 48) / (43 / 45 + 43 / 48), rel=1e-15)
    three = from_confusion([[5, 0, 0], [1, 3, 1], [0, 0, 0]])
    # Macro average; class 2 has no rows nor predictions: precision = recall = 0 (zero_division=0).
    assert three["precision"] == pytest.approx((5 / 6 + 1.0 + 0.0) / 3)
    assert three["recall"] == pytest.approx((1.0 + 3 / 5 + 0.0) / 3)


def test_device_confusion_equals_host_count(backend, rng):
    z = rng.normal(size=(40, 3))
    true = rng.integers(0, 3, size=40)
    f32 = backend.dtype("float32")
    ids = backend.xp.arange(3, dtype=backend.index_dtype, device=backend.device)
    cm = backend.to_numpy(confusion(backend.xp, backend.asarray(z, f32), backend.asarray(np.eye(3)[true], f32), ids))
    np.testing.assert_array_equal(cm, confusion_matrix(true, z.argmax(axis=1), 3))


def test_epoch_metrics_on_both_parts(backend, split):
    xt, yt, xv, yv = split
    model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend)
    h = model.fit(xt, yt, validation_data=(xv, yv), epochs=3, seed=0,
                  metrics=["accuracy", "precision", "recall", "f1", "bce"]).history
    assert list(h) == ["loss", "accuracy", "precision", "recall", "f1", "bce",
                       "val_loss", "val_accuracy", "val_precision", "val_recall", "val_f1", "val_bce"]
    final = model.evaluate(xv, yv)
    # Validation metrics are computed at the epoch's end with its final weights: the same counts.
    for key in ("accuracy", "precision", "recall", "f1"):
        assert h[f"val_{key}"][-1] == pytest.approx(final[key], rel=1e-12)
    # Subject's BCE of the validation part: device float32 vs host float64 scoring, ~1e-7.
    assert h["val_bce"][-1] == pytest.approx(final["bce"], rel=1e-5)
    # Training metrics are the running values over the epoch's batches (as Keras reports them),
    # counted over all 455 training rows once each.
    assert all(round(a * 455) / 455 == a for a in h["accuracy"])


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_only(split):
    xt, yt, _, _ = split
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        model = Sequential([Dense(4, "tanh"), Dense(2, "softmax")])
        model.fit(xt, yt, epochs=1, batch_size=2, seed=0, callbacks=[ProgressBar(stream)])  # 228 batches
        assert ("epoch 1/1" in stream.getvalue() and "/228 [" in stream.getvalue()) == shown


def test_plot_compares_runs(cli, tmp_path):
    for name, opt in (("sgd", "sgd"), ("adam", "adam")):
        assert cli("train", "--epochs", "5", "--optimizer", opt, "--out", name, "--quiet", "--no-plots")[0] == 0
    code, out, err = cli("plot", "sgd", "adam", "--out", "cmp.png")
    assert code == 0, err and "> wrote 'cmp.png' (2 runs)" in out
    assert (tmp_path / "cmp.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    from xmlp.runs import run_labels
    from xmlp.plots import comparison_figure

    docs = [json.loads((tmp_path / n / "history.json").read_text()) for n in ("sgd", "adam")]
    labels = run_labels(["sgd", "adam"], [d["config"] for d in docs])
    # Only what differs between the runs is named: optimizer and learning rate.
    assert labels == ["sgd (sgd, lr 0.01)", "adam (adam, lr 0.001)"]
    fig = comparison_figure(list(zip(labels, [d["history"] for d in docs])))
    loss_ax, acc_ax = fig.axes
    assert [t.get_text() for t in fig.legends[0].get_texts()] == labels + ["training", "validation"]
    styles = [(l.get_color(), l.get_linestyle()) for l in loss_ax.get_lines()]
    assert styles == [("C0", "-"), ("C0", "--"), ("C1", "-"), ("C1", "--")]
    assert loss_ax.get_lines()[2].get_ydata().tolist() == docs[1]["history"]["loss"]
    assert acc_ax.get_lines()[3].get_ydata().tolist() == docs[1]["history"]["val_accuracy"]


def test_plot_bad_input(cli, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk/history.json").write_text("[1, 2]")
    code, _, err = cli("plot", "junk")
    assert code == 65 and "expected an xmlp history (JSON with history.loss)" in err
    code, _, err = cli("plot", "nowhere")
    assert code == 66 and "nowhere: expected a run's history.json" in err
    assert not (tmp_path / "comparison.png").exists()
