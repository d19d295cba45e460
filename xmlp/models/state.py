"""What continuing a training needs beyond the weights, and its form in a model file.

Per ensemble member: the optimizer (its per-parameter slots — momentum buffer, RMSprop's or
Adam's averages — and its step count) and the two host generators of the fit (epoch
permutations, input noise); for the model: the seed and the epochs run. With all of it, a
training continued from a file is bitwise the training that never stopped.

File form (``saving`` puts it in the model file; ``io.model_file`` validates it): the tensors
``optimizer.layers.{i}.{weight|bias}.{j}`` (member 0; ``members.{k}.optimizer.…`` for k ≥ 1), slot
j of the parameter in the order the optimizer makes them, in the model's dtype; and the JSON
document ``resume`` = {epochs, seed, optimizer (its config), slots (arrays per parameter),
members: [{iterations, shuffle, noise}]} where shuffle and noise are NumPy bit-generator states.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from ..optim import optimizers
from .seeding import generator_from_state, generator_state


class TrainingState:
    """Per member k: ``optimizers[k]`` (built on member k's layers), ``shuffle[k]``, ``noise[k]``;
    ``epochs`` run so far and the fit's ``seed``. Pickles in its file form (host arrays and
    JSON), re-attached to the model's layers when training continues (``attach``)."""

    def __init__(self, members: Sequence[Any], opts: Sequence[optimizers.Optimizer],
                 shuffle: Sequence[np.random.Generator], noise: Sequence[np.random.Generator], epochs: int,
                 seed: int | None):
        self.members = list(members)  # the networks the optimizers update
        self.optimizers, self.shuffle, self.noise = list(opts), list(shuffle), list(noise)
        self.epochs, self.seed = epochs, seed
        self._pending: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None

    @property
    def optimizer_config(self) -> dict[str, Any]:
        return self._pending[0]["optimizer"] if self._pending else self.optimizers[0].config()

    def file_data(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(the ``resume`` document, the optimizer tensors)."""
        if self._pending is not None:
            return self._pending
        tensors: dict[str, np.ndarray] = {}
        entries, slots = [], 0
        for k, (net, opt) in enumerate(zip(self.members, self.optimizers)):
            prefix = f"members.{k}." if k else ""
            index = {id(layer): i for i, layer in enumerate(net.layers)}
            for layer, key, state, _ in opt.slots:
                slots = len(state)
                for j, array in enumerate(state):
                    tensors[f"{prefix}optimizer.layers.{index[id(layer)]}.{key}.{j}"] = net.backend.to_numpy(array)
            entries.append({"iterations": opt.iterations, "shuffle": generator_state(self.shuffle[k]),
                            "noise": generator_state(self.noise[k])})
        doc = {"epochs": self.epochs, "seed": self.seed, "optimizer": self.optimizers[0].config(), "slots": slots,
               "members": entries}
        return doc, tensors

    @classmethod
    def from_file_data(cls, doc: dict[str, Any], tensors: dict[str, np.ndarray], members: Sequence[Any]) -> "TrainingState":
        """The state of a file, attached to ``members``; ValueError where it does not fit them."""
        state = cls([], [], [], [], 0, None)
        state._pending = (doc, {k: v for k, v in tensors.items() if ".optimizer." in f".{k}"})
        state.attach(members)
        return state

    def attach(self, members: Sequence[Any]) -> None:
        """Make the optimizers and generators of a file form (a loaded or unpickled state), on
        the layers of ``members``; nothing to do for a live state."""
        if self._pending is None:
            return
        self.members = list(members)
        doc, tensors = self._pending
        config = dict(doc["optimizer"])
        template = optimizers.get(config.pop("name"), **config)
        opts, shuffle, noise = [], [], []
        for k, (net, entry) in enumerate(zip(members, doc["members"])):
            prefix = f"members.{k}." if k else ""
            opt = copy.copy(template)
            with net.backend.activate():
                opt.build(net.xp, net.layers)
                slots = []
                for i, layer in enumerate(net.layers):
                    for key in layer.params:
                        old = next(s for s in opt.slots if s[0] is layer and s[1] == key)
                        if len(old[2]) != doc["slots"]:
                            raise ValueError(f"expected {len(old[2])} optimizer slots per parameter for "
                                             f"{template.name}; received {doc['slots']}")
                        arrays = tuple(net.backend.asarray(tensors[f"{prefix}optimizer.layers.{i}.{key}.{j}"], net.dtype)
                                       for j in range(len(old[2])))
                        slots.append((layer, key, arrays, old[3]))
            opt.slots, opt.iterations = slots, int(entry["iterations"])
            opts.append(opt)
            shuffle.append(generator_from_state(entry["shuffle"]))
            noise.append(generator_from_state(entry["noise"]))
        self.optimizers, self.shuffle, self.noise = opts, shuffle, noise
        self.epochs, self.seed = int(doc["epochs"]), doc.get("seed")
        self._pending = None

    def __getstate__(self) -> dict[str, Any]:
        """In-memory pickling: the file form (the optimizers' slots refer to layers that the
        network pickles as descriptions; ``attach`` links them to the unpickled ones)."""
        return {"file_data": self.file_data()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        doc = state["file_data"][0]
        TrainingState.__init__(self, [], [], [], [], int(doc["epochs"]), doc.get("seed"))
        self._pending = state["file_data"]
