"""NumPy's fast paths: the optional primitives of the backend contract (``Backend.kernels``).

Each primitive writes into buffers its caller owns (a layer's, the network's or the optimizer's
workspace, made once per batch size), so that a training step on NumPy allocates no array
after the first. Every one performs the same IEEE operations, in the same order, as the
generic Array API code it replaces (``xmlp/layers.py``, ``xmlp/nn/activations.py``, ``xmlp/nn/losses.py``,
``xmlp/optim/step.py``): results are bitwise equal, which ``tests/test_fastpaths.py`` checks. The
kernels hold no state, so one backend can serve several models and threads at once.

A primitive the core asks for by name (``bias_activation``, ``activation_backward``) returns
None for an activation it does not cover; the core then runs the generic code.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

_add_reduce: Any = np.add.reduce
_max_reduce: Any = np.maximum.reduce


def _relu(z: Any, b: Any, mask: Any) -> tuple[Any, Any]:
    z += b
    # The 0/1 mask in z's dtype, as astype(z > 0, dtype). NumPy casts greater's bool result
    # through its iteration buffer (scratch of up to np.getbufsize() elements, not an array);
    # heaviside() would avoid the cast but has no SIMD loop: 12x slower at 128 x 256.
    np.greater(z, 0.0, out=mask)
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
    """The primitives, each writing into ``out`` and returning it (``docs/architecture.md``)."""

    name = "numpy"

    # NumPy's own callables where one does the job: no Python frame between the core and C
    # (at batch 8 a step is ~35 such calls, and a frame costs as much as a small ufunc's work).
    matmul: Callable[..., Any] = staticmethod(np.matmul)  # matmul(a, b, out=buffer)
    # dot(a, b, out=buffer): the same GEMM call as matmul (equal results) with less dispatch
    # (~0.4 us a call) — only for 2-D operands that are C- or F-contiguous (else NumPy copies
    # them) with every dimension > 1 (else it takes a GEMV path) and not one array and its
    # transpose (SYRK); the core uses it on its own buffers only.
    dot: Callable[..., Any] = staticmethod(np.dot)
    column_sums: Callable[..., Any] = staticmethod(functools.partial(_add_reduce, axis=0))  # (g, out=buffer)
    # an ensemble stack's bias gradients: (K, B, n) -> (K, 1, n), each member's column sums
    member_sums: Callable[..., Any] = staticmethod(functools.partial(_add_reduce, axis=1, keepdims=True))

    @staticmethod
    def take_rows(data: Any, idx: Any, out: Any) -> Any:
        # mode="clip": with mode="raise" NumPy buffers an out= take (an allocation). The indices
        # are a permutation of the rows, so clipping never changes one.
        if not data.flags.c_contiguous:  # take would first copy all of data (10^6 x 30: 69 ms a batch)
            out[...] = data[idx]
            return out
        return data.take(idx, 0, out, "clip")

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
    def softmax_cross_entropy(z: Any, y: Any, scale: float, s: Any, e: Any, r: Any, lse: Any,
                              total: Any) -> tuple[Any, Any]:
        """losses.SoftmaxCrossEntropy.forward_backward into buffers: (summed loss, dL/dz), with
        s and e shaped like z, r and lse (..., rows, 1), total 0-d; dL/dz is written into e.
        z may carry a leading member axis (a stack's (K, B, outputs): no reshape per step)."""
        _max_reduce(z, axis=-1, keepdims=True, out=r)
        np.subtract(z, r, out=s)
        np.exp(s, out=e)
        _add_reduce(e, axis=-1, keepdims=True, out=r)
        np.log(r, out=lse)
        np.subtract(lse, s, out=s)
        np.multiply(y, s, out=s)
        _add_reduce(s, axis=None, out=total)
        np.divide(e, r, out=e)
        np.subtract(e, y, out=e)
        np.multiply(e, scale, out=e)
        return total, e

    # ----------------------------------------------------------------- optimizers
    # As xmlp/optim/step.py's generic code, operation by operation; ``t1``, ``t2``: scratch buffers
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
