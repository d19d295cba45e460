"""Losses on device arrays. All return 0-d arrays: nothing here reads a value back to the host.

``log_softmax`` is the one stable log-softmax of the package (the softmax activation, the bce
metric and temperature calibration use it; the fused loss writes the same arithmetic out).

Each loss has the same face: ``output_activation`` (what the last Dense layer must apply),
``task`` (``classification`` or ``regression``), ``forward_backward(xp, z, y, rows)`` → (the
*summed* loss of the batch's rows, dL/dz of the batch's *mean* loss), ``value(xp, z, y)`` (the
summed loss alone) and ``config()`` (its name and options, what a model file stores).
Regression losses (``regression.py``) average over rows *and* outputs, as PyTorch's and Keras's
default reduction ("mean").
"""

from __future__ import annotations

from typing import Any

from .._registry import Registry
from .._types import Array, Namespace
from .multilabel import SigmoidCrossEntropy
from .regression import REGRESSION_LOSSES, weight_sum

# Probabilities are clipped to [EPS, 1 - EPS] in the subject's binary cross-entropy so that a
# confident wrong prediction costs -log(1e-15) ~ 34.5 instead of infinity.
EPS = 1e-15


def log_softmax(xp: Namespace, z: Array) -> Array:
    """log softmax(z) row-wise, with the row max subtracted first: finite for any finite z."""
    s = z - xp.max(z, axis=1, keepdims=True)
    return s - xp.log(xp.sum(xp.exp(s), axis=1, keepdims=True))


class SoftmaxCrossEntropy:
    """Softmax + categorical cross-entropy on logits, fused.

    L = -(1/N) sum_i sum_k y_ik log softmax(z_i)_k; dL/dz = (softmax(z) - y) / N (the 1/N lives
    here and nowhere else; N is the batch's rows on all processes when a process holds a slice). For two classes this equals the binary cross-entropy of the subject.
    """

    output_activation = "softmax"
    task = "classification"

    def __init__(self, name: str = "categoricalCrossentropy"):
        self.name = name

    def config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __call__(self, xp: Namespace, z: Array, y: Array) -> tuple[Array, Array]:
        """(mean loss as a 0-d array, dL/dz) for logits z and one-hot targets y."""
        total, grad = self.forward_backward(xp, z, y)
        return total / z.shape[0], grad

    def forward_backward(self, xp: Namespace, z: Array, y: Array, rows: int | None = None) -> tuple[Array, Array]:
        """(summed loss as a 0-d array, dL/dz of the *mean* loss): the training loop's form,
        which accumulates the epoch's loss with one addition per batch. ``rows``: the divisor of
        the mean when z holds only part of the batch (data parallelism: the batch's rows on all
        processes); default z's own rows."""
        # log_softmax's arithmetic, written out so that exp(s) serves the loss and the gradient:
        # the sum is -sum(y * log_softmax(z)) bit for bit (lse - s is exactly -(s - lse)).
        s = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(s)
        se = xp.sum(e, axis=1, keepdims=True)
        total = xp.sum(y * (xp.log(se) - s))
        grad = (e / se - y) * (1.0 / (rows or z.shape[0]))
        return total, grad

    def weighted(self, xp: Namespace, z: Array, y: Array, w: Array, divisor: Any = None) -> tuple[Array, Array]:
        """(sum_i w_i l_i, dL/dz of the batch's weighted mean sum_i w_i l_i / sum_i w_i): rows with
        ``sample_weight`` (a batch whose weights are all 0 has a zero gradient). ``divisor``: instead
        of the batch's sum of weights (1: the gradient of the summed loss, which data parallelism
        divides by the global batch's sum after the all-reduce)."""
        s = z - xp.max(z, axis=1, keepdims=True)
        e = xp.exp(s)
        se = xp.sum(e, axis=1, keepdims=True)
        rows = xp.sum(y * (xp.log(se) - s), axis=1)
        total = weight_sum(xp, w) if divisor is None else divisor
        return xp.sum(w * rows), (e / se - y) * (w / total)[:, None]

    def buffers(self, xp: Namespace, z: Array) -> tuple[Array, ...]:
        """The buffers of the backend's fused kernel (``kernels.softmax_cross_entropy``, which
        repeats ``forward_backward``'s operations) for logits shaped like z."""
        m, k = z.shape
        shapes = ((m, k), (m, k), (m, 1), (m, 1), ())
        return tuple(xp.empty(s, dtype=z.dtype, device=z.device) for s in shapes)

    def value(self, xp: Namespace, z: Array, y: Array) -> Array:
        """Summed (not mean) loss of logits z, without the gradient (validation, evaluate)."""
        return -xp.sum(y * log_softmax(xp, z))

    def check_classes(self, n_classes: int) -> None:
        """The binary loss is the subject's name for the 2-class case: any other count is an error."""
        if self.name == "binaryCrossentropy" and n_classes != 2:
            raise ValueError(f"expected two classes for binaryCrossentropy; received {n_classes} "
                             "(hint: --loss categoricalCrossentropy)")


def clipped_nll_sum(xp: Namespace, z: Array, y: Array, eps: float = EPS) -> Array:
    """sum_i -log clip(p_i[true class], eps, 1 - eps) with p = softmax(z): for two classes,
    N times the subject's binary cross-entropy (p of the true class is p or 1 - p)."""
    pt = xp.sum(y * xp.exp(log_softmax(xp, z)), axis=1)
    eps = max(eps, float(xp.finfo(pt.dtype).eps))
    return -xp.sum(xp.log(xp.clip(pt, eps, 1.0 - eps)))


LOSSES: Registry[str] = Registry("a loss")
LOSSES.register("categoricalCrossentropy", "categoricalCrossentropy", aliases=("crossentropy",))
# On a 2-unit softmax output the subject's binary cross-entropy is the same function.
LOSSES.register("binaryCrossentropy", "binaryCrossentropy")
LOSSES.register("mse", "mse", aliases=("meanSquaredError", "squared_error"))
LOSSES.register("mae", "mae", aliases=("meanAbsoluteError", "absolute_error"))
LOSSES.register("huber", "huber")
LOSSES.register("sigmoidCrossentropy", "sigmoidCrossentropy", aliases=("binaryCrossentropyWithLogits",))
#: the losses of a regression (a linear output); the others are classification's
REGRESSION = ("mse", "mae", "huber")


def canonical(name: object) -> str:
    return LOSSES.canonical(name)


def get(spec: Any) -> Any:
    """A loss from its name (or alias), its ``config()`` dict, or a loss object (a fresh copy of it)."""
    if isinstance(spec, dict):
        options = {k: v for k, v in spec.items() if k != "name"}
        name = canonical(spec.get("name"))
    elif hasattr(spec, "forward_backward") and hasattr(spec, "config"):
        return get(spec.config())
    else:
        name, options = canonical(spec), {}
    if name == "sigmoidCrossentropy" and not options:
        return SigmoidCrossEntropy()
    if name in REGRESSION:
        try:
            return REGRESSION_LOSSES[name](**options)
        except TypeError:
            raise ValueError(f"expected the options of {name} (huber: delta); received {sorted(options)}") from None
    if options:
        raise ValueError(f"expected no options for {name}; received {sorted(options)}")
    return SoftmaxCrossEntropy(name)


def for_task(task: str | None, loss: Any) -> Any:
    """The loss of a model asked for with ``task`` (None: the loss decides) and ``loss`` (None:
    the task's default, "mse" or "categoricalCrossentropy"), checked to agree."""
    if task not in (None, "classification", "regression", "multilabel"):
        raise ValueError(f"expected task 'classification', 'regression' or 'multilabel'; received {task!r}")
    default = {"regression": "mse", "multilabel": "sigmoidCrossentropy"}.get(task or "", "categoricalCrossentropy")
    chosen = get(loss if loss is not None else default)
    if task is not None and chosen.task != task:
        raise ValueError(f"expected a {task} loss for task={task!r}; received {chosen.name} (a {chosen.task} loss)")
    return chosen
