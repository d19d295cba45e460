"""The training-row fingerprint: row hashes, the exact set, the Bloom filter beyond EXACT_ROWS,
merging, and what fit, warm starts, streams and the model file do with it."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp
from xmlp.data import fingerprint as fpmod
from xmlp.data import row_hash
from xmlp.data.fingerprint import Fingerprint, row_hashes


def test_row_hashes_depend_on_the_values_in_the_models_dtype_only():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 7))
    h32 = row_hashes(x, "float32")
    assert h32.dtype == np.uint64 and h32.shape == (1000,)
    np.testing.assert_array_equal(h32, row_hashes(x.astype(np.float32), "float32"))  # float64 rows cast as the model does
    np.testing.assert_array_equal(h32, row_hashes(np.asfortranarray(x), "float32"))  # memory order does not matter
    assert len(np.unique(h32)) == 1000 and len(np.unique(row_hashes(x, "float64"))) == 1000
    assert not np.intersect1d(h32, row_hashes(x, "float64")).size
    zeros = np.zeros((1, 3))
    assert row_hashes(zeros, "float32")[0] == row_hashes(-zeros, "float32")[0]  # -0.0 is 0.0
    # A float64 value that is -0.0 in float32 (the sign survives the cast) hashes as the float32 row does.
    big = np.array([[2**54 + 2**30 + 1, 3, 1]])  # straight to float32: 2**54 + 2**31; through float64 (as fit): 2**54
    for algorithm in ("xmlp-rows-2", "splitmix64-rows-1"):
        assert row_hashes(big, "float32", algorithm)[0] == row_hashes(big.astype(np.float64), "float32", algorithm)[0]
    tiny = np.array([[-1e-50, 1.0, 2.0]])
    assert row_hashes(tiny, "float32")[0] == row_hashes(tiny.astype(np.float32), "float32")[0]
    assert row_hashes(tiny, "float32")[0] == row_hashes(np.array([[0.0, 1.0, 2.0]]), "float32")[0]
    assert row_hashes(tiny, "float32", "splitmix64-rows-1")[0] == row_hashes(
        tiny.astype(np.float32), "float32", "splitmix64-rows-1")[0]
    y = x.copy()
    y[5, 6] = np.nextafter(np.float32(y[5, 6]), np.float32(np.inf))  # one float32 ulp in one cell
    assert (row_hashes(y, "float32") != h32).tolist() == [i == 5 for i in range(1000)]
    # A permutation of a row's values is another row; so is the row with two signs flipped (a hash
    # linear in the words would not tell them apart: a sign is a word's top bit, 2**63 + 2**63 = 0).
    assert row_hashes(x[:1, ::-1], "float32")[0] != h32[0]
    flipped = x[:1] * np.array([-1, -1] + [1] * 5)
    for dtype in ("float32", "float64"):
        for algorithm in ("xmlp-rows-2", "splitmix64-rows-1"):
            assert row_hashes(flipped, dtype, algorithm)[0] != row_hashes(x[:1], dtype, algorithm)[0]


def test_the_row_hashes_are_pinned():
    """Model files store these hashes: an algorithm must not change under its name. The values were
    computed once by this implementation and recorded; a change here needs a new ROW_HASH."""
    assert fpmod.ROW_HASH == "xmlp-rows-2" and fpmod.ROW_HASHES == ("splitmix64-rows-1", "xmlp-rows-2")
    assert int(row_hashes(np.array([[1.0, 2.0, 3.0]]), "float32")[0]) == PINNED_2_32
    assert int(row_hashes(np.array([[1.0, 2.0, 3.0]]), "float64")[0]) == PINNED_2_64
    assert int(row_hashes(np.array([[1.0, 2.0, 3.0]]), "float32", "splitmix64-rows-1")[0]) == PINNED_32
    assert int(row_hashes(np.array([[1.0, 2.0, 3.0]]), "float64", "splitmix64-rows-1")[0]) == PINNED_64
    with pytest.raises(ValueError, match=r"expected a row hash in .*; received 'rows-3'"):
        row_hashes(np.ones((1, 3)), "float32", "rows-3")
    with pytest.raises(ValueError, match="received 'rows-3'"):
        Fingerprint("float32", algorithm="rows-3")


def test_a_fingerprint_of_the_first_hash_is_read_compared_and_extended_with_it(tmp_path, wdbc):
    """A model file written before xmlp-rows-2 keeps its fingerprint: loaded with its algorithm,
    it counts the same rows, and a warm start on new rows hashes them as it did."""
    import xmlp

    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(4, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x[:300], y[:300], epochs=1, seed=0)
    model.fingerprint = Fingerprint.of(x[:300], "float32", algorithm="splitmix64-rows-1")  # as an older xmlp wrote it
    model.save(tmp_path / "old.safetensors")
    old = xmlp.load_model(tmp_path / "old.safetensors")
    assert old.fingerprint.algorithm == "splitmix64-rows-1" and old.training_overlap(x) == 300
    old.fit(x[300:400], y[300:400], epochs=1, warm_start=True)
    assert old.fingerprint.algorithm == "splitmix64-rows-1" and old.training_overlap(x) == 400
    with pytest.raises(ValueError, match="expected fingerprints of one dtype and hash"):
        old.fingerprint.union(Fingerprint.of(x, "float32"))


def test_the_training_range_merges_and_finds_values_far_outside_it():
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, size=(1000, 3))
    a, b = Fingerprint.of(x[:500], "float64"), Fingerprint.of(x[500:], "float64")
    u = a.union(b)
    np.testing.assert_array_equal(u.low, x.min(axis=0))
    np.testing.assert_array_equal(u.high, x.max(axis=0))
    assert u.far_outside(x) == [] and u.far_outside(x * 1.5) == []  # within one range width beyond: not far
    q = x[:4].copy()
    q[1, 2], q[3, 0] = 1e38, -10.0
    width = u.high - u.low
    assert u.far_outside(q) == [(2, 1, 1e38, (1e38 - u.high[2]) / width[2]), (0, 1, -10.0, (u.low[0] + 10) / width[0])]


def test_exact_overlap_union_and_counts():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4))
    a, b = Fingerprint.of(x[:300], "float32"), Fingerprint.of(x[200:], "float32")
    assert a.overlap(x) == 300 and b.overlap(x) == 300 and a.overlap(x[300:]) == 0
    u = a.union(b)
    assert u.overlap(x) == 500 and u.rows == 600 and len(u.exact) == 500 and u.false_positive_rate == 0.0
    assert Fingerprint.of(np.vstack([x, x]), "float32").overlap(x) == 500  # repeated rows count once in the set
    with pytest.raises(ValueError, match="expected fingerprints of one dtype"):
        a.union(Fingerprint.of(x, "float64"))


def test_beyond_exact_rows_a_bloom_filter_without_false_negatives(monkeypatch):
    monkeypatch.setattr(fpmod, "EXACT_ROWS", 20_000)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200_000, 5))
    fp = Fingerprint("float32")
    for i in range(0, len(x), 30_000):  # as a stream's chunks come in
        fp.add(row_hashes(x[i : i + 30_000], "float32"))
    assert fp.exact is None and fp.meta() == {"hash": "xmlp-rows-2", "dtype": "float32", "rows": 200_000,
                                              "kind": "bloom", "bits": fpmod.BLOOM_BITS, "k": fpmod.BLOOM_K}
    assert fp.tensors()["fingerprint"].nbytes == fpmod.BLOOM_BITS // 8  # bounded: 8 MiB whatever the rows
    assert fp.overlap(x) == 200_000  # a Bloom filter has no false negatives
    # The stated false-positive rate (from the fill) is the one measured on fresh rows: 200 000 rows
    # in 2^26 bits with 4 probes give (1 - e^(-4 * 2e5 / 2^26))^4 ~ 2.0e-8; 10^6 fresh rows then
    # have ~0.02 expected false positives, so any count above 5 would be a broken filter.
    assert fp.false_positive_rate == pytest.approx((1 - np.exp(-4 * 200_000 / fpmod.BLOOM_BITS)) ** 4, rel=0.05)
    assert fp.overlap(rng.normal(size=(1_000_000, 5))) <= 5
    whole = Fingerprint.of(x, "float32")
    halves = Fingerprint.of(x[:100_000], "float32").union(Fingerprint.of(x[100_000:], "float32"))
    np.testing.assert_array_equal(halves.tensors()["fingerprint"], whole.tensors()["fingerprint"])
    small = Fingerprint.of(x[:10], "float32")  # an exact set merged into a filter, either way round
    assert small.union(whole).overlap(x) == whole.union(small).overlap(x) == 200_000


def test_fit_keeps_the_rows_it_trained_on(wdbc, tmp_path):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(6, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x[:400], y[:400], validation_data=(x[400:], y[400:]), epochs=2, seed=0)
    assert model.training_overlap(x) == 400 and model.training_overlap(x[400:]) == 0
    scores = model.evaluate(x[380:], y[380:])
    assert scores["trained_rows"] == 20
    model.fit(x[400:450], y[400:450], epochs=1, warm_start=True)  # a warm start adds its rows
    assert model.training_overlap(x) == 450
    model.save(tmp_path / "m.safetensors")
    loaded = xmlp.load_model(tmp_path / "m.safetensors")
    assert loaded.training_overlap(x) == 450 and loaded.fingerprint.rows == 450
    model.fit(x[:100], y[:100], epochs=1, seed=0)  # a fresh fit starts over
    assert model.training_overlap(x) == 100
    assert xmlp.Sequential([xmlp.Dense(2, "softmax")]).training_overlap(x) is None  # never fitted: unknown


def test_a_model_file_with_a_fingerprint_is_format_5_and_without_one_loads_in_older_xmlp(wdbc, tmp_path):
    import json

    from safetensors.numpy import load_file

    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    model.save(tmp_path / "a.safetensors")
    model.save(tmp_path / "b.safetensors", include_fingerprint=False)
    from xmlp.io.model_file import read_model_file

    meta_a, tensors_a = read_model_file(tmp_path / "a.safetensors")
    meta_b, tensors_b = read_model_file(tmp_path / "b.safetensors")
    assert meta_a["format_version"] == 5 and meta_a["fingerprint"]["kind"] == "exact"
    assert tensors_a["fingerprint"].dtype == np.uint64 and tensors_a["fingerprint"].shape == (569,)  # 8 bytes a row
    assert meta_b["format_version"] == 3 and "fingerprint" not in tensors_b
    assert xmlp.load_model(tmp_path / "b.safetensors").training_overlap(x) is None
    assert json.dumps(meta_a["fingerprint"]) == json.dumps(
        {"hash": "xmlp-rows-2", "dtype": "float32", "rows": 569, "kind": "exact"})
    assert set(load_file(str(tmp_path / "a.safetensors"))) - set(load_file(str(tmp_path / "b.safetensors"))) == {
        "fingerprint", "fingerprint.low", "fingerprint.high"}
    # The training range: each feature's smallest and largest value, as the float32 model saw them.
    np.testing.assert_array_equal(tensors_a["fingerprint.low"], x.astype(np.float32).min(axis=0).astype(np.float64))
    np.testing.assert_array_equal(tensors_a["fingerprint.high"], x.astype(np.float32).max(axis=0).astype(np.float64))


@pytest.mark.parametrize("change, message", [
    (lambda m, t: t.update(fingerprint=t["fingerprint"][::-1].copy()), "sorted distinct hashes"),
    (lambda m, t: t.update(fingerprint=t["fingerprint"].astype(np.int64)), "expected a fingerprint tensor of uint64"),
    (lambda m, t: t.pop("fingerprint"), "expected a fingerprint tensor of uint64 words; received none"),
    (lambda m, t: m["fingerprint"].update(hash="md5"), "expected a training fingerprint with hash"),
    (lambda m, t: m["fingerprint"].update(kind="bloom", bits=64, k=4), "Bloom filter of 67108864 bits"),
    (lambda m, t: m["fingerprint"].update(rows=-1), "row count"),
    (lambda m, t: t.update({"fingerprint.low": t["fingerprint.high"] + 1}), "fingerprint.low <= fingerprint.high"),
    (lambda m, t: t.pop("fingerprint.high"), "range"),
    (lambda m, t: t.update({"fingerprint.low": t["fingerprint.low"][:3], "fingerprint.high": t["fingerprint.high"][:3]}),
     "expected a training range of 30 features; received 3"),
])
def test_a_damaged_fingerprint_is_one_clear_error(wdbc, tmp_path, change, message):
    from xmlp.errors import DataError
    from xmlp.io.model_file import model_file_bytes

    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    meta, tensors = model.to_file_data()
    change(meta, tensors)
    (tmp_path / "m.safetensors").write_bytes(model_file_bytes(meta, tensors))
    with pytest.raises(DataError, match=message):
        xmlp.load_model(tmp_path / "m.safetensors")


def test_a_streamed_fit_fingerprints_the_rows_of_its_first_pass(wdbc):
    from xmlp.data.sources import ChunkList

    x, y, _ = wdbc
    source = ChunkList([(x[i : i + 100], y[i : i + 100]) for i in range(0, 500, 100)])
    streamed = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")])
    streamed.fit(source, None, epochs=1, seed=0)
    in_memory = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")])
    in_memory.fit(x[:500], y[:500], epochs=1, seed=0)
    np.testing.assert_array_equal(streamed.fingerprint.exact, in_memory.fingerprint.exact)
    assert streamed.training_overlap(x) == 500


def test_an_ensemble_keeps_one_fingerprint(wdbc):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")], ensemble=3)
    model.fit(x[:300], y[:300], epochs=1, seed=0)
    assert model.training_overlap(x) == 300 and model.fingerprint.rows == 300


PINNED_32 = 5931069227935356017  # splitmix64-rows-1
PINNED_64 = 12477125666559629407
PINNED_2_32 = 2176410286410219096  # xmlp-rows-2
PINNED_2_64 = 579240010089586184


def _reference_hash(values: list[float], dtype: str) -> int:
    """The row hash in plain Python integers (a second implementation of the documented algorithm)."""
    import struct

    mask = (1 << 64) - 1
    golden = 0x9E3779B97F4A7C15
    words = struct.unpack(f"<{len(values)}{'I' if dtype == 'float32' else 'Q'}",
                          struct.pack(f"<{len(values)}{'f' if dtype == 'float32' else 'd'}", *values))
    h = (len(values) * golden) & mask
    for w in words:
        h = ((h ^ w) + golden) & mask
        h ^= h >> 30
        h = (h * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & mask
        h ^= h >> 31
    return h


def _reference_hash_2(values: list[float], dtype: str) -> int:
    """xmlp-rows-2 in plain Python integers: 64-bit words (float32 pairs, an odd row padded with 0.0),
    h = (h ^ w) * M1; h ^= h >> 29 per word, SplitMix64's finaliser at the end."""
    import struct

    mask = (1 << 64) - 1
    packed = struct.pack(f"<{len(values)}{'f' if dtype == 'float32' else 'd'}", *values)
    packed += b"\0" * (-len(packed) % 8)
    h = (len(values) * 0x9E3779B97F4A7C15) & mask
    for (w,) in struct.iter_unpack("<Q", packed):
        h = ((h ^ w) * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 29
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("width", [9, 8])
def test_the_row_hashes_equal_plain_python_references(dtype, width):
    rows = np.random.default_rng(3).normal(size=(20, width)).astype(dtype)
    assert row_hashes(rows, dtype).tolist() == [_reference_hash_2(r.tolist(), dtype) for r in rows]
    assert row_hashes(rows, dtype, "splitmix64-rows-1").tolist() == [_reference_hash(r.tolist(), dtype) for r in rows]
    assert _reference_hash([1.0, 2.0, 3.0], dtype) == (PINNED_32 if dtype == "float32" else PINNED_64)
    assert _reference_hash_2([1.0, 2.0, 3.0], dtype) == (PINNED_2_32 if dtype == "float32" else PINNED_2_64)
    padded = np.concatenate([rows, np.zeros((20, 1), dtype=dtype)], axis=1)  # a zero column is another row
    assert not np.intersect1d(row_hashes(rows, dtype), row_hashes(padded, dtype)).size


def test_hashing_in_blocks_gives_the_fingerprint_of_one_block():
    """Fingerprint.of hashes 65,536 rows at a time (bounded memory): a row's hash is its own, so
    any block size gives the same hashes, counts and training range."""
    x = np.random.default_rng(3).normal(size=(1000, 7)).astype(np.float32)
    whole, blocks = Fingerprint.of(x, "float32", chunk=1 << 20), Fingerprint.of(x, "float32", chunk=97)
    assert blocks.rows == whole.rows == 1000
    np.testing.assert_array_equal(blocks.exact, whole.exact)
    np.testing.assert_array_equal(blocks.exact, np.unique(row_hashes(x, "float32")))
    np.testing.assert_array_equal(blocks.low, x.min(axis=0).astype(np.float64))
    np.testing.assert_array_equal(blocks.high, x.max(axis=0).astype(np.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_row_hashes_in_blocks_of_rows_are_each_rows_own(monkeypatch, dtype):
    """row_hashes works through its rows in blocks (2,048 at least): the rows of the last,
    shorter block and of every block boundary hash as they do alone."""
    x = np.random.default_rng(4).normal(size=(5000, 5))  # 2,048 + 2,048 + 904 rows
    monkeypatch.setattr(row_hash, "HASH_BLOCK_BYTES", 1)
    blocked = row_hashes(x, dtype)
    alone = [int(row_hashes(x[i:i + 1], dtype)[0]) for i in (0, 2047, 2048, 4095, 4096, 4999)]
    assert [int(blocked[i]) for i in (0, 2047, 2048, 4095, 4096, 4999)] == alone
    monkeypatch.setattr(row_hash, "HASH_BLOCK_BYTES", 1 << 30)  # one block
    np.testing.assert_array_equal(row_hashes(x, dtype), blocked)
    assert blocked[2040:2056].tolist() == [_reference_hash_2(r.tolist(), dtype) for r in x[2040:2056]]
