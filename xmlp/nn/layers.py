"""The layers a network is built of, by kind: the registry a model file's layer descriptions
are rebuilt through (``from_config``). A new layer is one module with its class (see
``layer.Layer`` for the protocol) and one line here."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .._registry import Registry
from .activation_layer import Activation
from .batchnorm import BatchNorm
from .dense import Dense
from .dropout import Dropout
from .layer import Layer, short
from .layernorm import LayerNorm

__all__ = ["LAYERS", "Activation", "BatchNorm", "Dense", "Dropout", "Layer", "LayerNorm", "from_config", "hidden_stack"]

LAYERS: Registry[Callable[[Any], Layer]] = Registry("a layer kind")
LAYERS.register("Dense", Dense.from_config)
LAYERS.register("Dropout", Dropout.from_config)
LAYERS.register("BatchNorm", BatchNorm.from_config, aliases=("BatchNormalization", "BatchNorm1d"))
LAYERS.register("LayerNorm", LayerNorm.from_config, aliases=("LayerNormalization",))
LAYERS.register("Activation", Activation.from_config)


def from_config(config: Any) -> Layer:
    """The layer a ``config()`` describes; a malformed description is a ValueError naming the fault."""
    if not isinstance(config, dict):
        raise ValueError(f"expected a layer description (a JSON object with a kind); received {short(config)}")
    return LAYERS.get(config.get("kind"))(config)


NORMS = {"batch": BatchNorm, "layer": LayerNorm}


def hidden_stack(widths: Sequence[int], activation: Any, *, norm: str | None = None, dropout: float = 0.0,
                 kernel_initializer: str = "heUniform") -> list[Layer]:
    """Hidden layers of the given widths, as ``xmlp train --layer`` and the estimators build them:
    Dense(width, activation), or with ``norm`` ("batch" or "layer") Dense(width, "linear"), the
    normalisation and Activation(activation); then Dropout(dropout) where dropout > 0 (after
    the activation, where Keras's examples put it)."""
    if norm is not None and norm not in NORMS:
        raise ValueError(f"expected norm None, 'batch' or 'layer'; received {short(norm)}")
    out: list[Layer] = []
    for units in widths:
        if norm is None:
            out.append(Dense(units, activation, kernel_initializer=kernel_initializer))
        else:
            out += [Dense(units, "linear", kernel_initializer=kernel_initializer), NORMS[norm](),
                    Activation(activation)]
        if dropout:
            out.append(Dropout(dropout))
    return out
