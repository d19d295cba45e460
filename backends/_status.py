"""What this machine cannot run, why, and the one command that would change it.

``install_hint`` writes pip commands the way *this* xmlp was installed: from a checkout
(``pip install '/path/to/checkout[cuda12]'``), from a local folder or an editable install (the
same, with ``-e``), or from an index (``pip install 'xmlp[cuda12]'``).
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

#: The extras of pyproject.toml that add a backend: (extra, what it installs).
CUDA_EXTRA = ("cuda12", "cupy-cuda12x[ctk]")


class Missing(NamedTuple):
    """A backend this machine cannot run: its spec, the reason, the command that enables it."""

    spec: str
    reason: str
    command: str


def install_hint(extra: str, requirement: str) -> str:
    """``pip install …`` bringing ``requirement`` through xmlp's ``extra``, as xmlp was installed."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "xmlp").is_dir():  # running from a checkout
        return f"pip install '{root}[{extra}]'"
    try:
        from importlib.metadata import PackageNotFoundError, distribution

        text = distribution("xmlp").read_text("direct_url.json")
    except (PackageNotFoundError, OSError):
        return f"pip install '{requirement}'"
    info = json.loads(text) if text else {}
    url = urlparse(str(info.get("url", "")))
    if url.scheme == "file" and "dir_info" in info:  # pip install PATH, or pip install -e PATH
        editable = "-e " if info["dir_info"].get("editable") else ""
        return f"pip install {editable}'{unquote(url.path)}[{extra}]'"
    return f"pip install 'xmlp[{extra}]'"


def _nvidia_driver() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or os.path.exists("/dev/nvidia0")


def missing() -> list[Missing]:
    """The backends (other than the test-only array-api-strict) this machine cannot run."""
    from . import get_backend
    from ._base import BackendError

    out = []
    cuda_cmd = install_hint(*CUDA_EXTRA)
    if importlib.util.find_spec("cupy") is None:
        why = "CuPy is not installed" + ("" if _nvidia_driver() else ", and no NVIDIA driver is loaded here")
        out.append(Missing("cuda", why, cuda_cmd))
    else:
        try:
            get_backend("cuda")
        except BackendError as exc:
            out.append(Missing("cuda", str(exc).split(" (hint")[0], "nvidia-smi  (shows whether a GPU and driver are visible)"))
    if importlib.util.find_spec("torch") is None:
        out.append(Missing("torch", "PyTorch is not installed", "pip install torch"))
        return out
    import torch

    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            why, cmd = f"this PyTorch ({torch.__version__}) is a CPU-only build", "pip install --force-reinstall torch"
        else:
            why, cmd = "PyTorch sees no CUDA GPU", "nvidia-smi  (shows whether a GPU and driver are visible)"
        if not _nvidia_driver():
            why += " (and no NVIDIA driver is loaded here)"
        out.append(Missing("torch:cuda", why, cmd))
    return out
