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
        """Chunks through two pinned host buffers and two device buffers, copied on a second
        stream: chunk k + 1 is copied while the kernels queued for chunk k run; compute waits
        for its copy (an event), and a device buffer is refilled only after the kernels queued
        on its previous chunk (an event recorded when the next chunk was asked for). So a chunk
        is valid until two more have been asked for (the trainer uses each within its turn)."""
        with dev:
            stream = cupy.cuda.Stream(non_blocking=True)
            pinned: list[Any] = [None, None]
            device: list[Any] = [None, None]
            copied: list[Any] = [None, None]  # the event after each buffer's last copy
            used: list[Any] = [None, None]  # the event after the kernels queued on each buffer's chunk
            for k, host in enumerate(chunks):
                host, slot = np.ascontiguousarray(host, dtype=dtype), k % 2
                main = cupy.cuda.get_current_stream()
                if k:  # every kernel on chunk k - 1 is queued by now
                    used[1 - slot] = main.record()
                if copied[slot] is not None:
                    copied[slot].synchronize()  # that pinned buffer's previous copy has left it
                if pinned[slot] is None or pinned[slot].size() < host.nbytes:
                    pinned[slot] = cupy.cuda.alloc_pinned_memory(max(host.nbytes, 1))
                if device[slot] is None or device[slot].size < host.size:
                    device[slot] = cupy.empty(max(host.size, 1), dtype=host.dtype)  # on main: ordered there
                    used[slot] = main.record()
                staged = np.frombuffer(pinned[slot], host.dtype, host.size).reshape(host.shape)
                staged[...] = host
                out = device[slot][: host.size].reshape(host.shape)
                if used[slot] is not None:
                    stream.wait_event(used[slot])  # chunk k - 2's kernels are done with this memory
                out.set(staged, stream=stream)
                copied[slot] = stream.record()
                main.wait_event(copied[slot])
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
