"""Counting the array operations of a training step: a NumPy array subclass whose every ufunc
call (``+``, ``*=``, ``@``, reductions, ``out=`` kernels), array function (``np.take``, ...)
and fancy-index gather counts one, and a namespace wrapper whose every call counts one, with
the operations inside a counted call not counted again. Slicing views and ``.T`` are not
operations. Runs slowly (the subclass dispatch): count with it, time without it."""

from __future__ import annotations

import types
from typing import Any

import numpy as np


class Counted(np.ndarray):
    calls = 0
    depth = 0

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kw):
        return _count(lambda: getattr(ufunc, method)(*_plain(inputs), **kw, **({"out": _plain(out)} if out else {})),
                      out)

    def __array_function__(self, func, types_, args, kwargs):
        out = kwargs.get("out")
        kwargs = {k: _unwrap(v) for k, v in kwargs.items()}
        return _count(lambda: func(*_plain(args), **kwargs), (out,) if out is not None else None)

    def take(self, *args, **kwargs):  # the method does not dispatch to __array_function__
        return self.__array_function__(np.take, (Counted,), (self, *args), kwargs)

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) or (isinstance(key, tuple) and any(isinstance(k, np.ndarray) for k in key)):
            return _count(lambda: self.view(np.ndarray)[_plain((key,))[0]], None)
        return super().__getitem__(key)


def _plain(items):
    if items is None:
        return None
    return tuple(_unwrap(i) for i in items)


def _unwrap(item: Any) -> Any:
    if isinstance(item, Counted):
        return item.view(np.ndarray)
    if isinstance(item, (list, tuple)):
        return type(item)(_unwrap(i) for i in item)
    return item


def _count(run, out):
    if Counted.depth == 0:
        Counted.calls += 1
    Counted.depth += 1
    try:
        res = run()
    finally:
        Counted.depth -= 1
    if out is not None:
        return out[0] if len(out) == 1 else out
    return _wrap(res)


def _wrap(res: Any) -> Any:
    if isinstance(res, np.ndarray) and not isinstance(res, Counted):
        return res.view(Counted)
    if isinstance(res, tuple):
        return tuple(_wrap(r) for r in res)
    return res


def namespace(xp: Any) -> Any:
    """``xp`` with every function counted and every array it returns a ``Counted``."""
    def wrap(fn):
        def counted(*args, **kwargs):
            return _count(lambda: fn(*args, **kwargs), None)
        return counted
    # ufuncs stay as they are (their calls on a Counted are counted; ``np.add.reduce`` works).
    return types.SimpleNamespace(**{k: wrap(v) if callable(v) and not isinstance(v, (type, np.ufunc)) else v
                                    for k, v in vars(xp).items()})
