"""The Yeo-Johnson transform and its maximum-likelihood λ, against scikit-learn's PowerTransformer."""

from __future__ import annotations

import numpy as np
import pytest

from xmlp.data import power

sklearn = pytest.importorskip("sklearn.preprocessing", reason="scikit-learn is the reference (pip install '.[test]')")


def _reference(x):
    return sklearn.PowerTransformer(method="yeo-johnson", standardize=False).fit(x)


@pytest.fixture(params=["wdbc", "synthetic"])
def data(request, wdbc):
    if request.param == "wdbc":  # small positive skewed features: optima near λ = -280
        return wdbc[0]
    rng = np.random.default_rng(0)
    return np.column_stack([rng.lognormal(0, 1, 400), -rng.lognormal(0, 1, 400), rng.normal(0, 1, 400),
                            rng.exponential(1, 400) * 5 - 1, rng.lognormal(0, 0.1, 400) * 1e-3])


def test_lambdas_are_the_maximum_likelihood_ones(data):
    ours, ref = power.fit(data), _reference(data)
    assert ours.min() < -100 if data.shape == (569, 30) else True  # the wide search is needed here
    for j, (a, b) in enumerate(zip(ours, ref.lambdas_)):
        la, lb = power.log_likelihood(data[:, j], a), power.log_likelihood(data[:, j], b)
        # Both optimizers stop within ~1e-8 relative of the optimum: the log-likelihoods agree to
        # rounding (|llf| ~ 1e3, 1e-9 relative), and λ to 1e-6 relative (a flat optimum).
        assert la >= lb - 1e-9 * abs(lb), j
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6), j


def test_transform_equals_the_reference_at_the_same_lambdas(data):
    ref = _reference(data)
    # The same closed forms (expm1/log1p): equal to float64 rounding.
    np.testing.assert_allclose(power.transform(data, ref.lambdas_), ref.transform(data), rtol=1e-12, atol=1e-15)


def test_log_likelihood_formula_by_hand():
    x = np.array([0.5, 1.0, 2.0, 4.0])
    lam = 0.5
    y = ((1 + x) ** lam - 1) / lam
    expected = -len(x) / 2 * np.log(y.var()) + (lam - 1) * np.log1p(x).sum()
    assert power.log_likelihood(x, lam) == pytest.approx(expected, rel=1e-13)


def test_constant_and_non_finite_columns():
    x = np.column_stack([np.full(10, 3.0), np.arange(10.0)])
    lam = power.fit(x)
    assert lam[0] == 1.0  # a constant column is only shifted (the standardisation removes it)
    np.testing.assert_array_equal(power.transform(x, lam)[:, 0], np.full(10, 3.0))
    with pytest.raises(ValueError, match="expected finite values to fit the Yeo-Johnson transform"):
        power.fit(np.array([[1.0], [np.inf]]))


def test_large_data_is_fitted_on_a_seeded_sample_of_its_rows():
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.lognormal(0, 0.7, 3000), rng.normal(0, 1, 3000)])
    # At or below the cap every row counts: the same λ as before the cap existed.
    np.testing.assert_array_equal(power.fit(x, sample_rows=3000), np.array([power._fit_column(x[:, j]) for j in range(2)]))
    # Above it: exactly the λ of the sample (uniform, fixed seed, rows in order), reproducibly.
    rows = np.sort(np.random.default_rng(0).choice(3000, 500, replace=False))
    np.testing.assert_array_equal(power.fit(x, sample_rows=500), power.fit(x[rows], sample_rows=500))
    np.testing.assert_array_equal(power.fit(x, sample_rows=500), power.fit(x.copy(), sample_rows=500))
    # The sample's λ estimates the full data's: the MLE's standard error at n = 500 is ~0.05 for
    # these columns (from the curvature of the log-likelihood), so 0.25 is 5 standard errors.
    np.testing.assert_allclose(power.fit(x, sample_rows=500), power.fit(x, sample_rows=3000), atol=0.25)
    # Every row is still checked for finiteness, not only the sampled ones.
    x[np.setdiff1d(np.arange(3000), rows)[0], 0] = np.inf
    with pytest.raises(ValueError, match="expected finite values"):
        power.fit(x, sample_rows=500)


def test_the_transform_of_a_block_is_the_masked_transform_of_each_column_bit_for_bit():
    """power.transform (the whole block at once, a factor λ or 2 - λ per element) equals _yj, the
    fit's form, on every value — also at the log forms (λ = 0, λ = 2), for -0.0, for float32 input
    and where a large λ overflows far outside the data."""
    rng = np.random.default_rng(5)
    lambdas = np.array([0.0, 2.0, 0.5, -3.0, 1e-13, 2.0 + 1e-13, 1.7, 300.0])
    x = rng.normal(scale=4.0, size=(500, lambdas.size))
    x[:, 2] = np.abs(x[:, 2])  # one-signed columns too
    x[:, 3] = -np.abs(x[:, 3])
    x[0, 7] = 50.0  # (1 + 50)^300 overflows: inf, as the masked form gives
    x[1, :] = -0.0  # the masked form keeps its sign (log1p(-0.0) is -0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        masked = np.column_stack([power._yj(x[:, j], float(lam)) for j, lam in enumerate(lambdas)])
    got = power.transform(x, lambdas)
    assert np.isinf(got[0, 7]) and np.array_equal(got, masked)
    assert np.array_equal(np.signbit(got), np.signbit(masked)) and np.signbit(got[1, 2])  # -0.0 stays -0.0
    small = x.astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        masked = np.column_stack([power._yj(small[:, j].astype(np.float64), float(lam)) for j, lam in enumerate(lambdas)])
    assert np.array_equal(power.transform(small, lambdas), masked) and small.dtype == np.float32  # input untouched


def test_a_columns_likelihood_is_log_likelihood_bit_for_bit():
    """The fit evaluates λ on a column with its λ-free parts computed once (power._Column); each
    value equals log_likelihood's (the reference formula) exactly, for columns of one sign and of
    both, at the log forms and where the transform overflows."""
    rng = np.random.default_rng(6)
    columns = [rng.normal(loc=1.0, scale=3.0, size=400), np.abs(rng.normal(size=400)) * 1e-3,
               -np.abs(rng.normal(size=400))]
    for x in columns:
        col = power._Column(x)
        for lam in (0.3, 0.0, 2.0, 1.7, -4.0, 1e-13, 400.0, -400.0):
            assert col.llf(lam) == power.log_likelihood(x, lam), (lam, x[:3])


def test_the_scan_of_a_mixed_column_is_llf_at_each_lambda_bit_for_bit():
    """A column of both signs is scanned ``block`` λ at a time as one array (power._scan_mixed):
    every value is ``_Column.llf``'s, including the log forms (λ = 0, 2), λ within 1e-12 of them,
    overflowing λ, a partial last block and columns of ties."""
    rng = np.random.default_rng(11)
    lams = np.concatenate([np.sinh(np.linspace(np.arcsinh(-1000.0), np.arcsinh(1000.0), 241)),
                           [0.0, 2.0, 1e-13, 2.0 + 1e-13, 1.0, -5.0, 700.0]])
    columns = [rng.normal(loc=0.5, scale=3.0, size=900), np.round(rng.normal(size=500), 1),
               rng.standard_normal(5000) * 1e3 - 2e2, np.array([-1.0, 2.0])]
    for x in columns:
        col = power._Column(x)
        want = np.array([col.llf(float(lam)) for lam in lams])
        for block in (16, 7):
            got = power._scan_mixed(col, lams, block)
            assert got.tobytes() == want.tobytes(), (block, np.flatnonzero(got != want)[:5])
