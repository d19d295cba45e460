"""NumPy's fast paths: the optional primitives of the backend contract (``Backend.kernels``).

Each primitive writes into buffers its caller owns (a layer's, the network's or the optimizer's
workspace, made once per batch size), so that a training step on NumPy allocates no array
after the first. Every one performs the same IEEE operations, in the same order, as the
generic Array API code it replaces (``xmlp/layers.py``, ``activations.py``, ``losses.py``,
``updates.py``): results are bitwise equal, which ``tests/test_fastpaths.py`` checks. The
kernels hold no state, so one backend can serve several models and threads at once.

A primitive the core asks for by name (``bias_activation``, ``activation_backward``) returns
None for an activation it does not cover; the core then runs the generic code.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

_add_reduce: Any = np.add.reduce
_max_reduce: Any = np.maximum.reduce


def _relu(z: Any, b: Any, mask: Any) -> tuple[Any, Any]:
    z += b
    np.greater(z, 0.0, out=mask)  # the 0/1 mask in z's dtype, as astype(z > 0, dtype)
    z *= mask
    return z, mask


def _tanh(z: Any, b: Any, mask: Any) -> tuple[Any, Any]:
    z += b
    np.tanh(z, out=z)
    return z, z


def _linear(z: Any, b: Any, mask: Any) -> tuple[Any, Any]:
    z += b
    return z, z


def _relu_backward(grad: Any, mask: Any, out: Any) -> Any:
    return np.multiply(grad, mask, out=out)


def _tanh_backward(grad: Any, a: Any, out: Any) -> Any:
    np.multiply(a, a, out=out)  # grad * (1 - a * a), operation by operation
    np.subtract(1.0, out, out=out)
    return np.multiply(grad, out, out=out)


def _linear_backward(grad: Any, a: Any, out: Any) -> Any:
    return grad


_FORWARD = {"relu": _relu, "tanh": _tanh, "linear": _linear}
_BACKWARD = {"relu": _relu_backward, "tanh": _tanh_backward, "linear": _linear_backward}


class NumpyKernels:
    """The primitives, each ``name(..., out)`` → out (see ``docs/architecture.md``)."""

    name = "numpy"

    @staticmethod
    def matmul(a: Any, b: Any, out: Any) -> Any:
        return np.matmul(a, b, out=out)

    @staticmethod
    def column_sums(g: Any, out: Any) -> Any:
        return _add_reduce(g, axis=0, out=out)

    @staticmethod
    def take_rows(data: Any, idx: Any, out: Any) -> Any:
        # mode="clip": with mode="raise" NumPy buffers an out= take (an allocation). The indices
        # are a permutation of the rows, so clipping never changes one.
        return np.take(data, idx, axis=0, out=out, mode="clip")

    @staticmethod
    def bias_activation(name: str) -> Callable[[Any, Any, Any], tuple[Any, Any]] | None:
        """``f(z, b, mask) -> (a, cache)``: z += b, then the activation in place (ReLU writes its
        0/1 mask into ``mask``); None where the activation has no fast path."""
        return _FORWARD.get(name)

    @staticmethod
    def activation_backward(name: str) -> Callable[[Any, Any, Any], Any] | None:
        """``f(grad, cache, out) -> dL/dz`` into ``out`` (grad is left as it is); or None."""
        return _BACKWARD.get(name)

    @staticmethod
    def softmax_cross_entropy(z: Any, y: Any, scale: float, s: Any, t: Any, r: Any, total: Any,
                              grad: Any) -> tuple[Any, Any]:
        """losses.SoftmaxCrossEntropy.forward_backward into buffers: (summed loss, dL/dz) with
        s, t, grad shaped like z, r (rows, 1), total 0-d."""
        _max_reduce(z, axis=1, keepdims=True, out=r)
        np.subtract(z, r, out=s)
        np.exp(s, out=t)
        _add_reduce(t, axis=1, keepdims=True, out=r)
        np.log(r, out=r)
        np.subtract(s, r, out=s)  # log softmax
        np.multiply(y, s, out=t)
        _add_reduce(t, axis=None, out=total)
        np.negative(total, out=total)
        np.exp(s, out=grad)
        np.subtract(grad, y, out=grad)
        np.multiply(grad, scale, out=grad)
        return total, grad

    # ----------------------------------------------------------------- optimizers
    # As xmlp/updates.py's generic code, operation by operation; ``t1``, ``t2``: scratch buffers
    # shaped like p (the decayed gradient of ``decay`` needs a third, ``out``).
    @staticmethod
    def decay(p: Any, g: Any, lr: float, wd: float, decoupled: bool, out: Any) -> Any:
        """p -= (lr * wd) * p and g as it is (decoupled), or g + wd * p into ``out``."""
        np.multiply(p, lr * wd if decoupled else wd, out=out)
        if decoupled:
            p -= out
            return g
        return np.add(g, out, out=out)

    @staticmethod
    def sgd(p: Any, g: Any, lr: float, t1: Any, t2: Any) -> None:
        np.multiply(g, lr, out=t1)
        p -= t1

    @staticmethod
    def momentum(p: Any, g: Any, b: Any, lr: float, mu: float, dampening: float, nesterov: bool,
                 first: bool, t1: Any, t2: Any) -> None:
        if first:
            b += g
        else:
            b *= mu
            if dampening:
                b += np.multiply(g, 1.0 - dampening, out=t1)
            else:
                b += g
        if nesterov:
            np.multiply(b, mu, out=t1)
            np.add(g, t1, out=t1)
            t1 *= lr
        else:
            np.multiply(b, lr, out=t1)
        p -= t1

    @staticmethod
    def rmsprop(p: Any, g: Any, v: Any, lr: float, rho: float, eps: float, t1: Any, t2: Any) -> None:
        v *= rho
        np.multiply(g, g, out=t1)
        t1 *= 1.0 - rho
        v += t1
        np.sqrt(v, out=t1)
        t1 += eps
        np.multiply(g, lr, out=t2)
        np.divide(t2, t1, out=t2)
        p -= t2

    @staticmethod
    def adam(p: Any, g: Any, m: Any, v: Any, step: float, b1: float, b2: float, eps: float, root: float,
             t1: Any, t2: Any) -> None:
        """``step`` = lr / (1 - b1**t), ``root`` = sqrt(1 - b2**t)."""
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=t1)
        v *= b2
        np.multiply(g, g, out=t1)
        t1 *= 1.0 - b2
        v += t1
        np.sqrt(v, out=t1)
        t1 /= root
        t1 += eps
        np.multiply(m, step, out=t2)
        np.divide(t2, t1, out=t2)
        p -= t2
