"""The trainer: transfers per epoch, divergence, epoch metrics, the callback protocol."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp import Dense, Sequential


def _transfers(backend_spec, x, y, epochs, batch_size, **kwargs):
    backend = xmlp.get_backend(backend_spec)
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")], backend=backend)
    model.fit(x, y, validation_data=(x[:50], y[:50]), epochs=epochs, batch_size=batch_size, seed=0, **kwargs)
    return backend.stats.to_device, backend.stats.to_host


@pytest.mark.parametrize("spec", ["numpy", "strict:device1"])
def test_transfers_per_epoch_do_not_grow_with_batches(spec, wdbc):
    x, y, _ = wdbc
    counts = {}
    for batch_size in (4, 64):
        one = _transfers(spec, x, y, 1, batch_size)
        four = _transfers(spec, x, y, 4, batch_size)
        counts[batch_size] = ((four[0] - one[0]) / 3, (four[1] - one[1]) / 3)
    # Per epoch: one permutation in, one packed vector of metrics out; whatever the batch count
    # (143 batches of 4 vs 9 of 64).
    assert counts[4] == counts[64] == (1.0, 1.0)


@pytest.mark.parametrize("spec", ["numpy", "strict:device1"])
def test_rows_sent_in_chunks_cost_one_transfer_per_chunk_not_per_batch(spec, wdbc):
    """Rows kept on the host (larger than the device) reach it in chunks: per epoch one transfer
    per chunk (569 rows in chunks of 128: 5 pieces; with input noise, a noise array each) and one
    packed vector out, whether the epoch has 143 batches (4 rows) or 9 (64 rows)."""
    x, y, _ = wdbc
    for noise, per_chunk in ((0.0, 1), (0.1, 2)):
        counts = {}
        for batch_size in (4, 64):
            one = _transfers(spec, x, y, 1, batch_size, chunk_rows=128, input_noise=noise)
            four = _transfers(spec, x, y, 4, batch_size, chunk_rows=128, input_noise=noise)
            counts[batch_size] = ((four[0] - one[0]) / 3, (four[1] - one[1]) / 3)
        assert counts[4] == counts[64] == (5.0 * per_chunk, 1.0)


def test_input_noise_and_validation_scoring_go_in_blocks(monkeypatch, wdbc):
    """Large data: the epoch's input noise is drawn and sent in blocks of NOISE_VALUES values (host
    memory bounded by a block, one transfer each, never one per batch) and validation is scored
    in blocks of SCORE_ROWS rows. The noise numbers are the same as drawn at once, so the weights
    are bitwise those of one block; the validation sums only change their order of addition."""
    from xmlp.training import trainer

    x, y, _ = wdbc

    def fit(block):
        monkeypatch.setattr(trainer, "NOISE_VALUES", block * x.shape[1])  # blocks of `block` rows
        monkeypatch.setattr(trainer, "SCORE_ROWS", block)
        backend = xmlp.get_backend("numpy")
        model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend, dtype="float64")
        h = model.fit(x[:400], y[:400], validation_data=(x[400:], y[400:]), epochs=2, batch_size=16, seed=3,
                      input_noise=0.3, metrics=("accuracy", "bce"))
        return model.get_weights(), h.history, backend.stats.to_device

    whole, blocks = fit(65536), fit(64)  # 64: 4 batches of 16 per block (400 rows: 7 blocks)
    for a, b in zip(whole[0], blocks[0]):
        for k in ("weight", "bias"):
            np.testing.assert_array_equal(a[k], b[k])
    for key, values in whole[1].items():
        # float64 sums of 169 validation rows added in 3 blocks instead of 1: rounding only
        np.testing.assert_allclose(blocks[1][key], values, rtol=1e-13, err_msg=key)
    # Per epoch: the permutation and the noise, one transfer per block (1 block vs 7).
    assert blocks[2] - whole[2] == 2 * (7 - 1)


def test_an_ensembles_noise_blocks_draw_the_same_numbers(monkeypatch, wdbc):
    """The stacked ensemble's noise blocks (NOISE_VALUES over all members) draw each member's
    numbers in order whatever the block: bitwise the same weights."""
    from xmlp.training import batched

    x, y, _ = wdbc
    drawn = []
    member_noise = batched.BatchedTrainer._member_noise
    monkeypatch.setattr(batched.BatchedTrainer, "_member_noise", lambda self, r, d: drawn.append(r) or member_noise(self, r, d))

    def fit(values):
        monkeypatch.setattr(batched, "NOISE_VALUES", values)
        model = Sequential([Dense(8, "tanh"), Dense(2, "softmax")], ensemble=3, dtype="float64")
        model.fit(x[:400], y[:400], epochs=2, batch_size=16, seed=3, input_noise=0.3)
        return [np.asarray(w[k]).tobytes() for m in model.members for w in m.get_weights() for k in sorted(w)]

    whole, blocks = fit(1 << 19), fit(3 * 30 * 32)  # 32 rows a block: 2 batches (400 rows: 13 blocks)
    assert len(whole) == 3 * 2 * 2 and whole == blocks
    assert drawn == [400] * 2 + ([32] * 12 + [16]) * 2  # the stacked path, in one block then in 13 an epoch


def test_non_finite_loss_stops_training(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
    with pytest.raises(xmlp.TrainingDiverged, match=r"expected a finite loss; received (nan|inf) at epoch 1 "
                                                    r"\(the model keeps its initial weights; hint: lower the learning rate"):
        model.fit(x, y, epochs=3, learning_rate=1e6, seed=0)
    # The model is left at its last finite weights (here the initial ones), never NaN: what it
    # predicts or saves is what it says it is.
    from xmlp.models.seeding import seed_streams

    initial = Sequential([Dense(24, "relu"), Dense(24, "relu"), Dense(2, "softmax")])
    initial.build(30, seed_streams(0)[1][0][0])
    for a, b in zip(model.get_weights(), initial.get_weights()):
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert np.isfinite(model.predict_proba(x)).all()


def test_divergence_later_keeps_the_last_finite_epoch(wdbc):
    x, y, _ = wdbc
    model = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
    model.fit(x, y, epochs=2, learning_rate=0.01, seed=0)
    two = model.get_weights()
    with pytest.raises(xmlp.TrainingDiverged, match="at epoch 3 .the model keeps the weights of epoch 2"):
        model.fit(x, y, epochs=3, seed=0, callbacks=[Explode(at_epoch=3)], learning_rate=0.01)
    assert all(np.array_equal(a[k], b[k]) for a, b in zip(model.get_weights(), two) for k in a)


class Explode(xmlp.Callback):
    """Turns a weight into NaN during epoch ``at_epoch`` (as a too-large step would)."""

    def __init__(self, at_epoch):
        self.at_epoch = at_epoch

    def on_train_begin(self, model, params):
        self.model = model

    def on_epoch_begin(self, epoch, n_batches):
        self.epoch = epoch

    def on_batch_end(self, batch):
        if self.epoch == self.at_epoch and batch == 0:
            w = self.model.network.layers[0].params["weight"]
            w[0, 0] = float("nan")


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


class Recorder(xmlp.Callback):
    """Records the callback protocol as the trainer drives it; votes to stop at ``stop_at``."""

    def __init__(self, stop_at=None):
        self.calls, self.stop_at = [], stop_at

    def on_train_begin(self, model, params):
        self.calls.append(("begin", params["epochs"], params["validation"]))

    def on_epoch_begin(self, epoch, n_batches):
        self.calls.append(("epoch", epoch, n_batches))

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("end", epoch))
        return epoch == self.stop_at

    def on_train_end(self, history):
        self.calls.append(("done", history.stopped_epoch))


def test_callback_protocol(split):
    xt, yt, xv, yv = split
    first, second = Recorder(stop_at=2), Recorder()
    history = Sequential([Dense(4, "tanh"), Dense(2, "softmax")]).fit(
        xt, yt, validation_data=(xv, yv), epochs=5, batch_size=100, seed=0, callbacks=[first, second])
    # on_epoch_begin gets the epoch number (1-based) and the batch count (455 rows / 100);
    # a stop vote ends training after that epoch, and every callback still saw that epoch's end.
    expected = [("begin", 5, True), ("epoch", 1, 5), ("end", 1), ("epoch", 2, 5), ("end", 2), ("done", 2)]
    assert first.calls == second.calls == expected
    assert history.stopped_epoch == 2 and history.epochs == 2
