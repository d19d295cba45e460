"""xmlp: multilayer perceptrons written once against the Python Array API.

The same forward/backward code runs on NumPy, CuPy, PyTorch or array-api-strict; pick one with
``backend=`` (``"cpu"``, ``"cuda"``, ``"torch"``, …) or ``XMLP_DEVICE``. See
``docs/architecture.md`` for the map of the package.
"""

from .backends import Backend, BackendError, available as available_backends, get_backend

from ._version import __version__
from .activations import LeakyReLU
from .callbacks import Callback, EarlyStopping, History
from .csvsource import CsvSource
from .errors import TrainingDiverged, XmlpError
from .estimator import Sequential, load_model
from .layers import Dense
from .network import Network
from .npysource import NpySource
from .optimizers import SGD, Adam, Optimizer, RMSprop
from .parquet import ParquetSource
from .sources import ChunkList, Source

__all__ = [
    "Adam",
    "Backend",
    "BackendError",
    "Callback",
    "ChunkList",
    "CsvSource",
    "Dense",
    "EarlyStopping",
    "History",
    "LeakyReLU",
    "Network",
    "NpySource",
    "Optimizer",
    "ParquetSource",
    "RMSprop",
    "SGD",
    "Sequential",
    "Source",
    "TrainingDiverged",
    "XmlpError",
    "available_backends",
    "get_backend",
    "load_model",
    "__version__",
]
