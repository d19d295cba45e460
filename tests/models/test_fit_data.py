"""Sequential.fit on a source, or on host rows sent in chunks: the same model as in memory where
the data fit in one chunk (bit for bit), errors found before training, a file that changes
between epochs refused, and the device-memory switch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import write_subject_csv

import xmlp
from xmlp import Dense, Sequential
from xmlp.data.csv.source import CsvSource
from xmlp.data.npy import NpySource
from xmlp.data.sources import ChunkList
from xmlp.errors import DataError


def _model(backend=None, preprocess="standardize"):
    return Sequential([Dense(8, "tanh"), Dense(2, "softmax")], backend=backend, preprocess=preprocess)


def _same(a, b):
    return all(np.array_equal(p[k], q[k]) for p, q in zip(a.get_weights(), b.get_weights()) for k in p)


FIT = dict(epochs=3, seed=0, input_noise=0.2, metrics=("accuracy", "bce"))


@pytest.mark.parametrize("preprocess", ["standardize", "yeo-johnson"])
def test_one_chunk_source_is_the_in_memory_fit_bit_for_bit(split, preprocess):
    xt, yt, xv, yv = split
    memory, streamed = _model(preprocess=preprocess), _model(preprocess=preprocess)
    h1 = memory.fit(xt, yt, validation_data=(xv, yv), **FIT)
    h2 = streamed.fit(ChunkList([(xt, yt)]), None, validation_data=(xv, yv), **FIT)
    assert _same(memory, streamed) and h1.history == h2.history


def test_host_rows_in_chunks_are_the_in_memory_fit_bit_for_bit(backend, split):
    xt, yt, xv, yv = split
    memory, chunked = _model(backend), _model(backend)
    h1 = memory.fit(xt, yt, validation_data=(xv, yv), **FIT)
    h2 = chunked.fit(xt, yt, validation_data=(xv, yv), chunk_rows=100, **FIT)
    assert _same(memory, chunked) and h1.history == h2.history


def test_rows_stay_on_the_host_when_the_gpu_lacks_room(split):
    """A device with too little free memory gets the rows in chunks by itself: the same model,
    and transfers per epoch counted by pieces (455 rows in pieces of 65536: one)."""
    xt, yt, _, _ = split
    numpy = xmlp.get_backend("numpy")
    small = dataclasses.replace(numpy, _free_memory=lambda: 10_000, stats=type(numpy.stats)())
    big = dataclasses.replace(numpy, _free_memory=lambda: 10**12, stats=type(numpy.stats)())
    a, b = _model(small), _model(big)
    a.fit(xt, yt, epochs=2, seed=0)
    b.fit(xt, yt, epochs=2, seed=0)
    # small: 2 epochs x (1 piece in + 1 metrics vector out) + the initial weights; big: the
    # features and the targets once each, then per epoch one permutation in + one vector out.
    weights_in = 4  # two layers' weight and bias
    assert (small.stats.to_device, small.stats.to_host) == (weights_in + 2, 2)
    assert (big.stats.to_device, big.stats.to_host) == (weights_in + 2 + 2, 2)
    assert _same(a, b)


def test_a_multi_chunk_source_trains_and_names_its_features(tmp_path, wdbc):
    x, y, _ = wdbc
    labels = (y == "M").astype(np.int64)
    np.save(tmp_path / "x.npy", x.astype(np.float32))
    np.save(tmp_path / "y.npy", labels)
    model = _model()
    history = model.fit(NpySource(tmp_path / "x.npy", tmp_path / "y.npy", chunk_rows=64), None, epochs=20,
                        seed=0, shuffle_buffer=128, validation_data=(x, labels))
    # WDBC is nearly separable: a 30-8-2 network reaches ~97% in a few epochs whatever the order.
    assert history.history["val_accuracy"][-1] > 0.93
    assert model.classes == [0, 1] and model.predict(x[:3]) == [1, 1, 1]
    csv = CsvSource(write_subject_csv(tmp_path / "d.csv", wdbc), chunk_rows=50)
    model.fit(csv, None, epochs=1, seed=0, feature_names=[f"f{i}" for i in range(30)])
    assert model.classes == ["B", "M"] and model.feature_names[:2] == ["f0", "f1"]


def test_a_bad_cell_deep_in_the_file_stops_the_fit_before_training(tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "d.csv", wdbc)
    lines = path.read_text().splitlines()
    lines[500] = lines[500].replace(",", ",x", 3)  # line 501, column 3 (the first feature) becomes "x..."
    path.write_text("\n".join(lines) + "\n")
    model = _model()
    with pytest.raises(DataError, match=rf"^{path}:501:3: expected a number; received 'x"):
        model.fit(CsvSource(path, chunk_rows=2), None, epochs=1, seed=0)
    assert not model.built  # the first pass found it: nothing trained


class _Append(xmlp.Callback):
    def __init__(self, path):
        self.path = path

    def on_epoch_end(self, epoch, logs):
        with open(self.path, "a") as fh:
            fh.write("999,M," + ",".join(["1.0"] * 30) + "\n")
        return False


def test_a_file_that_grows_between_epochs_is_an_error(tmp_path, wdbc):
    path = write_subject_csv(tmp_path / "d.csv", wdbc)
    with pytest.raises(DataError, match="d.csv: expected the file to stay unchanged while it is streamed; received its "
                                        "size changed during epoch 2"):
        _model().fit(CsvSource(path, chunk_rows=100), None, epochs=3, seed=0, callbacks=[_Append(path)])


def test_labels_beside_a_source_are_refused(wdbc):
    x, y, _ = wdbc
    with pytest.raises(ValueError, match="expected y=None with a data source .its labels come from chunks.; received labels"):
        _model().fit(ChunkList([(x, y)]), y, epochs=1)


def test_models_fitted_on_one_source_own_their_preprocessing(wdbc):
    """The first pass is cached on the source, but each model gets its own copy of the fitted
    standardisation: refitting one model on other data leaves the other's untouched."""
    import xmlp

    x, y, _ = wdbc
    source = xmlp.ChunkList([(x[:300], y[:300]), (x[300:], y[300:])])
    a, b = (xmlp.Sequential([xmlp.Dense(4, "tanh"), xmlp.Dense(2, "softmax")], dtype="float64") for _ in range(2))
    a.fit(source, None, epochs=1, seed=0)
    b.fit(source, None, epochs=1, seed=0)
    assert a.standardizer is not b.standardizer
    mean, proba = b.standardizer.mean.copy(), b.predict_proba(x[:20])
    a.fit(x[:100] * 3.0, y[:100], epochs=1, seed=0)
    np.testing.assert_array_equal(b.standardizer.mean, mean)
    np.testing.assert_array_equal(b.predict_proba(x[:20]), proba)
