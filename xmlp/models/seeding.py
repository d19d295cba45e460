"""The random streams of a fit, drawn on the host so that every backend sees the same numbers:
one ``numpy.random.SeedSequence`` per run, one child stream per role (initial weights, epoch
permutations, input noise, dropout masks) and per ensemble member."""

from __future__ import annotations

from typing import Any

import numpy as np

Streams = tuple[np.random.Generator, np.random.Generator, np.random.Generator, np.random.Generator]
ROLES = ("weights", "shuffle", "noise", "dropout")


def seed_streams(seed: int | None, members: int = 1) -> tuple[int, list[Streams]]:
    """(the seed used, [(weights, shuffle, noise, dropout) generators] per ensemble member): one
    child stream per role of ``numpy.random.SeedSequence(seed)`` for the first member (of
    ``SeedSequence([seed, k])`` for member k), drawn on the host so every backend sees the same
    numbers. With no seed, fresh OS entropy is drawn and returned, so every run can be replayed.
    (The dropout stream is a fourth child: the first three are what they were before it existed.)"""
    ss = np.random.SeedSequence(seed)
    entropy = int(ss.entropy)  # type: ignore[arg-type]  # an int: the seed given, or drawn from the OS
    roots = [ss] + [np.random.SeedSequence([entropy, k]) for k in range(1, members)]
    out = []
    for root in roots:
        init, shuffle, noise, dropout = (np.random.default_rng(child) for child in root.spawn(len(ROLES)))
        out.append((init, shuffle, noise, dropout))
    return entropy, out


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-able state of a generator (its bit generator's, as NumPy gives it): where a
    saved training's permutation and noise streams stand."""
    return dict(rng.bit_generator.state)


def generator_from_state(state: Any) -> np.random.Generator:
    """A generator that continues exactly where ``generator_state`` was taken; ValueError for
    anything but a valid PCG64 state (the only bit generator ``seed_streams`` makes)."""
    inner = state.get("state") if isinstance(state, dict) else None
    if not (isinstance(state, dict) and state.get("bit_generator") == "PCG64" and isinstance(inner, dict)
            and all(isinstance(inner.get(k), int) and 0 <= inner[k] < 2**128 for k in ("state", "inc"))
            and state.get("has_uint32") in (0, 1) and isinstance(state.get("uinteger"), int)
            and 0 <= state["uinteger"] < 2**32):
        raise ValueError(f"expected a PCG64 generator state; received {str(state)[:80]!r}")
    bits = np.random.PCG64()
    bits.state = state  # type: ignore[assignment]  # a dict, checked above
    return np.random.Generator(bits)
