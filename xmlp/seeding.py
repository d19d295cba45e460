"""The random streams of a fit, drawn on the host so that every backend sees the same numbers:
one ``numpy.random.SeedSequence`` per run, one child stream per role (initial weights, epoch
permutations, input noise) and per ensemble member."""

from __future__ import annotations

import numpy as np


Streams = tuple[np.random.Generator, np.random.Generator, np.random.Generator]


def seed_streams(seed: int | None, members: int = 1) -> tuple[int, list[Streams]]:
    """(the seed used, [(weights, shuffle, noise) generators] per ensemble member): one child
    stream per role of ``numpy.random.SeedSequence(seed)`` for the first member (of
    ``SeedSequence([seed, k])`` for member k), drawn on the host so every backend sees the same
    numbers. With no seed, fresh OS entropy is drawn and returned, so every run can be replayed."""
    ss = np.random.SeedSequence(seed)
    entropy = int(ss.entropy)  # type: ignore[arg-type]  # an int: the seed given, or drawn from the OS
    roots = [ss] + [np.random.SeedSequence([entropy, k]) for k in range(1, members)]
    out = []
    for root in roots:
        init, shuffle, noise = (np.random.default_rng(child) for child in root.spawn(3))
        out.append((init, shuffle, noise))
    return entropy, out
