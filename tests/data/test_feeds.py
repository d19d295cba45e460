"""Feeds: rows sent to the device in pieces each epoch. Kept on the host, they give the
device-resident fit's numbers bit for bit; from a source, the shuffle is by chunk order and a
shuffle buffer, seeded; transfers grow with the pieces, never with the batches."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp.data.feeds import HostFeed, SourceFeed, piece_rows
from xmlp.data.preprocessing import LabelEncoder, Standardizer, model_input
from xmlp.data.sources import ChunkList
from xmlp.models.seeding import seed_streams
from xmlp.optim import optimizers
from xmlp.training.trainer import Trainer


def _train(backend, x, y, make_data, *, epochs=3, batch_size=8, noise=0.2, metrics=("accuracy", "bce")):
    """Weights, history and transfer counts of a fit whose data ``make_data(backend, host)`` gives."""
    net = xmlp.Network([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], "categoricalCrossentropy", backend, "float32")
    _, [(init, shuffle, noise_rng, _)] = seed_streams(0)
    net.build(x.shape[1], init)
    opt = optimizers.get("sgd")
    opt.build(net.xp, net.layers)
    enc = LabelEncoder().fit(y)
    host = model_input(x, None, Standardizer().fit(x), "float32", enc.one_hot(y))
    data = make_data(backend, host)
    before = backend.stats.to_device
    history = Trainer(net, opt, metrics=list(metrics), noise=noise, noise_rng=noise_rng).fit(
        None, data, None, epochs=epochs, batch_size=batch_size, shuffle_rng=shuffle, params={})
    return net.get_weights(), history.history, backend.stats.to_device - before


def _same(a, b):
    return all(np.array_equal(p[k], q[k]) for p, q in zip(a, b) for k in p)


def test_host_feed_gives_the_device_resident_fit_bit_for_bit(backend, wdbc):
    x, y, _ = wdbc
    resident = _train(backend, x, y, lambda be, host: be.asarray(host, be.dtype("float32")))
    for chunk_rows in (100, 64, 10**6):  # pieces of 96, 64 rows; one piece
        fed = _train(backend, x, y, lambda be, host: HostFeed(be, host, "float32", chunk_rows))
        assert _same(resident[0], fed[0]) and resident[1] == fed[1]


def test_host_feed_transfers_grow_with_pieces_not_batches(wdbc):
    x, y, _ = wdbc
    counts = {}
    for batch_size in (4, 64):
        one = _train(xmlp.get_backend("numpy"), x, y, lambda be, h: HostFeed(be, h, "float32", 128), epochs=1,
                     batch_size=batch_size, noise=0.0)[2]
        four = _train(xmlp.get_backend("numpy"), x, y, lambda be, h: HostFeed(be, h, "float32", 128), epochs=4,
                      batch_size=batch_size, noise=0.0)[2]
        counts[batch_size] = (four - one) / 3
    # 569 rows in pieces of 128 rows: 5 pieces per epoch, whether the epoch has 143 batches or 9.
    assert counts == {4: 5.0, 64: 5.0}
    with_noise = _train(xmlp.get_backend("numpy"), x, y, lambda be, h: HostFeed(be, h, "float32", 128), epochs=1)[2]
    assert with_noise == 10  # and one noise array per piece


def test_piece_rows_are_whole_batches():
    assert piece_rows(100, 8) == 96 and piece_rows(5, 8) == 8 and piece_rows(64, 64) == 64


def _source_feed(x, y, chunk, buffer_rows, shuffle=True):
    pairs = [(x[i : i + chunk], y[i : i + chunk]) for i in range(0, len(y), chunk)]
    enc = LabelEncoder().fit(y)
    return SourceFeed(xmlp.get_backend("numpy"), ChunkList(pairs), len(y), None, enc, "float64",
                      buffer_rows=buffer_rows, chunk_rows=64, shuffle=shuffle)


def _rows(feed, seed, batch_size=8):
    pieces = [np.asarray(p) for p, _ in feed.epoch(np.random.default_rng(seed), batch_size)]
    return pieces, np.concatenate(pieces)[:, 0]


def test_one_chunk_and_a_large_buffer_is_todays_permutation():
    x = np.arange(100, dtype=np.float64)[:, None]
    y = np.arange(100) % 2
    _, order = _rows(_source_feed(x, y, 100, 1000), 7)
    np.testing.assert_array_equal(order, np.random.default_rng(7).permutation(100))


def test_source_shuffle_is_seeded_complete_and_mixes_chunks():
    x = np.arange(1000, dtype=np.float64)[:, None]
    y = np.arange(1000) % 3
    feed = _source_feed(x, y, 100, 250)  # 10 chunks; the buffer holds 3 of them
    pieces, a = _rows(feed, 1)
    _, b = _rows(feed, 1)
    _, c = _rows(feed, 2)
    np.testing.assert_array_equal(a, b)  # seeded: reproducible
    assert not np.array_equal(a, c)  # another seed, another order
    np.testing.assert_array_equal(np.sort(a), x[:, 0])  # every row once
    assert [len(p) % 8 for p in pieces[:-1]] == [0] * (len(pieces) - 1)  # whole batches per piece
    # the first 300 rows sent come from three chunks (the buffer), not from chunk 1 in order
    first = a[:300] // 100
    assert len(set(first.tolist())) == 3 and not np.array_equal(a[:100], np.arange(100))
    # labels travel with their rows (one-hot columns after the feature)
    whole = np.concatenate(pieces)
    np.testing.assert_array_equal(whole[:, 1:].argmax(axis=1), whole[:, 0].astype(int) % 3)


def test_without_shuffle_rows_come_in_order():
    x = np.arange(50, dtype=np.float64)[:, None]
    _, order = _rows(_source_feed(x, np.arange(50) % 2, 7, 10, shuffle=False), 0)
    np.testing.assert_array_equal(order, np.arange(50))


def test_buffer_size_is_checked():
    with pytest.raises(ValueError, match="expected shuffle_buffer to be an integer >= 1; received 0"):
        _source_feed(np.zeros((4, 1)), np.arange(4) % 2, 2, 0)


def test_a_feed_is_refused_under_data_parallelism(wdbc):
    from xmlp.errors import UsageError
    from xmlp.training.parallel import Partition

    class TwoProcesses(xmlp.backends.comm.Communicator):
        rank, size = 0, 2

    x, y, _ = wdbc
    net = xmlp.Network([xmlp.Dense(4, "tanh"), xmlp.Dense(2, "softmax")], "categoricalCrossentropy",
                       xmlp.get_backend("numpy"), "float32")
    net.build(30, np.random.default_rng(0))
    opt = optimizers.get("sgd")
    opt.build(net.xp, net.layers)
    feed = HostFeed(net.backend, np.zeros((10, 32), dtype=np.float32), "float32")
    trainer = Trainer(net, opt, partition=Partition(TwoProcesses()))
    with pytest.raises(UsageError, match=r"expected one process to train on streamed data; received 2 processes "
                                         r"\(hint: --no-stream, or a single process\)"):
        trainer.fit(None, feed, None, epochs=1, batch_size=4, shuffle_rng=np.random.default_rng(0), params={})
