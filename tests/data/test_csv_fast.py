"""The fast CSV reader gives the exact reader's result on every valid file and the exact
reader's message (true FILE:LINE:COLUMN) on every bad one, with either bulk parser."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmlp.data.csv import exact as csv_exact
from xmlp.data.csv import fast as csv_fast
from xmlp.errors import DataError

HAS_POLARS = importlib.util.find_spec("polars") is not None
ENGINES = [pytest.param("polars", marks=pytest.mark.skipif(not HAS_POLARS, reason="polars not installed")), "numpy"]


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    monkeypatch.setattr(csv_fast, "BLOCK_BYTES", 512)  # many blocks even in a small file: block edges get tested
    return request.param


@pytest.fixture
def exact_blocks(monkeypatch):
    """How many blocks the exact reader had to convert (0 on a clean file: the fast path ran)."""
    calls = []
    original = csv_fast.Reader._exact

    def counted(self, *args):
        calls.append(args[1])
        return original(self, *args)

    monkeypatch.setattr(csv_fast.Reader, "_exact", counted)
    return calls


def _rows(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)) * [1, 100, 1e-3, 1e6]
    labels = rng.choice(["M", "B"], n)
    return [f"{900000 + i},{labels[i]}," + ",".join(repr(float(v)) for v in x[i]) for i in range(n)]


def _same(fast, exact):
    assert fast.x.dtype == exact.x.dtype and np.array_equal(fast.x, exact.x)  # bitwise: equal and same dtype
    assert (fast.labels is None) == (exact.labels is None)
    if exact.labels is not None:
        assert fast.labels.dtype == exact.labels.dtype and fast.labels.tolist() == exact.labels.tolist()
    assert (None if fast.ids is None else list(fast.ids)) == exact.ids
    assert fast.feature_names == exact.feature_names and fast.header == exact.header
    assert list(fast.line_numbers) == list(exact.line_numbers)
    assert (fast.newline, fast.bom) == (exact.newline, exact.bom)


def _write(path, lines, newline="\n", prefix=""):
    path.write_bytes((prefix + newline.join(lines) + newline).encode())
    return path


VALID = {
    "subject": lambda: _rows(300),
    "header by name": lambda: ["x2,id,x1,diagnosis,x3,x4"] + [",".join(r.split(",")[i] for i in (3, 0, 2, 1, 4, 5))
                                                               for r in _rows(200)],
    "no labels": lambda: [",".join(r.split(",")[:1] + r.split(",")[2:]) for r in _rows(200)],
    "quoted cells": lambda: [f'"{r.split(",")[0]}","{r.split(",")[1]}",' + ",".join(f'"{c}"' for c in r.split(",")[2:])
                             for r in _rows(200)],
    "blank lines and padding": lambda: sum(([r.replace(",", ", ", 1), ""] for r in _rows(100)), []),
    "spaced labels": lambda: [r.replace(",M,", ", M ,") for r in _rows(200)],
    "ragged-free multi-class": lambda: [r.replace(",B,", ",C,", 1) if i % 3 == 0 else r for i, r in enumerate(_rows(200))],
}


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
@pytest.mark.parametrize("kind", list(VALID))
def test_valid_files_read_exactly_as_the_exact_reader_reads_them(tmp_path, engine, kind, newline, bom):
    path = _write(tmp_path / "d.csv", VALID[kind](), newline, bom)
    labels = "optional" if kind == "no labels" else "required"
    names = ["x1", "x2", "x3", "x4"] if kind == "header by name" else None
    exact = csv_exact.read_exact(path, labels=labels, feature_names=names)
    _same(csv_fast.read_table(path, labels=labels, feature_names=names, engine_name=engine), exact)
    for store in ("float32", "float64"):  # the stored dtype: the exact values, cast once
        fast = csv_fast.read_table(path, labels=labels, feature_names=names, engine_name=engine, store=store)
        assert fast.x.dtype == store and np.array_equal(fast.x, exact.x.astype(store))


def test_clean_files_never_need_the_exact_reader(tmp_path, engine, exact_blocks):
    for kind in ("subject", "header by name", "quoted cells"):
        path = _write(tmp_path / f"{len(exact_blocks)}.csv", VALID[kind](), "\r\n")
        csv_fast.read_table(path, feature_names=["x1", "x2", "x3", "x4"] if kind == "header by name" else None,
                           engine_name=engine)
    assert exact_blocks == [] or (engine == "numpy" and exact_blocks)  # numpy: no CSV quoting, so quoted blocks go exact
    if engine == "polars":
        assert exact_blocks == []


@pytest.mark.parametrize("part", [(0, 3), (1, 3), (2, 3), (0, 1)])
def test_parts_and_row_ranges_keep_true_line_numbers(tmp_path, engine, part):
    lines = sum(([r, ""] if i % 7 == 0 else [r] for i, r in enumerate(_rows(250))), [])
    path = _write(tmp_path / "d.csv", ["id,label,a,b,c,d"] + lines)
    _same(csv_fast.read_table(path, part=part, engine_name=engine), csv_exact.read_exact(path, part=part))
    reader = csv_fast.Reader(path, engine_name=engine, block_bytes=700)
    whole = csv_exact.read_exact(path)
    blocks = list(reader.blocks((37, 191)))
    assert np.array_equal(np.concatenate([b.x for b in blocks]), whole.x[37:191])
    assert np.concatenate([b.lines for b in blocks]).tolist() == list(whole.line_numbers)[37:191]
    assert np.concatenate([b.labels for b in blocks]).tolist() == whole.labels[37:191].tolist()


def _cell_file(tmp_path, cell, where=150, col=4):
    lines = _rows(250)
    cells = lines[where].split(",")
    cells[col - 1] = cell
    lines[where] = ",".join(cells)
    return _write(tmp_path / "d.csv", lines)


BAD_CELLS = ["1_000", "１２", "0x10", "1e", "--1", "1.2.3", "Infinity", " 1 2", "nan", "-inf", "", "1e999",
             "1\x1b[31m", "\u00a01.5", "1.5\u2007", "9" * 101, '1"5', '"1.5', "1\r5", "1\x00", "\x0b1", "1\x0c", "e5",
             "\ufeff1"]


@pytest.mark.parametrize("cell", BAD_CELLS)
def test_a_bad_cell_gets_the_exact_readers_message_at_its_true_line(tmp_path, engine, cell):
    path = _cell_file(tmp_path, cell)
    with pytest.raises(DataError) as exact:
        csv_exact.read_exact(path)
    with pytest.raises(DataError) as fast:
        csv_fast.read_table(path, engine_name=engine)
    assert str(fast.value) == str(exact.value)
    assert "d.csv:151" in str(exact.value)  # the line in the file, whatever block it fell in


BAD_LINES = {
    "extra field": lambda l: l + ",1.0",
    "missing field": lambda l: l.rsplit(",", 1)[0],
    "empty label": lambda l: l.replace(",M,", ",,").replace(",B,", ",,"),
    "long label": lambda l: l.replace(",M,", "," + "M" * 101 + ",").replace(",B,", "," + "B" * 101 + ","),
    "unknown class": lambda l: l.replace(",M,", ",X,").replace(",B,", ",X,"),
    "unbalanced quote": lambda l: l.replace(",M,", ',"M,').replace(",B,", ',"B,'),
    "bad utf-8": lambda l: l + "\udcff",
    "huge line": lambda l: l + "," + "9" * (1 << 20),
}


@pytest.mark.parametrize("kind", list(BAD_LINES))
def test_a_bad_line_gets_the_exact_readers_message(tmp_path, engine, kind):
    lines = _rows(250)
    lines[150] = BAD_LINES[kind](lines[150])
    path = tmp_path / "d.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    classes = ["B", "M"]
    with pytest.raises(DataError) as exact:
        csv_exact.read_exact(path, classes=classes, dtype="float32")
    with pytest.raises(DataError) as fast:
        csv_fast.read_table(path, classes=classes, dtype="float32", engine_name=engine)
    assert str(fast.value) == str(exact.value) and "d.csv:151" in str(exact.value)


CELL = st.text(alphabet="0123456789+-.eE \t\"'_,xnaifINFA\u00a0\u0663\x0b\r", max_size=12)


@settings(max_examples=300, deadline=None)
@given(cell=CELL, label=st.sampled_from(["M", " M", "M ", '"M"', "", "M\"", "B"]))
def test_random_cells_read_as_the_exact_reader_reads_them(tmp_path_factory, cell, label):
    path = tmp_path_factory.mktemp("cells") / "d.csv"
    lines = _rows(40)
    lines[20] = f"1,{label},1.0,{cell},3.0,4.0"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    try:
        exact = csv_exact.read_exact(path)
    except DataError as err:
        exact = err
    for name in (["polars"] if HAS_POLARS else []) + ["numpy"]:
        try:
            fast = csv_fast.read_table(path, engine_name=name)
        except DataError as err:
            assert str(err) == str(exact), name
            continue
        assert not isinstance(exact, DataError), f"{name} accepted {cell!r}: {exact}"
        _same(fast, exact)


def test_a_bad_csv_engine_setting_is_a_usage_error(monkeypatch):
    from xmlp.data.csv import bulk as bulkcsv
    from xmlp.errors import UnavailableError, UsageError

    monkeypatch.setenv("XMLP_CSV_ENGINE", "fast")
    with pytest.raises(UsageError, match=r"^XMLP_CSV_ENGINE: expected one of polars, numpy, exact; received 'fast'$"):
        bulkcsv.engine()
    monkeypatch.setenv("XMLP_CSV_ENGINE", "numpy")
    assert bulkcsv.engine() == "numpy"
    if importlib.util.find_spec("polars") is None:
        monkeypatch.setenv("XMLP_CSV_ENGINE", "polars")
        with pytest.raises(UnavailableError, match=r"pip install 'xmlp\[fast\]'"):
            bulkcsv.engine()


@pytest.mark.parametrize("engine", ["numpy", "exact"])
def test_targets_and_weights_stay_float64_when_features_are_stored_float32(tmp_path, engine):
    """A large file's features are stored in the training dtype; its numeric targets and weights
    keep every digit (a price of 1.7e9 + a few units would round to 1.7e9 in float32)."""
    rng = np.random.default_rng(0)
    t = 1.7e9 + rng.integers(0, 1000, 50) + 0.25
    w = rng.uniform(0, 1, 50)
    rows = ["a,b,t,w"] + [f"{i},{i * 0.5},{float(t[i])!r},{float(w[i])!r}" for i in range(50)]
    (tmp_path / "big.csv").write_text("\n".join(rows) + "\n")
    table = csv_fast.read_table(tmp_path / "big.csv", label_name=["t"], weight_name="w", store="float32",
                                engine_name=engine)
    assert table.x.dtype == np.float32 and table.x.shape == (50, 2) and table.x.flags.c_contiguous
    assert table.targets.dtype == np.float64 and np.array_equal(table.targets[:, 0], t)
    assert np.array_equal(table.weights, w)
    np.testing.assert_array_equal(table.x[:, 1], (np.arange(50) * 0.5).astype(np.float32))


def test_the_field_length_screen_agrees_with_the_run_lengths_at_every_offset():
    """A field of 101 bytes (one over the limit) is found wherever it starts in a 32-byte group,
    as the first, a middle or the last field; 100 bytes pass — the screen only lets a block skip
    the exact run lengths where they could not exceed the limit."""
    from xmlp.data.csv import bulk

    for length, ok in ((99, True), (100, True), (101, False), (102, False)):
        for offset in range(64):
            for text in ("1," * offset + "9" * length + ",2\n", "9" * length + ",1\n" * (offset + 1),
                         "1,2\n" * (offset + 1) + "9" * length):
                arr = np.frombuffer(text.encode(), dtype=np.uint8)
                assert bulk._cells_short(arr) is ok, (length, offset, text[:20])
    assert not bulk._cells_short(np.frombuffer(b"", dtype=np.uint8))  # no separator at all: not vouched for


@pytest.mark.parametrize("last_newline", [True, False])
def test_the_row_bound_holds_for_the_shortest_rows(tmp_path, last_newline):
    """Rows of one-byte cells and an empty id — the shortest a row can be — stay within the bound
    that sizes the arrays without reading the file (a bound too small would be 'a file that grew')."""
    rows = ["id,diagnosis,a,b"] + [f",{'MB'[i % 2]},{i % 10},{(i * 7) % 10}" for i in range(997)]
    (tmp_path / "s.csv").write_text("\n".join(rows) + ("\n" if last_newline else ""))
    reader = csv_fast.Reader(tmp_path / "s.csv", id_name="id")
    assert 997 <= reader.row_bound() <= 999  # 7 bytes a row, the least: 3 commas, a newline, 3 one-byte cells
    table = csv_fast.read_table(tmp_path / "s.csv", id_name="id")
    assert table.x.shape == (997, 2) and list(table.labels[:2]) == ["M", "B"]


def test_the_file_is_read_once_unless_its_bound_is_large(tmp_path, monkeypatch):
    path = _cell_file(tmp_path, "1.5")
    counted = []
    max_rows = csv_fast.Reader.max_rows
    monkeypatch.setattr(csv_fast.Reader, "max_rows", lambda self: counted.append(1) or max_rows(self))
    whole = csv_fast.read_table(path)
    assert counted == []  # sized by the bound: no line count
    monkeypatch.setattr(csv_fast.os, "sysconf", lambda name: 1 if name == "SC_PHYS_PAGES" else 4096)
    small = csv_fast.read_table(path)  # a machine where the bound's arrays would not fit: lines counted
    assert counted == [1] and np.array_equal(small.x, whole.x) and small.x.shape == whole.x.shape


def test_a_column_named_twice_does_not_shrink_the_bound(tmp_path):
    """Features named twice (a model trained on a header with a repeated name) read one column
    twice: the bound counts the column's bytes once."""
    (tmp_path / "r.csv").write_text("id,label,a\n" + ",x,5\n" * 1000)
    fast = csv_fast.read_table(tmp_path / "r.csv", feature_names=["a", "a"], id_name="id", label_name="label")
    exact = csv_exact.read_exact(tmp_path / "r.csv", feature_names=["a", "a"], id_name="id", label_name="label")
    assert fast.x.shape == exact.x.shape == (1000, 2) and np.array_equal(fast.x, exact.x)


def test_an_address_space_too_small_for_the_bound_counts_the_lines(tmp_path, monkeypatch):
    path = _cell_file(tmp_path, "1.5")
    whole = csv_fast.read_table(path)
    arrays, sizes = csv_fast._arrays, []

    def limited(rows, *a):
        sizes.append(rows)
        if len(sizes) == 1:
            raise MemoryError  # as np.empty under strict overcommit or ulimit -v
        return arrays(rows, *a)

    monkeypatch.setattr(csv_fast, "_arrays", limited)
    again = csv_fast.read_table(path)
    assert sizes[1] == 250 < sizes[0] and np.array_equal(again.x, whole.x)  # the second try: the counted lines


def test_a_streamed_chunk_converts_only_its_own_block(tmp_path, monkeypatch):
    """CsvSource.read reads a chunk as one block: the block after it is not converted."""
    from xmlp.data.csv import source as csv_source

    monkeypatch.setenv("XMLP_CSV_ENGINE", "numpy")
    path = _write(tmp_path / "d.csv", ["id,label,a,b,c,d"] + _rows(1000))
    converted = []
    convert = csv_fast.convert
    monkeypatch.setattr(csv_fast, "convert", lambda chunk, *a: converted.append(len(chunk)) or convert(chunk, *a))
    src = csv_source.CsvSource(path, chunk_rows=100)
    converted.clear()
    chunk = src.read(3)
    assert len(chunk.x) == 100 and len(converted) == 1


def test_text_in_a_feature_column_of_a_later_blocks_first_row_gets_no_first_row_hint(tmp_path, engine):
    """The hint about a column of ids or labels is for the file's first data row only: a bad cell
    at the start of any later block (rows 100-119 cross several 512-byte blocks) gets the exact
    reader's message, whatever the block boundaries."""
    for where in range(100, 120):
        path = _cell_file(tmp_path, "abc", where=where)
        with pytest.raises(DataError) as exact:
            csv_exact.read_exact(path)
        with pytest.raises(DataError) as fast:
            csv_fast.read_table(path, engine_name=engine)
        assert str(fast.value) == str(exact.value) and "hint" not in str(fast.value)
    path = _cell_file(tmp_path, "abc", where=0)
    with pytest.raises(DataError, match="hint: if column 4 holds row ids or labels"):
        csv_fast.read_table(path, engine_name=engine)


def test_a_parts_first_row_gets_the_same_message_from_both_readers(tmp_path, engine):
    """A shard's first row is not the file's: text in a feature column there gets no first-row hint
    from the fast reader or the exact one."""
    path = _cell_file(tmp_path, "abc", where=125)  # the first row of part (1, 2) of 250 rows
    for part in ((1, 2), (0, 2)):
        with pytest.raises(DataError) as exact:
            csv_exact.read_exact(path, part=part) if part == (1, 2) else csv_exact.read_exact(path)
        with pytest.raises(DataError) as fast:
            csv_fast.read_table(path, part=part, engine_name=engine) if part == (1, 2) else \
                csv_fast.read_table(path, engine_name=engine)
        assert str(fast.value) == str(exact.value) and "d.csv:126" in str(exact.value) and "hint" not in str(exact.value)


@pytest.mark.parametrize("block", [1, 2, 3, 5])
def test_a_byte_order_mark_is_taken_off_whatever_the_block_size(tmp_path, block):
    """A headerless file's BOM is not data, also when the first read is shorter than the BOM; a
    second BOM is data, as the exact reader reads it (here: the first row's id)."""
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf" + b"".join(b"%d,M,1.5\n" % i for i in range(20)))
    (tmp_path / "bb.csv").write_bytes(b"\xef\xbb\xbf" * 2 + b"".join(b"%d.5,2,M\n" % i for i in range(8)))
    reader = csv_fast.Reader(tmp_path / "b.csv", block_bytes=block)
    assert b"".join(reader._chunks()) == b"".join(b"%d,M,1.5\n" % i for i in range(20))
    for name, kw in (("b.csv", {}), ("bb.csv", {"label_name": 2})):
        exact = csv_exact.read_exact(tmp_path / name, **kw)
        fast = csv_fast.read_table(tmp_path / name, **kw)
        assert np.array_equal(fast.x, exact.x) and list(fast.ids) == list(exact.ids)
    assert list(exact.ids[:1]) == ["\ufeff0.5"]


def test_an_over_long_line_in_a_wide_file_gets_the_exact_readers_message(tmp_path, monkeypatch):
    """A line over the 1 MiB limit, in a layout so wide that the field limit does not bound the
    lines, ends a block without a newline: the bulk parser refuses it, whatever its fields."""
    monkeypatch.setattr(csv_fast, "BLOCK_BYTES", 65536)
    width, end = 21427, 17 * 65536  # a block cut inside the long line's last field (byte 1,114,112)
    normal = "1,M," + ",".join(["1"] * (width - 2))
    head = 4 + 52 * (width - 3)
    long = "1,M," + "1." + "2" * (49 + end - 50 - head) + "," + ",".join(["1." + "2" * 49] * (width - 4)) + "," + "1" * 100
    (tmp_path / "w.csv").write_text("\n".join([normal] * 30 + [long] + [normal] * 3) + "\n")
    with pytest.raises(DataError) as exact:
        csv_exact.read_exact(tmp_path / "w.csv")
    for engine in ("numpy", "polars") if HAS_POLARS else ("numpy",):
        with pytest.raises(DataError) as fast:
            csv_fast.read_table(tmp_path / "w.csv", engine_name=engine)
        assert str(fast.value) == str(exact.value) and "w.csv:31: expected lines of at most" in str(fast.value)


def test_standard_input_redirected_from_a_file_reads_as_the_file(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path / "d.csv", ["id,label,a,b,c,d"] + _rows(300))
    code = ("from xmlp.data.csv import fast; t = fast.read_table('-'); "
            "print(t.x.shape, float(t.x.sum()), list(t.labels[:3]))")
    with open(path, "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True)
    want = csv_fast.read_table(path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{want.x.shape} {float(want.x.sum())} {list(want.labels[:3])}"


def test_a_streamed_chunk_reads_only_its_own_bytes(tmp_path, monkeypatch):
    from xmlp.data.csv import source as csv_source

    path = _write(tmp_path / "d.csv", ["id,label,a,b,c,d"] + _rows(1000))
    src = csv_source.CsvSource(path, chunk_rows=100)
    opened = []
    open_input = csv_fast.open_input

    def counting(p, *a):
        fh = open_input(p, *a)
        read = fh.read
        fh.read = lambda n=-1: opened.append(len(got := read(n))) or got
        return fh

    monkeypatch.setattr(csv_fast, "open_input", counting)
    chunk = src.read(3)
    assert len(chunk.x) == 100 and sum(opened) == src.ends[3] - src.starts[3][0]  # the chunk's bytes, once
