"""Host preprocessing in threads (xmlp/data/threads.py): the same values and the same first
error as the serial loop, whatever the number of threads."""

import threading
import time

import numpy as np
import pytest

from xmlp.data import power, preprocessing, threads
from xmlp.data.preprocessing import RowValueError, Standardizer, model_input
from xmlp.data.rowbuffer import RowBuffer
from xmlp.models.inputs import _input_in_place


@pytest.fixture
def four(monkeypatch):
    """Four threads (this machine may have two cores: threads still interleave)."""
    monkeypatch.setattr(threads, "workers", lambda: 4)


def test_results_in_order_and_work_spread_over_threads(four):
    seen = set()

    def piece(i):
        seen.add(threading.get_ident())
        time.sleep(0.002 * (i % 3))  # pieces finish out of order
        return i * i

    assert threads.map_ordered(piece, range(40)) == [i * i for i in range(40)]
    assert len(seen) > 1


def test_the_first_failing_piece_raises_as_the_serial_loop_would(four):
    def piece(i):
        if i == 30:
            raise ValueError("thirty")
        if i == 7:
            time.sleep(0.05)  # fails after 30 has
            raise ValueError("seven")
        return i

    with pytest.raises(ValueError, match="^seven$"):
        threads.map_ordered(piece, range(40))


def test_small_work_stays_in_the_calling_thread(four):
    me = threading.get_ident()
    assert threads.map_ordered(lambda i: threading.get_ident(), range(7)) == [me] * 7  # < 2 pieces a thread


@pytest.mark.parametrize("cap, expected", [("1", 1), ("2", 2), ("", None), ("x", None), ("0", None), ("2,1", 2),
                                           ("\u00b2", None)])
def test_omp_num_threads_caps_the_threads(monkeypatch, cap, expected):
    monkeypatch.setenv("OMP_NUM_THREADS", cap)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert threads.workers() == (expected if expected is not None else threads.MAX_THREADS)


def _mixed(rng, rows=5000, cols=6):
    x = rng.standard_normal((rows, cols)) * np.array([1, 10, 0.01, 100, 3, 1]) + np.array([0, 5, 0, -50, 0, 2])
    x[:, 2] = np.abs(x[:, 2])  # one-signed columns take another form
    return x


def test_yeo_johnson_fit_and_input_equal_the_serial_bits(rng, four, monkeypatch):
    x = _mixed(rng)
    threaded = Standardizer(power=True).fit(x, chunk=256)
    got = model_input(x, 6, threaded, "float32", chunk=256)
    monkeypatch.setattr(threads, "workers", lambda: 1)
    serial = Standardizer(power=True).fit(x, chunk=256)
    want = model_input(x, 6, serial, "float32", chunk=256)
    for a, b in ((threaded.lambdas, serial.lambdas), (threaded.mean, serial.mean), (threaded.scale, serial.scale)):
        assert a.tobytes() == b.tobytes()
    assert got.tobytes() == want.tobytes()
    assert power.fit(x).tobytes() == serial.lambdas.tobytes()


@pytest.mark.parametrize("where", ["model_input", "in place"])
def test_the_first_bad_row_is_named_as_in_a_serial_pass(rng, four, where, monkeypatch):
    x = rng.standard_normal((6000, 3))
    std = Standardizer().fit(x)
    x[4100, 1], x[900, 2] = 1e39, -1e39  # beyond float32 once standardized: two bad chunks
    real = Standardizer.transform

    def slow_early(self, rows):  # the earlier bad chunk finishes last
        if rows.shape[0] and rows[0, 0] == x[900, 0]:
            time.sleep(0.2)
        return real(self, rows)

    monkeypatch.setattr(Standardizer, "transform", slow_early)
    with pytest.raises(RowValueError) as bad:
        if where == "model_input":
            model_input(x, 3, std, "float32", chunk=100)
        else:
            full = np.zeros((6000, 4))
            full[:, :3] = x
            buf = RowBuffer.over(full, 3)
            _input_in_place(buf, full, std, "float32", np.zeros((6000, 1)), chunk=100)
    assert (bad.value.row, bad.value.col) == (900, 2)


def test_fill_chunk_is_what_model_input_does_per_chunk(rng):
    x = rng.standard_normal((300, 4))
    std = Standardizer().fit(x)
    out = np.zeros((300, 5), np.float32)
    preprocessing.fill_chunk(out, x, 100, 100, std, "float32")
    assert (out[100:200, :4] == model_input(x, 4, std, "float32")[100:200]).all()
    assert not out[:100].any() and not out[200:].any() and not out[:, 4].any()


def test_each_piece_runs_under_the_callers_numpy_error_state(four):
    """np.errstate is per thread (NumPy 2): the caller's must reach the pieces."""
    import warnings

    x = np.full((6000, 2), 1.0)
    x[4000, 1] = 1.5e308
    std = Standardizer(np.zeros(2), np.full(2, 0.1))  # 1.5e308 / 0.1 overflows float64
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RowValueError):  # not a RuntimeWarning from a worker thread
            model_input(x, 2, std, "float64", chunk=100)
    with np.errstate(over="raise"):
        with pytest.raises(FloatingPointError):
            model_input(x, 2, std, "float64", chunk=100)
