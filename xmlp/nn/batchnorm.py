"""``BatchNorm(momentum=0.1, eps=1e-5)``: batch normalisation over the rows (PyTorch's
``nn.BatchNorm1d`` on (rows, features); Keras's ``BatchNormalization`` with its momentum as
1 - ours).

Training: each feature is normalised by the batch's mean and biased variance, then scaled and
shifted by the learnable ``weight`` (gamma, ones) and ``bias`` (beta, zeros); the running
statistics move towards the batch's, with the unbiased variance, as PyTorch's:
running = (1 - momentum) * running + momentum * batch. Inference (``predict``, ``evaluate``,
validation) normalises by the running statistics.

Data parallelism (several processes, each computing a slice of a global batch): the statistics
are those of the global batch, so W processes train as one. The batch's sums are taken around a
shift every process knows (the running mean), Σ(x − c) and Σ(x − c)², and summed over the
processes in one all-reduce (``reduce``, set by the trainer; one process: nothing), as are the
two sums the input gradient needs in backward — PyTorch's SyncBatchNorm does the same. One
process computes exactly this too, so the code path is one.
"""

from __future__ import annotations

from typing import Any

from .._types import Array
from .initializers import ones, zeros
from .layer import Layer, check_number, short


class BatchNorm(Layer):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per feature (column)."""

    kind = "BatchNorm"

    def __init__(self, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.momentum = check_number("a BatchNorm momentum", momentum, 0.0, 1.0, high_open=False)
        self.eps = check_number("a BatchNorm eps", eps, 0.0, low_open=True)
        self.rows: int | None = None  # the global batch's rows (set by the network for each step)
        self._cache: Any = None

    def tensor_shapes(self, n_in: int) -> dict[str, tuple[int, ...]]:
        return {"weight": (n_in,), "bias": (n_in,), "running_mean": (n_in,), "running_var": (n_in,)}

    def trainable(self) -> tuple[str, ...]:
        return ("weight", "bias")

    def init_host(self, n_in: int, rng: Any) -> dict[str, Any]:
        return {"weight": ones(None, (n_in,)), "bias": zeros(None, (n_in,)), "running_mean": zeros(None, (n_in,)),
                "running_var": ones(None, (n_in,))}

    def forward(self, x: Array, *, training: bool = False, raw: bool = False) -> Array:
        xp, p, b = self.xp, self.params, self.buffers
        if not training:
            return (x - b["running_mean"]) / xp.sqrt(b["running_var"] + self.eps) * p["weight"] + p["bias"]
        n, c = self.rows or x.shape[0], b["running_mean"]
        if n < 2:
            raise ValueError(f"expected batches of at least 2 rows to train BatchNorm; received a batch of {n} "
                             "(PyTorch refuses it too; hint: another batch size, so that no batch holds one row)")
        d = x - c
        sums = self.reduce(xp.concat([xp.sum(d, axis=0), xp.sum(d * d, axis=0)]))
        m = x.shape[1]
        shift, square = sums[:m] / n, sums[m:] / n
        mean, var = c + shift, square - shift * shift
        invstd = 1.0 / xp.sqrt(var + self.eps)
        xhat = (x - mean) * invstd
        self._cache = (xhat, invstd, n)
        k = self.momentum
        b["running_mean"][...] = (1.0 - k) * c + k * mean
        b["running_var"][...] = (1.0 - k) * b["running_var"] + k * (var * (n / (n - 1)))
        return xhat * p["weight"] + p["bias"]

    def backward(self, grad: Array, *, input_grad: bool = True) -> Array | None:
        if self._cache is None:
            raise RuntimeError("BatchNorm.backward called before a training forward")
        xp = self.xp
        xhat, invstd, n = self._cache
        self._cache = None
        gx = grad * xhat
        self.store_grads(weight=xp.sum(gx, axis=0), bias=xp.sum(grad, axis=0))
        if not input_grad:
            return None
        g = self.params["weight"]
        # dL/dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = grad * weight,
        # with both means over the global batch: the sums of grad and grad * xhat, reduced.
        m = xhat.shape[1]
        sums = self.reduce(xp.concat([self.grads["bias"], self.grads["weight"]]))
        mean_g, mean_gx = sums[:m] / n, sums[m:] / n
        return (grad - mean_g - xhat * mean_gx) * (g * invstd)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, "momentum": self.momentum, "eps": self.eps}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BatchNorm":
        extra = sorted(set(config) - {"kind", "momentum", "eps"})
        if extra:
            raise ValueError(f"expected a BatchNorm description with momentum and eps; received {short(extra)}")
        return cls(config.get("momentum", 0.1), config.get("eps", 1e-5))

    def describe(self) -> str:
        return f"momentum {self.momentum:g}"
