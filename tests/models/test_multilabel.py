"""Multi-label classification with Sequential (task="multilabel"): one sigmoid per label, the
metrics equal to scikit-learn's, the model file, the estimator, the bad targets."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp

datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(scope="module")
def data():
    return datasets.make_multilabel_classification(n_samples=400, n_features=12, n_classes=4, random_state=0)


def _model(backend="numpy", **kw):
    return xmlp.Sequential([xmlp.Dense(16, "relu"), xmlp.Dense(4, "sigmoid")], task="multilabel", backend=backend, **kw)


def test_a_multilabel_model_reports_scikit_learns_metrics(backend, data):
    from sklearn.metrics import accuracy_score, f1_score, hamming_loss

    x, y = data
    model = _model(backend)
    history = model.fit(x[:300], y[:300], validation_data=(x[300:], y[300:]), epochs=10, batch_size=32,
                        optimizer="adam", seed=0, metrics=["hamming_loss", "subset_accuracy", "f1_micro", "f1_macro"])
    pred = model.predict(x[300:])
    assert pred.shape == (100, 4) and set(np.unique(pred)) <= {0, 1}
    proba = model.predict_proba(x[300:])
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    # counts of 0/1 decisions: exact on the device too (float32 sums of integers < 2^24)
    expected = {"hamming_loss": hamming_loss(y[300:], pred), "subset_accuracy": accuracy_score(y[300:], pred),
                "f1_micro": f1_score(y[300:], pred, average="micro"), "f1_macro": f1_score(y[300:], pred, average="macro")}
    for key, value in expected.items():
        assert history.history[f"val_{key}"][-1] == pytest.approx(value, rel=1e-6), key
        assert model.evaluate(x[300:], y[300:])[key] == pytest.approx(value, rel=1e-12), key


def test_the_model_file_and_the_onnx_graph(tmp_path, data):
    x, y = data
    model = _model()
    model.fit(x, y, epochs=3, seed=0)
    model.save(tmp_path / "m.safetensors")
    loaded = xmlp.load_model(tmp_path / "m.safetensors")
    assert loaded.task == "multilabel" and loaded.classes == [0, 1, 2, 3]
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from xmlp.export import to_onnx

    session = ort.InferenceSession(to_onnx(model).SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], {"x": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-6)  # float32 probabilities


def test_the_estimator_takes_an_indicator_matrix(data):
    from sklearn.metrics import accuracy_score

    from xmlp.sklearn import MLPClassifier

    x, y = data
    clf = MLPClassifier((16,), epochs=10, random_state=0).fit(x, y)
    assert clf.classes_.tolist() == [0, 1, 2, 3] and clf.predict(x).shape == (400, 4)
    assert clf.predict_proba(x).shape == (400, 4)
    assert clf.score(x, y) == accuracy_score(y, clf.predict(x))  # subset accuracy, as scikit-learn's


def test_bad_multilabel_targets(data):
    x, y = data
    with pytest.raises(ValueError, match="expected multi-label targets: a 0/1 indicator matrix"):
        _model().fit(x, y * 2, epochs=1)
    with pytest.raises(ValueError, match=r"expected the output layer to have one unit per label \(5\); received 4"):
        _model().fit(x, np.column_stack([y, y[:, :1]]), epochs=1)
    with pytest.raises(ValueError, match="expected a 'sigmoid' output layer for sigmoidCrossentropy"):
        xmlp.Sequential([xmlp.Dense(4, "softmax")], task="multilabel")
    with pytest.raises(ValueError, match=r"expected metrics among hamming_loss, subset_accuracy, f1_micro, f1_macro"):
        _model().fit(x, y, epochs=1, metrics=["accuracy"])
