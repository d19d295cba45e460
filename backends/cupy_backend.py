"""CuPy on a CUDA GPU. CuPy is imported only when this backend is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Backend, BackendError
from ._status import CUDA_EXTRA, install_hint


def _index(device: str | None) -> int:
    if device in (None, "cuda"):
        return 0
    text = device.removeprefix("cuda:")
    if not text.isdigit():
        raise BackendError(f"expected a CUDA device like cuda or cuda:N; received {device!r}")
    return int(text)


def _free(dev: Any) -> int:
    """Free bytes on the GPU, counting what CuPy's pool holds but does not use as free."""
    import cupy

    with dev:
        pool = cupy.get_default_memory_pool()
        return int(cupy.cuda.runtime.memGetInfo()[0]) + int(pool.free_bytes())


def make(device: str | None) -> Backend:
    index = _index(device)
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "expected CuPy for --device cuda; received a Python environment without it "
            f"(hint: {install_hint(*CUDA_EXTRA)}, or 'cuda13' for a CUDA 13 driver)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a driver that fails to load
        raise BackendError(
            f"expected a visible CUDA GPU; received CuPy without one ({exc}) "
            "(hint: check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu)"
        ) from exc
    if index >= count:
        raise BackendError(
            f"expected a CUDA device index below {count}; received cuda:{index} "
            "(hint: use --device cuda:0, or --device cpu)"
        )
    import array_api_compat.cupy as xp

    dev = cupy.cuda.Device(index)

    def asarray(host: np.ndarray, dtype: Any, copy: bool) -> Any:  # host -> GPU is always a copy
        with dev:
            return cupy.array(host, dtype=dtype, copy=True)

    def send(chunks: Any, dtype: Any) -> Any:
        """Chunks through two pinned host buffers, copied on a second stream: chunk k + 1 is
        copied while the kernels queued for chunk k run; compute waits for its copy (an event)."""
        with dev:
            stream = cupy.cuda.Stream(non_blocking=True)
            pinned: list[Any] = [None, None]
            copied: list[Any] = [None, None]  # the event after each buffer's last copy
            for k, host in enumerate(chunks):
                host, slot = np.ascontiguousarray(host, dtype=dtype), k % 2
                if copied[slot] is not None:
                    copied[slot].synchronize()  # that buffer's previous copy has left it
                if pinned[slot] is None or pinned[slot].size() < host.nbytes:
                    pinned[slot] = cupy.cuda.alloc_pinned_memory(max(host.nbytes, 1))
                staged = np.frombuffer(pinned[slot], host.dtype, host.size).reshape(host.shape)
                staged[...] = host
                out = cupy.empty(host.shape, dtype=host.dtype)
                out.set(staged, stream=stream)
                copied[slot] = stream.record()
                cupy.cuda.get_current_stream().wait_event(copied[slot])
                yield out

    return Backend(
        name="cupy",
        spec=f"cupy:cuda:{index}",
        xp=xp,
        device=dev,
        default_dtype=xp.float32,
        index_dtype=xp.int64,
        _asarray=asarray,
        _to_numpy=lambda x: cupy.asnumpy(x),
        _synchronize=dev.synchronize,
        _activate=lambda: dev,
        _send=send,
        _free_memory=lambda: _free(dev),
    )
