"""PyTorch (CPU or CUDA) through array-api-compat's torch namespace."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backend, BackendError


def make(device: str | None) -> Backend:
    try:
        import torch
    except ImportError as exc:
        raise BackendError(
            "expected PyTorch for the torch backend; received an environment without it "
            "(hint: pip install torch)"
        ) from exc
    import array_api_compat.torch as xp

    device = device or "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise BackendError(f"expected a torch device like cpu or cuda:0; received {device!r}") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendError(
                f"expected a CUDA device for torch:{device}; received a PyTorch that sees none "
                "(a CPU-only build, or no GPU on this machine)"
            )
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
    elif dev.type != "cpu":
        raise BackendError(f"expected torch device cpu or cuda[:N]; received {device!r}")

    def asarray(host: np.ndarray, dtype: Any, copy: bool) -> Any:
        return torch.as_tensor(np.array(host, copy=True if copy else None), dtype=dtype, device=dev)

    def to_numpy(x: Any) -> np.ndarray:
        return np.array(x.detach().to("cpu").numpy(), copy=True)

    def synchronize() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    return Backend(
        name="torch",
        spec=f"torch:{dev}",
        xp=xp,
        device=dev,
        default_dtype=xp.float32,
        index_dtype=xp.int64,
        _asarray=asarray,
        _to_numpy=to_numpy,
        _synchronize=synchronize,
        _free_memory=(lambda: int(torch.cuda.mem_get_info(dev)[0])) if dev.type == "cuda" else None,
    )
