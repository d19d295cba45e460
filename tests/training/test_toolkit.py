"""The trainer with the training toolkit: dropout masks (seeded, the same on every backend and
whatever the blocks, sent per block), BatchNorm over the global batch of W processes, schedules
and clipping with the fast paths, and continuing all of it bitwise."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import ThreadGroup

import xmlp
from xmlp import (
    Activation,
    BatchNorm,
    CosineDecay,
    Dense,
    Dropout,
    LayerNorm,
    Sequential,
)
from xmlp.training import trainer
from xmlp.training.parallel import Partition


def toolkit(backend="numpy", dtype="float64", rate=0.3):
    return Sequential([Dense(12, "linear"), BatchNorm(), Activation("relu"), Dropout(rate), Dense(8, "gelu"),
                       LayerNorm(), Dropout(rate / 2), Dense(2, "softmax")], backend=backend, dtype=dtype)


# The bias of the Dense layer before BatchNorm has a zero gradient in exact arithmetic (the
# normalisation subtracts it again); its computed gradient is rounding noise, which Adam turns
# into steps, so that bias wanders to ~1e-11 differently on each backend or process count (and
# with it BatchNorm's running mean, the mean of that layer's output): an absolute tolerance of
# 1e-10 for those two (every other value agrees to rtol 1e-10 or 1e-12, with no atol).
NOISE = 1e-10
FIT = dict(epochs=3, batch_size=16, seed=4, optimizer="adam", lr_schedule=CosineDecay(3, warmup=1), clip_norm=1.0)


def _fit(split, backend="numpy", dtype="float64", model=None, **kw):
    xt, yt, xv, yv = split
    model = model or toolkit(backend, dtype)
    model.fit(xt, yt, validation_data=(xv, yv), metrics=["accuracy", "bce"], **{**FIT, **kw})
    return model


def _same(a, b, rtol=0.0, atol=0.0):
    """Bitwise (no tolerance given), else to rtol — and atol for the one noise-driven bias (NOISE)."""
    for i, (wa, wb) in enumerate(zip(a.get_weights(), b.get_weights())):
        assert wa.keys() == wb.keys()
        for key in wa:
            if rtol == atol == 0.0:
                assert wa[key].tobytes() == wb[key].tobytes(), key
            else:
                noisy = (i, key) in ((0, "bias"), (1, "running_mean"))  # that bias, and the mean it shifts
                np.testing.assert_allclose(wa[key], wb[key], rtol=rtol, atol=atol if noisy else 0.0, err_msg=f"{i}.{key}")


def test_every_backend_trains_the_same_masks_to_the_same_weights(backend, split):
    """The masks are host draws: a backend that computes in float64 ends where NumPy does, to the
    parity tolerance of tests/test_parity.py (rtol 1e-10: the same operations in other orders,
    three epochs), with atol NOISE; float32 (the device without float64), rtol 1e-4 / atol 1e-5:
    float32 rounding carried through 3 epochs of Adam."""
    dtype = "float64" if backend.supports("float64") else "float32"
    ours, ref = _fit(split, backend, dtype), _fit(split, "numpy", dtype)
    _same(ours, ref, **({"rtol": 1e-10, "atol": NOISE} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}))
    assert ours.history.history["lr"] == ref.history.history["lr"] == [0.0005, 0.001, 0.0005]


def test_masks_do_not_depend_on_the_blocks_and_go_once_per_block(split, monkeypatch):
    xt = split[0]
    backend = xmlp.get_backend("cpu")
    whole = _fit(split, backend)
    sent_whole = backend.stats.to_device
    assert backend.host_memory  # NumPy: the host-memory budget applies
    monkeypatch.setattr(trainer, "HOST_MASK_VALUES", 20 * 32)  # masks of 12 + 8 values a row: blocks of 32 rows
    backend = xmlp.get_backend("cpu")
    blocked = _fit(split, backend)
    _same(whole, blocked)  # bitwise
    blocks = -(-len(xt) // 32)
    # two Dropout layers, one transfer each per block: the extra transfers are per block, not per batch
    assert backend.stats.to_device - sent_whole == 3 * 2 * (blocks - 1)


def test_rows_sent_in_pieces_get_the_same_masks(split):
    _same(_fit(split), _fit(split, chunk_rows=48))  # the feed path: bitwise the device-resident fit


def test_a_fit_with_the_toolkit_is_bitwise_with_and_without_fast_paths(split):
    cpu = xmlp.get_backend("cpu")
    _same(_fit(split, cpu), _fit(split, cpu.without_fast_paths()))
    plain = Sequential([Dense(16, "relu"), Dense(2, "softmax")], backend=cpu, dtype="float64")
    _fit(split, model=plain, optimizer="sgd")  # the flat layout still serves plain SGD with a schedule and clipping
    assert plain.network.layers[0].flat is not None and plain.network.layers[0].flat.holds(
        plain.training_state.optimizers[0].slots)


def test_two_processes_normalise_over_the_global_batch(split):
    """Exact mode: each process holds half of each batch, BatchNorm's sums are all-reduced, so W
    processes train as one (rtol 1e-12, the reasoning of test_parallel.py)."""
    one = _fit(split)
    results = ThreadGroup(2).run(lambda comm: (_fit(split, partition=Partition(comm)), comm.stats))
    steps = -(-len(split[1]) // 16)
    for model, stats in results:
        _same(model, one, rtol=1e-12, atol=NOISE)
        # per step: the gradient, and BatchNorm's forward and backward sums; one per epoch for the metrics
        assert stats.allreduce == 3 * (3 * steps + 1)


def test_batchnorm_refuses_a_batch_of_one_row_before_training(split):
    xt, yt, _, _ = split
    model = Sequential([Dense(4), BatchNorm(), Dense(2, "softmax")])
    with pytest.raises(ValueError, match=r"expected batches of at least 2 rows to train BatchNorm; received 455 rows "
                                         r"in batches of 2, the last of 1 \(PyTorch refuses it too"):
        model.fit(xt, yt, epochs=1, batch_size=2)
    model.fit(xt, yt, epochs=1, batch_size=5)  # 91 batches of 5: fine


def test_five_epochs_a_save_and_five_more_are_ten(split, tmp_path):
    kw = dict(FIT, epochs=10, lr_schedule=CosineDecay(10, warmup=2))
    whole = _fit(split, **kw)
    part = _fit(split, **{**kw, "epochs": 5})
    part.save(tmp_path / "t.safetensors")
    more = xmlp.load_model(tmp_path / "t.safetensors")
    xt, yt, xv, yv = split
    more.fit(xt, yt, validation_data=(xv, yv), epochs=5, batch_size=16, warm_start=True, clip_norm=1.0,
             metrics=["accuracy", "bce"])
    _same(whole, more)  # weights and BatchNorm's running statistics, bitwise
    assert part.history.history["lr"] + more.history.history["lr"] == whole.history.history["lr"]


def test_inference_uses_the_running_statistics_and_no_dropout(split):
    model = _fit(split)
    xv = split[2]
    p1, p2 = model.predict_proba(xv), model.predict_proba(xv)
    assert np.array_equal(p1, p2)  # no randomness at inference
    assert np.array_equal(model.predict_proba(xv[:7]), p1[:7])  # rows do not depend on their batch


def test_a_toolkit_model_file_loads_bitwise_on_every_backend(backend, split, tmp_path):
    from xmlp.io.model_file import read_model_file

    model = _fit(split, dtype="float32")
    model.save(tmp_path / "t.safetensors", include_fingerprint=False)
    meta, tensors = read_model_file(tmp_path / "t.safetensors")
    assert meta["format_version"] == 4  # layers other than Dense: older xmlp would misread the file
    assert [l["kind"] for l in meta["topology"]["layers"]] == ["Dense", "BatchNorm", "Activation", "Dropout", "Dense",
                                                               "LayerNorm", "Dropout", "Dense"]
    assert {"layers.1.running_mean", "layers.1.running_var", "layers.5.weight"} <= set(tensors)
    assert meta["topology"]["layers"][3]["rate"] == 0.3 and meta["topology"]["layers"][1]["momentum"] == 0.1
    loaded = xmlp.load_model(tmp_path / "t.safetensors", backend=backend)
    _same(model, loaded)
    xv = split[2]
    # the same float32 weights, another backend's kernels: ~1e-7 relative in the probabilities
    np.testing.assert_allclose(loaded.predict_proba(xv), model.predict_proba(xv), rtol=1e-5, atol=1e-6)


def test_a_model_file_with_a_negative_running_variance_is_refused(split, tmp_path):
    from xmlp.errors import DataError
    from xmlp.io.model_file import read_model_file, write_model_file

    _fit(split).save(tmp_path / "t.safetensors")
    meta, tensors = read_model_file(tmp_path / "t.safetensors")
    tensors["layers.1.running_var"] = -tensors["layers.1.running_var"]
    write_model_file(tmp_path / "bad.safetensors", meta, tensors)
    with pytest.raises(DataError, match=r"bad.safetensors: expected running variances >= 0 in layers.1.running_var; received a negative one"):
        xmlp.load_model(tmp_path / "bad.safetensors")
