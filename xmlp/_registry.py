"""One lookup rule for every named thing a user can choose: activations, losses, optimizers,
initializers and metrics.

A name matches when it equals an entry's canonical name or alias after lower-casing and removing
``_`` and ``-`` (so ``leaky_relu``, ``LeakyReLU`` and ``leakyRelu`` are one name); anything else
is a ``ValueError`` that lists the canonical names.
"""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

T = TypeVar("T")


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


class Registry(Generic[T]):
    """Canonical names -> entries, in registration order (the order the choices are listed)."""

    def __init__(self, kind: str):
        self.kind = kind  # "an activation": used in the error message
        self._entries: dict[str, T] = {}
        self._lookup: dict[str, str] = {}

    def register(self, name: str, entry: T, *, aliases: tuple[str, ...] = ()) -> T:
        for key in (name, *aliases):
            if _key(key) in self._lookup:
                raise ValueError(f"expected a new {self.kind} name; received {key!r} twice")
            self._lookup[_key(key)] = name
        self._entries[name] = entry
        return entry

    def canonical(self, name: object) -> str:
        """The canonical spelling of ``name``, or a ValueError listing the choices."""
        found = self._lookup.get(_key(name)) if isinstance(name, str) else None
        if found is None:
            raise ValueError(f"expected {self.kind} among {', '.join(self._entries)}; received {name!r}")
        return found

    def get(self, name: object) -> T:
        return self._entries[self.canonical(name)]

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._lookup

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return list(self._entries.items())
