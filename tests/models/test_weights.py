"""sample_weight and class_weight: a batch's loss is the weighted mean sum w l / sum w, so with
full-batch descent integer weights take the step of duplicated rows — on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import xmlp

# float64, full batch: the weighted sum and the sum over duplicated rows add the same terms in
# another order (a few ulps); 5 SGD steps keep that near 1e-15. 1e-12 catches a wrong divisor
# (sum w vs rows: off by the mean weight, here ~1.5) or a weight applied twice.
TOL = 1e-12


def _pair(backend, task):
    kw = dict(backend=backend, dtype="float64", preprocess=None)  # the preprocessing is fitted unweighted
    if task == "regression":
        return [xmlp.Sequential([xmlp.Dense(5, "tanh"), xmlp.Dense(1, "linear")], task="regression",
                                target_scaling=False, **kw) for _ in range(2)]
    return [xmlp.Sequential([xmlp.Dense(5, "tanh"), xmlp.Dense(2, "softmax")], **kw) for _ in range(2)]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_integer_weights_take_the_step_of_duplicated_rows(backend64, wdbc, task):
    x, labels, _ = wdbc
    x, labels = x[:80], labels[:80]
    y = labels if task == "classification" else x[:, 1] / 10
    w = np.random.default_rng(0).integers(0, 4, 80)  # zeros too: a row of weight 0 is a row left out
    weighted, duplicated = _pair(backend64, task)
    fit = dict(epochs=5, batch_size=10_000, seed=0, optimizer="sgd", learning_rate=0.05)
    weighted.fit(x, y, sample_weight=w, **fit)
    rows = np.repeat(np.arange(80), w)
    duplicated.fit(x[rows], y[rows], **fit)
    for a, b in zip(weighted.get_weights(), duplicated.get_weights()):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=TOL, atol=TOL, err_msg=key)
    np.testing.assert_allclose(weighted.history.history["loss"], duplicated.history.history["loss"], rtol=TOL)


def test_class_weight_balanced_is_scikit_learns(wdbc):
    from sklearn.utils.class_weight import compute_class_weight

    x, y, _ = wdbc
    a, b = _pair("numpy", "classification")
    fit = dict(epochs=3, batch_size=10_000, seed=0, optimizer="sgd", learning_rate=0.05)
    a.fit(x, y, class_weight="balanced", **fit)
    per_class = compute_class_weight("balanced", classes=np.array(["B", "M"]), y=y)
    b.fit(x, y, sample_weight=per_class[(y == "M").astype(int)], **fit)
    np.testing.assert_array_equal(a.get_weights()[0]["weight"], b.get_weights()[0]["weight"])
    c, d = _pair("numpy", "classification")
    c.fit(x, y, class_weight={"M": 3.0}, sample_weight=np.full(len(y), 0.5), **fit)  # they multiply
    d.fit(x, y, sample_weight=np.where(y == "M", 1.5, 0.5), **fit)
    np.testing.assert_array_equal(c.get_weights()[0]["weight"], d.get_weights()[0]["weight"])


@pytest.mark.parametrize("kw, message", [
    (dict(sample_weight=[1.0, np.nan] + [1.0] * 38), r"expected finite weights >= 0; received nan \(row 1\)"),
    (dict(sample_weight=[-1.0] + [1.0] * 39), r"expected finite weights >= 0; received -1.0 \(row 0\)"),
    (dict(sample_weight=[0.0] * 40), "expected weights that are not all 0; received only zeros"),
    (dict(sample_weight=[1.0] * 39), r"expected sample_weight of shape \(40,\), one per row; received \(39,\)"),
    (dict(class_weight={"X": 2.0}), r"expected class_weight labels among \['B', 'M'\]; received 'X'"),
    (dict(class_weight="even"), "expected class_weight 'balanced', a dict"),
])
def test_bad_weights_are_one_clear_error(wdbc, kw, message):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(2, "softmax")])
    with pytest.raises(ValueError, match=message):
        model.fit(x[:40], y[:40], epochs=1, **kw)


def test_class_weight_needs_a_classification(wdbc):
    x, _, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(3, "tanh"), xmlp.Dense(1, "linear")], task="regression")
    with pytest.raises(ValueError, match="expected class_weight with a classification; received a regression"):
        model.fit(x[:40], x[:40, 0], epochs=1, class_weight="balanced")
