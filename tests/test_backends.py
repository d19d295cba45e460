"""Backend specs, the contract, and the errors users see."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from xmlp import backends
from xmlp.backends import BackendError, UnknownBackendError, get_backend, resolve_spec


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("cpu", ("numpy", None)),
        ("numpy", ("numpy", None)),
        ("cuda", ("cupy", "cuda")),
        ("cuda:1", ("cupy", "cuda:1")),
        ("cupy:2", ("cupy", "cuda:2")),
        ("torch", ("torch", None)),
        ("torch:cuda:0", ("torch", "cuda:0")),
        ("strict:device1", ("strict", "device1")),
        (" CPU ", ("numpy", None)),
    ],
)
def test_resolve_spec(spec, expected):
    assert resolve_spec(spec) == expected


def test_backend_option_overrides_and_env_default(monkeypatch):
    assert resolve_spec("cuda:1", library="torch") == ("torch", "cuda:1")
    monkeypatch.setenv("XMLP_DEVICE", "strict:device1")
    assert get_backend().spec == "strict:device1"
    assert get_backend("cpu").spec == "numpy"  # an argument beats the environment
    monkeypatch.setenv("XMLP_DEVICE", "tpu")
    with pytest.raises(UnknownBackendError, match="received 'tpu' from XMLP_DEVICE"):
        get_backend()
    monkeypatch.delenv("XMLP_DEVICE")
    assert get_backend().spec == "numpy"


def test_unknown_spec_lists_valid_ones():
    with pytest.raises(UnknownBackendError, match=r"expected a device or backend among cpu, cuda, cuda:N, numpy.*received 'tpu'"):
        get_backend("tpu")
    with pytest.raises(UnknownBackendError, match="expected a backend among numpy, cupy, torch, strict; received 'jax'"):
        get_backend(library="jax")
    with pytest.raises(BackendError, match="expected device 'cpu' for numpy; received 'cuda'"):
        get_backend("cuda", library="numpy")
    with pytest.raises(BackendError, match="expected a strict device among cpu, device1, no_float64"):
        get_backend("strict:gpu")


def test_cuda_without_cupy_names_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(BackendError, match=r"expected CuPy.*pip install '\S*\[cuda12\]'"):
        get_backend("cuda")


def test_cupy_without_gpu_says_so(monkeypatch):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device)))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match="expected a visible CUDA GPU; received CuPy without one .*no CUDA-capable"):
        get_backend("cuda")
    fake.cuda.runtime.getDeviceCount = lambda: 1
    with pytest.raises(BackendError, match="expected a CUDA device index below 1; received cuda:3"):
        get_backend("cuda:3")


def test_contract_roundtrip_and_counts(backend):
    host = np.arange(6, dtype=np.float64).reshape(2, 3)
    f32 = backend.dtype("float32")
    dev = backend.asarray(host, f32)
    assert dev.dtype == f32
    back = backend.to_numpy(dev)
    assert back.dtype == np.float32 and np.array_equal(back, host)
    back[0, 0] = 99.0  # the way out is a copy: the device array is unchanged
    assert backend.to_numpy(dev)[0, 0] == 0.0
    assert (backend.stats.to_device, backend.stats.to_host) == (1, 2)
    backend.synchronize()
    assert backend.supports("float32")


def test_backends_are_fresh_objects():
    a, b = get_backend("cpu"), get_backend("cpu")
    a.asarray(np.zeros(2))
    assert a is not b and b.stats.total == 0  # no process-global state shared between models


def test_float64_less_device():
    be = get_backend("strict:no_float64")
    assert be.supports("float32") and not be.supports("float64")
    with pytest.raises(BackendError, match="received .float64., which strict:no_float64 does not support.*--dtype float32"):
        be.dtype("float64")


def test_available_lists_what_imports():
    found = backends.available()
    assert found[:4] == ["numpy", "strict:cpu", "strict:device1", "strict:no_float64"]


def test_numpy_fast_namespace_matches_compat(rng):
    """The numpy backend binds sum/max/astype to NumPy's C entry points; same results as
    array-api-compat's functions, bit for bit (the same reductions in the same order)."""
    import array_api_compat.numpy as compat

    xp = get_backend("cpu").xp
    x = rng.normal(size=(7, 5)).astype(np.float32)
    for axis in (None, 0, 1):
        for keepdims in (False, True):
            assert np.array_equal(xp.sum(x, axis=axis, keepdims=keepdims), compat.sum(x, axis=axis, keepdims=keepdims))
            assert np.array_equal(xp.max(x, axis=axis, keepdims=keepdims), compat.max(x, axis=axis, keepdims=keepdims))
    ints = np.arange(6).reshape(2, 3)
    assert xp.sum(ints).dtype == compat.sum(ints).dtype and xp.sum(ints) == 15
    assert xp.sum(x, dtype=xp.float64).dtype == np.float64
    assert np.isnan(xp.max(np.array([1.0, np.nan]))) and xp.astype(x > 0, xp.float32).dtype == np.float32
    assert xp.__array_api_version__ == compat.__array_api_version__


def test_holds_only_its_own_namespace_and_device(backend):
    x = backend.asarray(np.ones((2, 2)), backend.dtype("float32"))
    assert backend.holds(x) == (backend.name != "numpy")  # NumPy arrays are host data
    assert not backend.holds([[1.0]]) and not backend.holds(np.ones(2))
    other = get_backend("strict:device1" if backend.spec != "strict:device1" else "strict:cpu")
    assert not backend.holds(other.asarray(np.ones(2)))


def test_for_array_names_the_library_and_device(backend):
    x = backend.asarray(np.ones(3), backend.dtype("float32"))
    found = backends.for_array(x)
    assert found.spec == backend.spec and (backend.name == "numpy" or found.holds(x))
    assert backends.for_array([1, 2]).spec == "numpy"
    with pytest.raises(BackendError, match="expected arrays of NumPy, CuPy, PyTorch or array-api-strict"):
        backends.for_array(types.SimpleNamespace(__array_namespace__=lambda: None))


def test_a_backend_pickles_as_its_spec(backend):
    import copy
    import pickle

    backend.asarray(np.zeros(2), backend.dtype("float32"))
    for again in (pickle.loads(pickle.dumps(backend)), copy.deepcopy(backend)):
        assert again.spec == backend.spec and again is not backend and again.stats.total == 0


def test_missing_backends_name_a_reason_and_a_command():
    for item in backends.missing():
        assert item.spec in ("cuda", "torch", "torch:cuda") and item.reason and item.command
        assert "strict" not in item.spec


def test_install_hints_follow_how_xmlp_was_installed(monkeypatch, tmp_path):
    import json
    from importlib import metadata

    from xmlp._backends import _status

    root = Path(_status.__file__).resolve().parents[1]
    assert _status.install_hint("cuda12", "cupy-cuda12x[ctk]") == f"pip install '{root}[cuda12]'"  # a checkout
    monkeypatch.setattr(_status, "__file__", str(tmp_path / "site-packages/xmlp/_backends/_status.py"))

    class Dist:
        def __init__(self, text):
            self.text = text

        def read_text(self, name):
            return self.text

    cases = [(None, "pip install 'xmlp[cuda12]'"),  # from an index: no direct_url.json
             (json.dumps({"url": "file:///src/xmlp", "dir_info": {"editable": True}}), "pip install -e '/src/xmlp[cuda12]'"),
             (json.dumps({"url": "file:///src/xmlp", "dir_info": {}}), "pip install '/src/xmlp[cuda12]'")]
    for text, expected in cases:
        monkeypatch.setattr(metadata, "distribution", lambda name, text=text: Dist(text))
        assert _status.install_hint("cuda12", "cupy-cuda12x[ctk]") == expected

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_installed)
    assert _status.install_hint("cuda12", "cupy-cuda12x[ctk]") == "pip install 'cupy-cuda12x[ctk]'"
