"""Element-wise activations.

``forward(xp, z)`` is inference. ``forward_train(xp, z)`` returns ``(a, cache)``, where cache is
what ``backward(xp, grad, cache)`` needs: the output ``a`` itself for most (the output of layer
i is the input cached by layer i+1, so nothing is stored twice), ReLU's 0/1 mask, the input z
(softplus) or z with a shared intermediate (GELU's tanh, SiLU's sigmoid).
An activation with parameters (LeakyReLU's and ELU's ``alpha``) returns them from ``params()``
and is rebuilt from them by ``from_config``; the model file stores exactly that.
"""

from __future__ import annotations

import math
from typing import Any

from .._registry import Registry
from .._types import Array, Namespace
from .losses import log_softmax


class ActivationFunction:
    """An element-wise (or, for softmax, row-wise) function with its derivative."""

    name: str = ""

    def forward(self, xp: Namespace, z: Array) -> Array:
        raise NotImplementedError

    def forward_train(self, xp: Namespace, z: Array) -> tuple[Array, Array]:
        """(output, what backward needs); by default the output."""
        a = self.forward(xp, z)
        return a, a

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        """dL/dz from dL/da and the cache of forward_train (by default the output a)."""
        raise NotImplementedError

    def params(self) -> dict[str, Any]:
        """The activation's parameters as JSON values (none for most)."""
        return {}


class Linear(ActivationFunction):
    name = "linear"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return z

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return grad


class ReLU(ActivationFunction):
    """max(z, 0). Training caches the 0/1 mask [z > 0] so that backward is one multiply; on
    NumPy a multiply by a mask is also ~6x faster than where() on large arrays."""

    name = "relu"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.maximum(z, 0.0)

    def forward_train(self, xp: Namespace, z: Array) -> tuple[Array, Array]:
        mask = xp.astype(z > 0.0, z.dtype)
        return z * mask, mask

    def backward(self, xp: Namespace, grad: Array, mask: Array) -> Array:
        return grad * mask


class LeakyReLU(ActivationFunction):
    """max(z, alpha*z); for alpha > 0 the sign of the output is the sign of z."""

    name = "leakyRelu"

    def __init__(self, alpha: float = 0.01):
        ok = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(alpha)
        if not (ok and 0.0 < alpha < 1.0):
            raise ValueError(f"expected LeakyReLU alpha in (0, 1); received {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.where(z > 0.0, z, self.alpha * z)

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return xp.where(a > 0.0, grad, self.alpha * grad)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Sigmoid(ActivationFunction):
    """1 / (1 + exp(-z)), computed from exp(-|z|) so that no exp overflows."""

    name = "sigmoid"

    def forward(self, xp: Namespace, z: Array) -> Array:
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return grad * a * (1.0 - a)


class Tanh(ActivationFunction):
    name = "tanh"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.tanh(z)

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return grad * (1.0 - a * a)


class Softmax(ActivationFunction):
    """Row-wise softmax, exp(log_softmax(z)): no overflow for any finite z."""

    name = "softmax"

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.exp(log_softmax(xp, z))

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return a * (grad - xp.sum(grad * a, axis=1, keepdims=True))


class GELU(ActivationFunction):
    """GELU in its tanh approximation (``torch.nn.functional.gelu(approximate="tanh")``, Keras's
    ``gelu(approximate=True)``): 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))). The exact GELU
    needs erf, which the Array API does not have; the two differ by < 5e-4 everywhere."""

    name = "gelu"
    _C = math.sqrt(2.0 / math.pi)

    def forward(self, xp: Namespace, z: Array) -> Array:
        return 0.5 * z * (1.0 + xp.tanh(self._C * (z + 0.044715 * (z * z * z))))

    def forward_train(self, xp: Namespace, z: Array) -> tuple[Array, Array]:
        t = xp.tanh(self._C * (z + 0.044715 * (z * z * z)))
        return 0.5 * z * (1.0 + t), (z, t)

    def backward(self, xp: Namespace, grad: Array, cache: Any) -> Array:
        z, t = cache
        inner = self._C * (1.0 + 3.0 * 0.044715 * (z * z))
        return grad * (0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * inner)


class SiLU(ActivationFunction):
    """SiLU (swish): z * sigmoid(z); its derivative s (1 + z (1 - s))."""

    name = "silu"
    _sigmoid = staticmethod(lambda xp, z: Sigmoid().forward(xp, z))

    def forward(self, xp: Namespace, z: Array) -> Array:
        return z * self._sigmoid(xp, z)

    def forward_train(self, xp: Namespace, z: Array) -> tuple[Array, Array]:
        s = self._sigmoid(xp, z)
        return z * s, (z, s)

    def backward(self, xp: Namespace, grad: Array, cache: Any) -> Array:
        z, s = cache
        return grad * (s * (1.0 + z * (1.0 - s)))


class ELU(ActivationFunction):
    """z for z > 0, alpha (exp(z) - 1) otherwise (``expm1``: exact near 0); alpha > 0, so the
    output's sign is z's and backward needs only the output: 1 where a > 0, a + alpha elsewhere."""

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        ok = isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and math.isfinite(alpha)
        if not (ok and alpha > 0.0):
            raise ValueError(f"expected ELU alpha > 0; received {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.where(z > 0.0, z, self.alpha * xp.expm1(xp.minimum(z, 0.0)))

    def backward(self, xp: Namespace, grad: Array, a: Array) -> Array:
        return xp.where(a > 0.0, grad, grad * (a + self.alpha))

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class Softplus(ActivationFunction):
    """log(1 + exp(z)), as ``torch.nn.functional.softplus`` (beta 1, threshold 20): z itself above
    20 (where they differ by < 2.1e-9); log1p(exp(z)) below, exact for very negative z."""

    name = "softplus"
    THRESHOLD = 20.0

    def forward(self, xp: Namespace, z: Array) -> Array:
        return xp.where(z > self.THRESHOLD, z, xp.log1p(xp.exp(xp.minimum(z, self.THRESHOLD))))

    def forward_train(self, xp: Namespace, z: Array) -> tuple[Array, Array]:
        return self.forward(xp, z), z

    def backward(self, xp: Namespace, grad: Array, z: Array) -> Array:
        return xp.where(z > self.THRESHOLD, grad, grad * Sigmoid().forward(xp, z))


ACTIVATIONS: Registry[type[ActivationFunction]] = Registry("an activation")
for _cls, _aliases in ((Linear, ("identity", "none")), (ReLU, ()), (LeakyReLU, ()), (Sigmoid, ()),
                       (Tanh, ()), (Softmax, ()), (GELU, ()), (SiLU, ("swish",)), (ELU, ()), (Softplus, ())):
    ACTIVATIONS.register(_cls.name, _cls, aliases=_aliases)


def get(name: str | ActivationFunction | None) -> ActivationFunction:
    """An activation from its name (``None`` is linear) or an instance (returned as is)."""
    if isinstance(name, ActivationFunction):
        return name
    return ACTIVATIONS.get("linear" if name is None else name)()


def from_config(name: object, params: dict[str, Any]) -> ActivationFunction:
    """The activation ``name`` with its ``params()`` (as stored in a model file), checked."""
    cls = ACTIVATIONS.get(name)
    try:
        return cls(**params)
    except TypeError:
        raise ValueError(f"expected parameters of {cls.name} among {list(cls().params()) or 'none'}; "
                         f"received {sorted(params)}") from None
