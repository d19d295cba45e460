"""Type aliases of the public API.

Arrays and namespaces come from whichever Array API library the backend holds (NumPy, CuPy,
PyTorch, array-api-strict), which share no common base class: the aliases name the role, and
the backend contract (``backends.Backend``) says which library it is at run time.
"""

from __future__ import annotations

from typing import Any, TypeAlias

#: A device array of the backend's namespace (``numpy.ndarray``, ``cupy.ndarray``, ``torch.Tensor``…).
Array: TypeAlias = Any
#: An Array API namespace (what ``array_api_compat.array_namespace`` returns).
Namespace: TypeAlias = Any
#: Class labels: a sequence or 1-D array of hashable values (strings, integers, …).
Labels: TypeAlias = Any
#: Host-side input that NumPy accepts as a 2-D array of features (arrays, lists of rows, …).
ArrayLike: TypeAlias = Any
