"""xmlp: multilayer perceptrons written once against the Python Array API.

The same forward/backward code runs on NumPy, CuPy, PyTorch or array-api-strict; pick one with
``backend=`` (``"cpu"``, ``"cuda"``, ``"torch"``, …) or ``XMLP_DEVICE``.
"""

from backends import Backend, BackendError, available as available_backends, get_backend

from .layers import Dense
from .model import Sequential
from .optimizers import SGD, Adam, Optimizer, RMSprop
from .serialization import load_model
from .training import Callback, EarlyStopping, History, TrainingDiverged

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "Backend",
    "BackendError",
    "Callback",
    "Dense",
    "EarlyStopping",
    "History",
    "Optimizer",
    "RMSprop",
    "SGD",
    "Sequential",
    "TrainingDiverged",
    "available_backends",
    "get_backend",
    "load_model",
    "__version__",
]
