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
    monkeypatch.setattr(power, "THREAD_ROWS", 100)  # the λ search in threads too (one column each):
    monkeypatch.setattr(threads, "workers", lambda: 2)  # two threads, so that 6 columns are enough work
    seen = set()
    fit_column = power._fit_column
    monkeypatch.setattr(power, "_fit_column", lambda col: seen.add(threading.get_ident()) or fit_column(col))
    calls = []
    map_ordered = threads.map_ordered
    monkeypatch.setattr(threads, "map_ordered", lambda fn, items: calls.append(len(items)) or map_ordered(fn, items))
    threaded = Standardizer(power=True).fit(x, chunk=256)
    assert len(seen) == 2  # each column's λ fitted in one of the two threads
    got = model_input(x, 6, threaded, "float32", chunk=256)
    monkeypatch.setattr(threads, "workers", lambda: 1)
    serial = Standardizer(power=True).fit(x, chunk=256)
    want = model_input(x, 6, serial, "float32", chunk=256)
    for a, b in ((threaded.lambdas, serial.lambdas), (threaded.mean, serial.mean), (threaded.scale, serial.scale)):
        assert a.tobytes() == b.tobytes()
    assert got.tobytes() == want.tobytes()
    assert calls[0] == x.shape[1]  # the first threaded map: the λ of each column
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


def test_the_pipeline_yields_in_order_reads_ahead_and_stops_when_closed():
    """imap_ordered: results in the items' order though they finish out of order; at most
    ``ahead`` items past the one consumed are taken from the input; closing early leaves the
    rest of the input unread; the first failing item (in order) raises."""
    taken = []

    def items():
        for i in range(50):
            taken.append(i)
            yield i

    def piece(i):
        time.sleep(0.002 * (i % 3))
        return i * 10

    it = threads.imap_ordered(piece, items(), ahead=3)
    assert [next(it) for _ in range(5)] == [0, 10, 20, 30, 40]
    assert len(taken) <= 5 + 3
    it.close()
    assert list(threads.imap_ordered(piece, range(20), ahead=0)) == [i * 10 for i in range(20)]
    failed_at = []

    def failing(i):
        if i == 7:
            failed_at.append(time.perf_counter())
            raise ValueError("seven")
        if i == 4:
            time.sleep(0.1)  # fails after 7 has (both in flight: ahead=8)
            failed_at.append(time.perf_counter())
            raise ValueError("four")
        return i

    got = []
    with pytest.raises(ValueError, match="four"):
        for v in threads.imap_ordered(failing, range(20), ahead=8):
            got.append(v)
    assert got == [0, 1, 2, 3] and len(failed_at) == 2 and failed_at[0] < failed_at[1]


def test_an_error_reading_the_pipelines_input_comes_after_the_items_before_it():
    def items():
        yield from range(5)
        raise OSError("disk")

    got = []
    with pytest.raises(OSError, match="disk"):
        for v in threads.imap_ordered(lambda i: time.sleep(0.01 * (i == 0)) or i, items(), ahead=3):
            got.append(v)
    assert got == [0, 1, 2, 3, 4]  # as map gives them before its error


def test_a_file_of_many_blocks_parsed_ahead_in_threads_equals_the_serial_read(tmp_path, four, monkeypatch):
    from xmlp.data.csv import fast as csv_fast

    rng = np.random.default_rng(0)
    rows = [f"{i},{'MB'[i % 2]}," + ",".join(f"{v:.6g}" for v in rng.normal(size=5)) for i in range(3000)]
    rows.insert(2100, "")  # a blank line: a block the exact reader converts, in order
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    monkeypatch.setattr(csv_fast, "BLOCK_BYTES", 4096)
    exact_blocks = []
    exact = csv_fast.Reader._exact
    monkeypatch.setattr(csv_fast.Reader, "_exact", lambda self, *a: exact_blocks.append(a[1]) or exact(self, *a))
    ahead = csv_fast.read_table(tmp_path / "d.csv", labels="required", engine_name="numpy")
    assert len(exact_blocks) == 1 and exact_blocks[0] <= 2101  # (its first line)
    monkeypatch.setattr(threads, "workers", lambda: 1)
    serial = csv_fast.read_table(tmp_path / "d.csv", labels="required", engine_name="numpy")
    assert ahead.x.shape == (3000, 5) and np.array_equal(ahead.x, serial.x)
    assert list(ahead.labels) == list(serial.labels) and list(ahead.line_numbers) == [*range(1, 2101), *range(2102, 3002)]

