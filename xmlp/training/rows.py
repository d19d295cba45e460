"""``Rows``: the rows a fit trains on (or scores), on the device, as two arrays of the model's
dtype — the features ``x`` (n, inputs) and the targets ``t`` (n, outputs; a sample weight as a
last column when the rows are weighted).

Kept apart, not as one [X | Y] array, so that features already in the model's dtype on its
device (a float32 NumPy array for a float32 NumPy model, without preprocessing) are trained on
as they are: no copy of the data is made to append the targets.
"""

from __future__ import annotations

from typing import Any

from .._types import Array


class Rows:
    """``Rows(x, t)``: features and targets of the same rows, two device arrays of one dtype;
    ``joint``: the one [X | Y] array they are column views of, where they are (a batch is then one
    take of it: a take from a column view would copy the whole array first, in NumPy)."""

    __slots__ = ("x", "t", "joint")

    def __init__(self, x: Array, t: Array, joint: Array | None = None):
        if x.shape[0] != t.shape[0]:
            raise ValueError(f"expected features and targets of as many rows; received {x.shape[0]} and {t.shape[0]}")
        self.x, self.t, self.joint = x, t, joint

    @property
    def n(self) -> int:
        """The number of rows."""
        return int(self.x.shape[0])

    def __getitem__(self, rows: slice) -> Rows:
        """The rows ``rows`` (a slice) of both arrays (views where the namespace makes views)."""
        return Rows(self.x[rows, :], self.t[rows, :], None if self.joint is None else self.joint[rows, :])

    def sources(self) -> tuple[Array, Array | None]:
        """What a batch is taken from (``Network.gather``, ``Stack.take``): (the joint array, None)
        where there is one, else (features, targets)."""
        return (self.x, self.t) if self.joint is None else (self.joint, None)

    @staticmethod
    def of(data: Any, inputs: int) -> Any:
        """``data`` as ``Rows``: Rows as they are, a [X | Y] array cut into views after its
        ``inputs`` feature columns; a feed (``xmlp.data.feeds``) as it is."""
        if isinstance(data, Rows) or hasattr(data, "epoch"):
            return data
        return Rows(data[:, :inputs], data[:, inputs:], data)
