"""The optimizers' step over every parameter: weight decay, then the optimizer's update, through
the backend's fused kernels where it has them (``Backend.kernels``: NumPy's, in place into
scratch buffers, no allocation), else each optimizer's generic ``_update`` — the reference,
whose operations the kernels repeat one by one (equal results, ``tests/test_fastpaths.py``).

Compute only: the Array API of the parameters' backend, and the backend's kernels object.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .._types import Array


def apply(opt: Any) -> None:
    """Update every (layer, key, state, decay) slot of ``opt`` from its layer's gradient (the
    optimizer has counted this step in ``opt.iterations``)."""
    slots, lr = opt.slots, opt.learning_rate
    kernels = getattr(slots[0][0], "kernels", None) if slots else None
    if kernels is None or opt.name not in _FUSED or type(opt).__module__ != _OPTIMIZERS:
        update = opt._update
        for layer, key, state, wd in slots:
            p, g = layer.params[key], layer.grads[key]
            if wd:
                if opt.decoupled:
                    p -= (lr * wd) * p
                else:
                    g = g + wd * p
            update(p, g, state)
        return
    if opt.name == "sgd" and not opt.momentum:  # no state: one update of the flat buffers
        flat = slots[0][0].flat
        if flat is not None and flat.holds(slots):
            s0, s1, s2 = _scratch(opt, flat)[0]
            g, wd = flat.grads, slots[0][3]
            if wd:
                g = kernels.decay(flat.params, g, lr, wd, opt.decoupled, s0)
            kernels.sgd(flat.params, g, lr, s1, s2)
            return
    fused = _FUSED[opt.name]
    for (layer, key, state, wd), (s0, s1, s2) in zip(slots, _scratch(opt)):
        p, g = layer.params[key], layer.grads[key]
        if wd:
            g = kernels.decay(p, g, lr, wd, opt.decoupled, s0)
        fused(kernels, opt, p, g, state, s1, s2)


def _scratch(opt: Any, flat: Any = None) -> list[tuple[Array, Array, Array]]:
    """Three scratch buffers per parameter (or for the flat layout), made at the first fused
    step after ``build``."""
    made = opt.__dict__.get("_scratch")
    if made is not None and made[0] is opt.slots and made[1] is flat:
        return made[2]  # type: ignore[no-any-return]
    xp = opt.xp
    arrays = [flat.params] if flat is not None else [layer.params[key] for layer, key, _, _ in opt.slots]
    out = [tuple(xp.empty(p.shape, dtype=p.dtype, device=p.device) for _ in range(3)) for p in arrays]
    opt.__dict__["_scratch"] = (opt.slots, flat, out)
    return out


def _sgd(k: Any, opt: Any, p: Array, g: Array, state: tuple[Array, ...], t1: Array, t2: Array) -> None:
    if not opt.momentum:
        k.sgd(p, g, opt.learning_rate, t1, t2)
    else:
        k.momentum(p, g, state[0], opt.learning_rate, opt.momentum, opt.dampening, opt.nesterov,
                   opt.iterations == 1, t1, t2)


def _rmsprop(k: Any, opt: Any, p: Array, g: Array, state: tuple[Array, ...], t1: Array, t2: Array) -> None:
    k.rmsprop(p, g, state[0], opt.learning_rate, opt.rho, opt.eps, t1, t2)


def _adam(k: Any, opt: Any, p: Array, g: Array, state: tuple[Array, ...], t1: Array, t2: Array) -> None:
    b1, b2, t = opt.beta1, opt.beta2, opt.iterations
    k.adam(p, g, state[0], state[1], opt.learning_rate / (1.0 - b1**t), b1, b2, opt.eps,
           math.sqrt(1.0 - b2**t), t1, t2)


# The optimizers of xmlp/optimizers.py whose update the kernels repeat (a subclass elsewhere,
# which may change ``_update``, runs its own).
_FUSED: dict[str, Callable[..., None]] = {"sgd": _sgd, "rmsprop": _rmsprop, "adam": _adam}
_OPTIMIZERS = __package__ + ".optimizers"
