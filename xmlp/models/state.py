"""What continuing a training needs beyond the weights, and its form in a model file.

Per ensemble member: the optimizer (its per-parameter slots — momentum buffer, RMSprop's or
Adam's averages — and its step count), the host generators of the fit (epoch permutations,
input noise, dropout masks) and where its learning-rate schedule stands; for the model: the seed,
the epochs run and the schedule's description. With all of it, a
training continued from a file is bitwise the training that never stopped.

File form (``saving`` puts it in the model file; ``io.model_file`` validates it): the tensors
``optimizer.layers.{i}.{name}.{j}`` (member 0; ``members.{k}.optimizer.…`` for k ≥ 1), slot
j of the parameter in the order the optimizer makes them, in the model's dtype; and the JSON
document ``resume`` = {epochs, seed, optimizer (its config), slots (arrays per parameter),
[lr_schedule (its config)], members: [{iterations, shuffle, noise, [dropout], [lr_schedule]}]} where
shuffle, noise and dropout are NumPy bit-generator states (a file without ``dropout`` — older
xmlp, whose networks had no Dropout — gets the stream a fresh fit of its seed starts with) and a
member's ``lr_schedule`` is its schedule's state.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from ..optim import optimizers
from ..optim import schedules as schedules_mod
from .seeding import generator_from_state, generator_state, seed_streams


class TrainingState:
    """Per member k: ``optimizers[k]`` (built on member k's layers), ``shuffle[k]``, ``noise[k]``,
    ``dropout[k]``, ``schedules[k]`` (None without one); ``epochs`` run so far and the fit's
    ``seed``. Pickles in its file form (host arrays and JSON), re-attached to the model's layers
    when training continues (``attach``)."""

    def __init__(self, members: Sequence[Any], opts: Sequence[optimizers.Optimizer],
                 shuffle: Sequence[np.random.Generator], noise: Sequence[np.random.Generator], epochs: int,
                 seed: int | None, dropout: Sequence[np.random.Generator] | None = None,
                 schedules: Sequence[schedules_mod.Schedule | None] | None = None):
        self.members = list(members)  # the networks the optimizers update
        self.optimizers, self.shuffle, self.noise = list(opts), list(shuffle), list(noise)
        self.dropout = list(dropout) if dropout is not None else _fresh_dropout(seed, len(self.optimizers))
        self.schedules = list(schedules) if schedules is not None else [None] * len(self.optimizers)
        self.epochs, self.seed = epochs, seed
        self._pending: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None

    @property
    def optimizer_config(self) -> dict[str, Any]:
        return self._pending[0]["optimizer"] if self._pending else self.optimizers[0].config()

    @property
    def schedule_config(self) -> dict[str, Any] | None:
        if self._pending:
            return self._pending[0].get("lr_schedule")
        return self.schedules[0].config() if self.schedules and self.schedules[0] is not None else None

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
            entry = {"iterations": opt.iterations, "shuffle": generator_state(self.shuffle[k]),
                     "noise": generator_state(self.noise[k]), "dropout": generator_state(self.dropout[k])}
            if self.schedules[k] is not None:
                entry["lr_schedule"] = self.schedules[k].state()  # type: ignore[union-attr]
            entries.append(entry)
        doc = {"epochs": self.epochs, "seed": self.seed, "optimizer": self.optimizers[0].config(), "slots": slots,
               "members": entries}
        if self.schedule_config is not None:
            doc["lr_schedule"] = self.schedule_config
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
        opts, shuffle, noise, dropout, scheds = [], [], [], [], []
        fresh = _fresh_dropout(doc.get("seed"), len(members))
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
                        arrays = tuple(net.backend.asarray(_slot(tensors, f"{prefix}optimizer.layers.{i}.{key}.{j}",
                                                                 tuple(layer.params[key].shape)), net.dtype)
                                       for j in range(len(old[2])))
                        slots.append((layer, key, arrays, old[3]))
            opt.slots, opt.iterations = slots, int(entry["iterations"])
            opts.append(opt)
            shuffle.append(generator_from_state(entry["shuffle"]))
            noise.append(generator_from_state(entry["noise"]))
            dropout.append(generator_from_state(entry["dropout"]) if "dropout" in entry else fresh[k])
            sched = schedules_mod.from_config(doc["lr_schedule"]) if doc.get("lr_schedule") is not None else None
            if sched is not None:
                sched.load_state(entry.get("lr_schedule") or {})
            scheds.append(sched)
        self.optimizers, self.shuffle, self.noise, self.dropout, self.schedules = opts, shuffle, noise, dropout, scheds
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


def _slot(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An optimizer slot tensor of the file, of its parameter's shape (else a ValueError)."""
    if name not in tensors:
        raise ValueError(f"expected a tensor {name}; received a file without it")
    if tuple(tensors[name].shape) != shape:
        raise ValueError(f"expected {name} of shape {shape}; received {tuple(tensors[name].shape)}")
    return tensors[name]


def _fresh_dropout(seed: int | None, members: int) -> list[np.random.Generator]:
    """The dropout streams a fresh fit of ``seed`` starts with (for a state made without them)."""
    return [streams[3] for streams in seed_streams(seed, members)[1]]
