"""Central finite differences in float64 on the host, for comparison with analytic gradients."""

from __future__ import annotations

from typing import Callable

import numpy as np

# Central differences have truncation error O(h^2 * f''') ~ 1e-12 and rounding error
# ~ eps * |f| / h ~ 1e-10 for h = 1e-6 and |f| ~ 1: analytic and numeric gradients of a correct
# backward agree to ~1e-8 relative; a wrong one (a missing term, a transposed matrix, a 1/N
# too many) is off by 1e-2 or more. rtol 1e-6 / atol 1e-8 sits well between the two.
H = 1e-6
RTOL = 1e-6
ATOL = 1e-8


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """d f / d x by central differences; f takes a float64 host array of x's shape."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + H
        up = f(x)
        x[i] = old - H
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def assert_grad_close(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL, err_msg=what)
