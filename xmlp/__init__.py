"""xmlp: multilayer perceptrons written once against the Python Array API.

The same forward/backward code runs on NumPy, CuPy, PyTorch or array-api-strict; pick one with
``backend=`` (``"cpu"``, ``"cuda"``, ``"torch"``, …) or ``XMLP_DEVICE``. See
``docs/architecture.md`` for the map of the package.
"""

from typing import Any

from . import _moved
from ._version import __version__
from .backends import Backend, BackendError, get_backend
from .backends import available as available_backends
from .data.csv.source import CsvSource
from .data.npy import NpySource
from .data.parquet import ParquetSource
from .data.sources import ChunkList, Source
from .errors import TrainingDiverged, XmlpError
from .models.sequential import Sequential, load_model
from .nn.activations import ELU, LeakyReLU
from .nn.layers import Activation, BatchNorm, Dense, Dropout, Layer, LayerNorm
from .nn.network import Network
from .nn.regression import Huber, MeanAbsoluteError, MeanSquaredError
from .optim import schedules  # noqa: F401 (xmlp.schedules, the issue's public name)
from .optim.optimizers import SGD, Adam, Optimizer, RMSprop
from .optim.schedules import (
    CosineDecay,
    ExponentialDecay,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)
from .training.callbacks import Callback, EarlyStopping, History

__all__ = [
    "Activation",
    "Adam",
    "BatchNorm",
    "Backend",
    "BackendError",
    "Callback",
    "ChunkList",
    "CosineDecay",
    "CsvSource",
    "Dense",
    "Dropout",
    "ELU",
    "EarlyStopping",
    "ExponentialDecay",
    "History",
    "Huber",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Network",
    "NpySource",
    "Optimizer",
    "ParquetSource",
    "RMSprop",
    "ReduceOnPlateau",
    "SGD",
    "Schedule",
    "Sequential",
    "Source",
    "StepDecay",
    "TrainingDiverged",
    "XmlpError",
    "available_backends",
    "get_backend",
    "load_model",
    "__version__",
]

_moved.install()  # the module paths of 0.1.0 (xmlp.layers, …): the new modules, with a DeprecationWarning


def __getattr__(name: str) -> Any:
    return _moved.old_module(name)
