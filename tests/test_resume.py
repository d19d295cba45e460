"""Continuing a training: fit(warm_start=True), partial_fit, the training state in the model file
(xmlp/resume.py, xmlp/fitting.py), and ``xmlp train --resume``. The promise: 5 epochs, (save,
load,) 5 more == 10 epochs, bitwise — weights, optimizer state, per-epoch history."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import xmlp
from xmlp.errors import DataError
from xmlp.io.model_file import read_model_file, write_model_file

OPTIMIZERS = ["sgd", "momentum", "adam"]


def _model(backend="numpy", dtype="float64", ensemble=1):
    return xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], backend=backend, dtype=dtype,
                           ensemble=ensemble)


def _state(model):
    """Everything a continued training depends on, as host data: weights of every member, the
    optimizer slots and step counts, the generators' states, the epochs run."""
    doc, slots = model.training_state.file_data()
    weights = {f"{k}.{i}.{key}": w[key] for k, net in enumerate(model.members)
               for i, w in enumerate(net.get_weights()) for key in w}
    return doc, {**weights, **slots}


def assert_same_state(a, b):
    doc_a, arrays_a = _state(a)
    doc_b, arrays_b = _state(b)
    assert doc_a == doc_b  # epochs, seed, optimizer, step counts, generator states
    assert sorted(arrays_a) == sorted(arrays_b)
    for key in arrays_a:
        assert arrays_a[key].dtype == arrays_b[key].dtype
        assert arrays_a[key].tobytes() == arrays_b[key].tobytes(), key  # bitwise


def _fit(model, x, y, **kw):
    return model.fit(x, y, validation_data=(x[:100], y[:100]), batch_size=16, input_noise=0.1, **kw)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_five_then_five_more_is_ten_bitwise(wdbc, tmp_path, optimizer):
    """NumPy float64: fit 10 == fit 5 + fit(warm_start) 5 == fit 5, save, load, fit(warm_start) 5."""
    x, y, _ = wdbc
    whole = _model()
    h10 = _fit(whole, x, y, epochs=10, seed=3, optimizer=optimizer)
    warm = _model()
    h5 = _fit(warm, x, y, epochs=5, seed=3, optimizer=optimizer)
    warm.save(tmp_path / "m.safetensors")
    h5b = _fit(warm, x, y, epochs=5, warm_start=True)
    loaded = xmlp.load_model(tmp_path / "m.safetensors")
    h5c = _fit(loaded, x, y, epochs=5, warm_start=True)
    for model, second in ((warm, h5b), (loaded, h5c)):
        assert_same_state(whole, model)
        assert model.training_state.epochs == 10
        for key, values in h10.history.items():
            assert h5.history[key] + second.history[key] == values  # exact floats
        assert second.params["initial_epoch"] == 5
    assert warm.training_state.optimizers[0].iterations == 10 * -(-len(y) // 16)


def test_partial_fit_n_times_is_fit_n_epochs(wdbc):
    x, y, _ = wdbc
    whole = _model()
    whole.fit(x, y, epochs=4, seed=5, optimizer="adam", batch_size=32)
    calls = _model()
    losses = [calls.partial_fit(x, y, seed=5, optimizer="adam", batch_size=32).history["loss"][0] for _ in range(4)]
    assert_same_state(whole, calls)
    assert losses == whole.history.history["loss"]


def test_partial_fit_takes_its_classes_from_the_first_call(wdbc):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(4, "tanh"), xmlp.Dense(3, "softmax")])
    benign = y == "B"
    model.partial_fit(x[benign], y[benign], classes=["M", "X", "B"], seed=0)  # sorted, as scikit-learn
    assert model.classes == ["B", "M", "X"] and model.predict_proba(x[:3]).shape == (3, 3)
    mean = model.standardizer.mean.copy()
    model.partial_fit(x[~benign], y[~benign])  # new rows: the preprocessing of the first call is kept
    assert model.standardizer.mean.tobytes() == mean.tobytes() and model.training_state.epochs == 2
    with pytest.raises(ValueError, match=r"expected classes=\['B', 'M', 'X'\] \(those of the first call\); "
                                         r"received \['B', 'M'\]"):
        model.partial_fit(x, y, classes=["B", "M"])
    with pytest.raises(ValueError, match="expected a label among B, M, X; received 'Z' \\(row 0\\)"):
        model.partial_fit(x[:2], np.array(["Z", "B"]))
    with pytest.raises(ValueError, match="expected 30 features per row"):
        model.partial_fit(x[:, :5], y)


def test_a_warm_start_refuses_another_optimizer_or_seed(wdbc):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=1, seed=3, optimizer="momentum")
    with pytest.raises(ValueError, match=r"expected the optimizer the model trained with to continue \(name=sgd, "
                                         r"learning_rate=0.01, momentum=0.9, nesterov=False\); received name=adam"):
        model.fit(x, y, epochs=1, warm_start=True, optimizer="adam")
    with pytest.raises(ValueError, match="received name=sgd, learning_rate=0.5, momentum=0.9"):
        model.fit(x, y, epochs=1, warm_start=True, learning_rate=0.5)
    with pytest.raises(ValueError, match="expected seed None or 3 .*; received 4"):
        model.fit(x, y, epochs=1, warm_start=True, seed=4)
    model.fit(x, y, epochs=1, warm_start=True, optimizer="momentum", seed=3)  # the same: continues
    assert model.training_state.epochs == 2
    fresh = _model()
    fresh.fit(x, y, epochs=1, seed=3, warm_start=True)  # never fitted: a warm start starts fresh
    assert fresh.training_state.epochs == 1
    built = _model()
    built.build(30, np.random.default_rng(0))  # weights, but no classes nor state: also fresh
    built.fit(x, y, epochs=1, seed=3, warm_start=True)
    assert_same_state(fresh, built)


def test_ensemble_members_continue_their_own_state(wdbc, tmp_path):
    x, y, _ = wdbc
    whole, parts = _model(ensemble=2), _model(ensemble=2)
    whole.fit(x, y, epochs=4, seed=1, optimizer="adam")
    parts.fit(x, y, epochs=2, seed=1, optimizer="adam")
    parts.save(tmp_path / "e.safetensors")
    _, tensors = read_model_file(tmp_path / "e.safetensors")
    assert "members.1.optimizer.layers.1.bias.1" in tensors  # Adam's v of member 1's output bias
    loaded = xmlp.load_model(tmp_path / "e.safetensors")
    loaded.fit(x, y, epochs=2, warm_start=True)
    assert_same_state(whole, loaded)


def test_the_state_survives_pickling(wdbc):
    """joblib and copy.deepcopy pickle a fitted model: its state is re-linked to the new layers."""
    x, y, _ = wdbc
    whole, parts = _model(), _model()
    whole.fit(x, y, epochs=3, seed=2, optimizer="momentum")
    parts.fit(x, y, epochs=1, seed=2, optimizer="momentum")
    copy = pickle.loads(pickle.dumps(parts))
    assert copy.training_state.epochs == 1 and copy.training_state.seed == 2
    copy.fit(x, y, epochs=2, warm_start=True)
    assert_same_state(whole, copy)
    assert parts.training_state.epochs == 1  # the original is untouched


def test_a_file_without_state_still_loads_and_says_so_when_continued(wdbc, tmp_path):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=2, seed=3, optimizer="adam")
    model.save(tmp_path / "old.safetensors", include_optimizer=False, include_fingerprint=False)  # as 0.1.0 wrote
    meta, tensors = read_model_file(tmp_path / "old.safetensors")
    assert meta["format_version"] == 2 and "resume" not in meta and not any("optimizer" in k for k in tensors)
    loaded = xmlp.load_model(tmp_path / "old.safetensors")
    assert loaded.training_state is None
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    with pytest.warns(UserWarning, match="without a saved optimizer state or random streams .* will differ from a "
                                         "training that never stopped"):
        loaded.fit(x, y, epochs=1, warm_start=True, optimizer="adam")
    assert loaded.training_state.epochs == 1 and loaded.training_state.optimizers[0].iterations == 72


def test_the_saved_state_is_complete_and_checked(wdbc, tmp_path):
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=1, seed=3, optimizer="adam")
    model.save(tmp_path / "m.safetensors", include_fingerprint=False)  # the oldest format holding a state
    meta, tensors = read_model_file(tmp_path / "m.safetensors")
    assert meta["format_version"] == 3 and b"pickle" not in (tmp_path / "m.safetensors").read_bytes()
    state = meta["resume"]
    assert state["epochs"] == 1 and state["seed"] == 3 and state["slots"] == 2
    assert state["optimizer"] == {"name": "adam", "learning_rate": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-08}
    assert state["members"][0]["iterations"] == 72 and state["members"][0]["shuffle"]["bit_generator"] == "PCG64"
    assert tensors["optimizer.layers.0.weight.1"].shape == (30, 8) and tensors["optimizer.layers.0.weight.1"].dtype == np.float64
    np.testing.assert_array_equal(tensors["optimizer.layers.1.bias.0"], model.training_state.optimizers[0].slots[3][2][0])

    def broken(edit, tensor_edit=None):
        m, t = read_model_file(tmp_path / "m.safetensors")
        edit(m["resume"])
        if tensor_edit:
            tensor_edit(t)
        write_model_file(tmp_path / "b.safetensors", m, t)
        with pytest.raises(DataError) as err:
            xmlp.load_model(tmp_path / "b.safetensors")
        return str(err.value)

    assert "expected a tensor optimizer.layers.0.bias.1; received a file without it" in broken(
        lambda r: None, lambda t: t.pop("optimizer.layers.0.bias.1"))
    assert "expected a training state (resume) with epochs" in broken(lambda r: r.update(members=[]))
    assert "expected a PCG64 generator state; received" in broken(
        lambda r: r["members"][0].update(shuffle={"bit_generator": "MT19937"}))
    assert "expected 2 optimizer slots per parameter for adam; received 1" in broken(
        lambda r: r.update(slots=1), lambda t: [t.pop(k) for k in list(t) if k.endswith(".1") and "optimizer" in k])
    assert "expected an optimizer among" in broken(lambda r: r["optimizer"].update(name="lbfgs"))
    assert "expected finite values in optimizer.layers.0.weight.0" in broken(
        lambda r: None, lambda t: t["optimizer.layers.0.weight.0"].__setitem__((0, 0), np.nan))


def test_continuing_is_bitwise_on_every_backend(backend, wdbc, tmp_path):
    """The same backend, the same operations in the same order, from the same bits (weights and
    slots are saved and sent back exactly): each backend reproduces its own uninterrupted run
    bit for bit, in float32 as in float64."""
    x, y, _ = wdbc
    dtype = "float64" if backend.supports("float64") else "float32"
    whole = _model(backend, dtype)
    whole.fit(x, y, epochs=4, seed=3, optimizer="adam", batch_size=32, input_noise=0.1)
    parts = _model(backend, dtype)
    parts.fit(x, y, epochs=2, seed=3, optimizer="adam", batch_size=32, input_noise=0.1)
    parts.save(tmp_path / "m.safetensors")
    loaded = xmlp.load_model(tmp_path / "m.safetensors", backend=backend)
    loaded.fit(x, y, epochs=2, warm_start=True, batch_size=32, input_noise=0.1)
    assert_same_state(whole, loaded)


# ----------------------------------------------------------------------------- xmlp train --resume
TRAIN = ("--no-plots", "--quiet", "--dtype", "float64", "--optimizer", "momentum", "--batch-size", "16")


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_cli_resume_is_the_uninterrupted_run_bitwise(cli, tmp_path, optimizer):
    import json

    train = [*TRAIN[:-4], "--optimizer", optimizer, *TRAIN[-2:]]
    assert cli("train", "--epochs", "4", "--no-refit", "--out", "whole", *train)[0] == 0
    assert cli("train", "--epochs", "2", "--no-refit", "--out", "half", *train)[0] == 0
    code, out, err = cli("train", "--resume", "half", "--epochs", "2", "--out", "resumed", "--no-plots", *train[2:])
    assert code == 0 and err == "" and "> resuming 'half/model.safetensors' after epoch 2: 2 more epochs" in out
    assert "epoch 3/4 - loss:" in out and "epoch 4/4 - loss:" in out  # numbered on
    meta_w, whole = read_model_file(tmp_path / "whole/model.safetensors")
    meta_r, resumed = read_model_file(tmp_path / "resumed/model.safetensors")
    slots = {"sgd": 0, "momentum": 1, "adam": 2}[optimizer]  # arrays per parameter in the file
    assert sorted(whole) == sorted(resumed) and meta_w["resume"]["slots"] == slots
    assert ("optimizer.layers.2.bias.0" in whole) == (slots > 0)
    assert all(whole[k].tobytes() == resumed[k].tobytes() for k in whole)
    assert meta_w["resume"] == meta_r["resume"] and meta_r["resume"]["epochs"] == 4
    assert meta_r["training"]["resume"] == "half" and meta_r["training"]["initial_epoch"] == 2
    assert meta_r["metrics"] == meta_w["metrics"]  # the same final validation scores
    histories = [json.loads((tmp_path / f"{run}/history.json").read_text())["history"]
                 for run in ("whole", "half", "resumed")]
    assert all(histories[0][k] == histories[1][k] + histories[2][k] for k in histories[0])
    rows = (tmp_path / "resumed/history.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == ["epoch", "3", "4"]


def _other_data(tmp_path, wdbc, kind):
    from helpers import write_subject_csv

    x, y, names = wdbc
    if kind == "features":
        return write_subject_csv(tmp_path / "f.csv", (x[:, :10], y, names[:10]))
    return write_subject_csv(tmp_path / "c.csv", (x, np.where(y == "M", "X", "B"), names))


@pytest.mark.parametrize("options, message", [
    (["--layer", "16"], "expected --layer 24 24 (the model's); received 16 (hint: give the --layer widths the model has)"),
    (["--activation", "relu"], "expected --activation tanh (the model's); received relu"),
    (["--optimizer", "adam"], "expected the optimizer name=sgd, learning_rate=0.01, weight_decay=0.007, decoupled=False, "
                              "momentum=0.9, nesterov=False (the model's); received name=adam"),
    (["--momentum", "0.5"], "received name=sgd, learning_rate=0.01, weight_decay=0.007, decoupled=False, momentum=0.5"),
    (["--dtype", "float32"], "expected --dtype float64 (the model's); received float32"),
    (["--preprocess", "standardize"], "expected --preprocess yeo-johnson (the model's); received standardize"),
    (["--seed", "7"], "expected --seed 42 (the model's); received 7 (hint: give the model's --seed: it draws the split"),
    (["--ensemble", "2"], "expected --ensemble 1 (the model's); received 2"),
    (["--valid-size", "0.5"], "expected --valid-size 0.2 (the model's); received 0.5 (hint: give the model's "
                               "--valid-size: it draws the split)"),
    ("features", "expected features per row 30 (the model's); received 10 (hint: resume on the data the model was "
                 "trained on)"),
    ("classes", "expected classes B M (the model's); received B X"),
])
def test_cli_resume_mismatch_is_one_line_exit_78_nothing_written(cli, tmp_path, wdbc, options, message):
    from helpers import snapshot

    assert cli("train", "--epochs", "1", "--no-refit", "--out", "half", *TRAIN)[0] == 0
    if isinstance(options, str):
        options = ["--data", str(_other_data(tmp_path, wdbc, options))]
    options = dict(zip(TRAIN[2::2], TRAIN[3::2])) | dict(zip(options[::2], options[1::2]))
    before = snapshot(tmp_path)
    code, out, err = cli("train", "--resume", "half/model.safetensors", "--epochs", "1", "--out", "next",
                         "--no-plots", *[w for kv in options.items() for w in kv])
    assert code == 78 and err.count("\n") == 1
    assert err.startswith("xmlp: error: half/model.safetensors: ") and message in err, err
    assert snapshot(tmp_path) == before and not (tmp_path / "next").exists()


def test_cli_resume_refusals(cli, tmp_path):
    from helpers import snapshot

    assert cli("train", "--epochs", "1", "--out", "refit", *TRAIN)[0] == 0  # --refit: the default
    before = snapshot(tmp_path)
    code, _, err = cli("train", "--resume", "refit", "--epochs", "1", "--out", "next", *TRAIN)
    assert code == 78 and "expected a model saved without --refit; received a refit model" in err
    code, _, err = cli("train", "--resume", "refit", "--refit", "--epochs", "1", "--out", "next", *TRAIN)
    assert code == 2 and "expected --resume without --refit; received both" in err
    code, _, err = cli("train", "--resume", "missing.safetensors", "--out", "next", *TRAIN)
    assert code == 66 and "missing.safetensors: expected an xmlp model file" in err
    code, _, err = cli("train", "--resume", "refit", "--out", "refit", "--force", *TRAIN)
    assert code == 2 and "expected a run folder that holds none of the inputs; received one holding refit/model.safetensors" in err
    assert snapshot(tmp_path) == before


def test_cli_resume_of_a_file_without_state_says_so(cli, tmp_path):
    assert cli("train", "--epochs", "1", "--no-refit", "--out", "half", *TRAIN)[0] == 0
    meta, tensors = read_model_file(tmp_path / "half/model.safetensors")
    del meta["resume"]
    write_model_file(tmp_path / "old.safetensors", {k: v for k, v in meta.items() if not k.startswith(("format", "xmlp_"))},
                     {k: v for k, v in tensors.items() if not k.startswith("optimizer.")})
    code, out, err = cli("train", "--resume", "old.safetensors", "--epochs", "1", "--out", "next", "--no-plots", *TRAIN[2:])
    assert code == 0 and err == ""
    assert "> note: 'old.safetensors' carries no optimizer state or random streams (saved by an older xmlp)" in out
    assert read_model_file(tmp_path / "next/model.safetensors")[0]["resume"]["epochs"] == 2


def test_warm_start_numbers_epochs_on_and_early_stopping_counts_from_there(wdbc, capsys):
    """Epochs after a warm start are numbered from the epochs already run (Keras's initial_epoch):
    the epoch line, early stopping's best epoch; what the ensemble's other members train is the
    count of epochs kept in this call."""
    x, y, _ = wdbc
    model = _model(ensemble=2)
    model.fit(x[:400], y[:400], epochs=3, seed=3, optimizer="adam")
    stop = xmlp.EarlyStopping("val_loss", patience=100)
    history = model.fit(x[:400], y[:400], validation_data=(x[400:], y[400:]), epochs=4, warm_start=True,
                        early_stopping=stop, verbose=True)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("epoch")]
    assert [l.split(" - ")[0] for l in lines] == ["epoch 4/7", "epoch 5/7", "epoch 6/7", "epoch 7/7"]
    assert 4 <= history.best_epoch <= 7 and history.restored_epoch == history.best_epoch
    assert history.kept_epochs == history.best_epoch - 3  # epochs of this call the weights come from
    member = model.training_state.optimizers[1]
    steps = -(-400 // 8)
    assert member.iterations == steps * (3 + history.kept_epochs)  # member 1 trained as many as were kept
    assert model.training_state.epochs == 7


def test_resume_is_a_config_key_too(cli, tmp_path):
    assert cli("train", "--epochs", "1", "--no-refit", "--out", "half", *TRAIN)[0] == 0
    (tmp_path / "more.toml").write_text('resume = "half"\nepochs = 1\ndtype = "float64"\noptimizer = "momentum"\n'
                                        'batch_size = 16\n')
    code, out, _ = cli("train", "--config", "more.toml", "--out", "next", "--no-plots")
    assert code == 0 and "> resuming 'half/model.safetensors' after epoch 1: 1 more epoch" in out
    assert read_model_file(tmp_path / "next/model.safetensors")[0]["resume"]["epochs"] == 2


BAD_VALUES = [None, True, -1, 0, 1.5, "x", [], {}, [1], {"a": 1}, 2**200]


def test_a_hostile_training_state_is_a_data_error_never_a_crash(wdbc, tmp_path):
    """Every field of the resume document replaced by values of the wrong type or range: the
    load either succeeds (a harmless value) or is one DataError, never another exception."""
    x, y, _ = wdbc
    model = _model()
    model.fit(x, y, epochs=1, seed=3, optimizer="momentum")
    model.save(tmp_path / "m.safetensors")
    meta, tensors = read_model_file(tmp_path / "m.safetensors")
    meta = {k: v for k, v in meta.items() if not k.startswith(("format", "xmlp_"))}
    paths = [("epochs",), ("seed",), ("slots",), ("optimizer",), ("optimizer", "name"), ("optimizer", "momentum"),
             ("optimizer", "nesterov"), ("optimizer", "learning_rate"), ("members",), ("members", 0, "iterations"),
             ("members", 0, "shuffle"), ("members", 0, "noise", "state"), ("members", 0, "noise", "state", "inc"),
             ("members", 0, "shuffle", "uinteger")]
    outcomes = set()
    for path in paths:
        for value in BAD_VALUES:
            import copy

            bad = copy.deepcopy(meta)
            holder = bad["resume"]
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1]] = value
            write_model_file(tmp_path / "b.safetensors", bad, tensors)
            try:
                xmlp.load_model(tmp_path / "b.safetensors")
                outcomes.add("loaded")
            except DataError as exc:
                assert "b.safetensors: expected" in str(exc) and "\n" not in str(exc)
                outcomes.add("refused")
    assert outcomes == {"loaded", "refused"}  # e.g. a seed of 0 is fine; a momentum of "x" is not


def test_data_parallel_exact_mode_continues_bitwise(split):
    """Two 'processes' (threads, exact mode): 2 epochs and a warm start of 2 give each process the
    bits of its 4-epoch run (the same process count sums in the same order)."""
    from helpers import ThreadGroup

    from xmlp.training.parallel import Partition

    xt, yt, _, _ = split

    def run(comm, warm):
        model = _model()
        if warm:
            model.fit(xt, yt, epochs=2, seed=3, optimizer="adam", partition=Partition(comm))
            model.fit(xt, yt, epochs=2, warm_start=True, partition=Partition(comm))
        else:
            model.fit(xt, yt, epochs=4, seed=3, optimizer="adam", partition=Partition(comm))
        return model

    whole = ThreadGroup(2).run(lambda comm: run(comm, False))
    for a, b in zip(whole, ThreadGroup(2).run(lambda comm: run(comm, True))):
        assert_same_state(a, b)


def test_an_optimizer_instance_given_to_two_models_is_a_template(wdbc):
    """Two models fitted with the same optimizer object each train their own copy: continuing
    the first leaves the second alone and equals a run that had its own instance."""
    x, y, _ = wdbc

    def model():
        return xmlp.Sequential([xmlp.Dense(8, "tanh"), xmlp.Dense(2, "softmax")], dtype="float64")

    shared = xmlp.Adam(learning_rate=0.01)
    a, b, alone = model(), model(), model()
    a.fit(x, y, epochs=2, optimizer=shared, seed=1)
    b.fit(x, y, epochs=2, optimizer=shared, seed=2)
    alone.fit(x, y, epochs=2, optimizer=xmlp.Adam(learning_rate=0.01), seed=1)
    b_before = b.get_weights()
    a.fit(x, y, epochs=2, warm_start=True)
    alone.fit(x, y, epochs=2, warm_start=True)
    for wa, walone, wb, wb0 in zip(a.get_weights(), alone.get_weights(), b.get_weights(), b_before):
        for k in ("weight", "bias"):
            np.testing.assert_array_equal(wa[k], walone[k])
            np.testing.assert_array_equal(wb[k], wb0[k])
    assert shared.iterations == 0 and shared.slots == []  # the template itself never trains


def test_cli_resume_refuses_a_model_trained_on_a_streamed_file(cli, tmp_path, wdbc):
    from helpers import write_subject_csv

    write_subject_csv(tmp_path / "d.csv", wdbc)
    code, _, err = cli("train", "--data", "d.csv", "--stream", "--no-refit", "--epochs", "1", "--out", "s1", "--no-plots")
    assert code == 0, err
    code, _, err = cli("train", "--data", "d.csv", "--resume", "s1", "--epochs", "1", "--out", "s2", "--no-plots")
    assert code == 78 and err.count("\n") == 1
    assert "expected a model trained on data read whole; received one trained on a streamed file" in err
    assert not (tmp_path / "s2").exists()


def test_resume_goes_on_counting_early_stopping_patience(cli, tmp_path):
    """A run stopped by hand at its best epoch and resumed stops where the uninterrupted run stops,
    with the same weights: the saved best value and epochs-without-improvement carry over (a fresh
    count would call the first resumed epoch an improvement and stop one epoch later)."""
    from safetensors.numpy import load_file

    opts = ["--early-stopping", "--patience", "3", "--no-refit", "--quiet", "--no-plots", "--optimizer", "adam",
            "--learning-rate", "0.01"]
    assert cli("train", "--epochs", "60", "--out", "whole", *opts)[0] == 0
    whole = json.loads((tmp_path / "whole/history.json").read_text())["config"]
    best = whole["best_epoch"]
    assert whole["stopped_epoch"] == best + 3  # this recipe stops (at 8 here)
    assert cli("train", "--epochs", str(best), "--out", "part", *opts)[0] == 0
    part = json.loads((tmp_path / "part/history.json").read_text())["config"]
    assert part["early_stopping_state"]["best_epoch"] == best and part["early_stopping_state"]["wait"] == 0
    code, out, err = cli("train", "--resume", "part", "--epochs", "60", "--out", "rest", *opts)
    assert code == 0, err
    rest = json.loads((tmp_path / "rest/history.json").read_text())["config"]
    assert (rest["stopped_epoch"], rest["best_epoch"]) == (whole["stopped_epoch"], best)
    a, b = load_file(tmp_path / "whole/model.safetensors"), load_file(tmp_path / "rest/model.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a if k.startswith("layers."))


def test_early_stopping_carry_checks_its_state():
    from xmlp.training.callbacks import EarlyStopping

    stopper = EarlyStopping("val_loss", patience=2)
    with pytest.raises(ValueError, match="expected early stopping state of val_loss; received one of 'val_accuracy'"):
        stopper.carry({"monitor": "val_accuracy", "best": 0.9, "best_epoch": 1, "wait": 0})
    with pytest.raises(ValueError, match="expected an early stopping state"):
        stopper.carry({"monitor": "val_loss", "best": float("nan"), "best_epoch": 1, "wait": 0})
