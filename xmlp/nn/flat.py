"""``Flat``: a network's parameters and gradients as views of two 1-D buffers (the fast paths'
layout: plain SGD updates every parameter with one kernel call per operation)."""

from __future__ import annotations

import math
from typing import Any, Sequence

from .._types import Array


class Flat:
    """A network's parameters and gradients as views of two 1-D buffers (with fast paths), so
    that an optimizer without state (plain SGD) updates all of them with one kernel call per
    operation instead of one per parameter: the same element-wise operations, equal results."""

    def __init__(self, xp: Any, layers: Sequence[Any]):
        first = next(iter(layers[0].params.values()))
        total = sum(math.prod(p.shape) for layer in layers for p in layer.params.values())
        self.params = xp.empty((total,), dtype=first.dtype, device=first.device)
        self.grads = xp.empty((total,), dtype=first.dtype, device=first.device)
        self.views: list[tuple[Any, str, Array, Array]] = []
        self._slots: Any = None
        at = 0
        for layer in layers:
            views = {}
            for key, p in layer.params.items():
                n = math.prod(p.shape)
                views[key] = (xp.reshape(self.params[at : at + n], p.shape), xp.reshape(self.grads[at : at + n], p.shape))
                views[key][0][...] = p
                at += n
            layer.adopt_flat(self, views)
            self.views += [(layer, key, pv, gv) for key, (pv, gv) in views.items()]

    def holds(self, slots: Sequence[tuple[Any, str, Any, float]]) -> bool:
        """Whether ``slots`` are exactly this layout's parameters with one decay for all (checked
        once per list of slots), and the parameters and gradients are still its views (a
        data-parallel sync replaces the gradients; checked every step)."""
        if slots is not self._slots:
            if not (len(slots) == len(self.views) and len({s[3] for s in slots}) == 1 and all(
                    s[0] is layer and s[1] == key for s, (layer, key, _, _) in zip(slots, self.views))):
                return False
            self._slots = slots
        for layer, key, p, g in self.views:
            if layer.params[key] is not p or layer.grads[key] is not g:
                return False
        return True
