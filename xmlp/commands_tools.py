"""The commands around a training: ``xmlp data`` (the embedded data as a file), ``xmlp devices``
(what runs here, and what would enable the rest), ``xmlp export`` (a model for another stack).
Each adds its parser to ``xmlp``'s (``add_parsers``) and returns an exit status."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from pathlib import Path
from typing import Any, Callable

from . import backends
from .errors import CantCreateError, UnavailableError
from .fileio import atomic_write, check_output_file

DATA_HELP = """\
Write an embedded data set in the 42 subject's layout: one row per sample, no header, the
columns id, diagnosis (M or B), then the 30 features, values exactly as in the subject's
data.csv and in its order. The embedded copy has no UCI ids: the id column holds the row
numbers 1 … 569, the same on every run (so they are not the subject's ids).

  xmlp data wdbc --out data.csv && xmlp split data.csv
"""


def add_parsers(sub: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add ``data``, ``devices`` and ``export`` to the subcommands ``sub`` of ``xmlp``."""
    d = sub.add_parser("data", help="write the embedded WDBC data as a CSV file (the subject's layout)",
                       description=DATA_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("name", choices=["wdbc"], help="the data set (wdbc: Breast Cancer Wisconsin, Diagnostic)")
    d.add_argument("--out", help="CSV file to write (default: standard output)")
    d.add_argument("--force", action="store_true", help="overwrite an existing file")
    common(d)
    d.set_defaults(func=cmd_data)

    v = sub.add_parser("devices", help="what runs on this machine, and what would enable the rest")
    v.add_argument("--all", action="store_true", help="also list the test-only array-api-strict devices")
    common(v)
    v.set_defaults(func=cmd_devices)

    e = sub.add_parser("export", help="write a model for another stack (ONNX: pip install 'xmlp[onnx]')")
    e.add_argument("model", help="model file (model.safetensors), or a run folder holding one")
    e.add_argument("out", help="file to write (e.g. model.onnx)")
    e.add_argument("--to", choices=["onnx"], default="onnx", help="the format (default onnx)")
    common(e)
    e.set_defaults(func=cmd_export)


def wdbc_rows() -> str:
    """The embedded data as the subject's data.csv text, ids 1 … 569."""
    from importlib import resources

    text = (resources.files("xmlp.datasets") / "wdbc.csv").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines()[1:] if line]
    return "".join(f"{i},{row}\n" for i, row in enumerate(rows, start=1))


def cmd_data(args: argparse.Namespace) -> int:
    text = wdbc_rows()
    if not args.out:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    check_output_file(out)
    if out.exists() and not args.force:
        raise CantCreateError(f"{out}: expected a new file; received an existing one (hint: --force overwrites)")
    atomic_write(out, text)
    print(f"> wrote '{out}': 569 rows (id, diagnosis, 30 features; the ids are row numbers)")
    return 0


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def cmd_devices(args: argparse.Namespace) -> int:
    names = {"numpy": "NumPy", "torch": "PyTorch", "cuda": "CuPy", "strict": "array-api-strict"}
    dists = {"numpy": "numpy", "torch": "torch", "cuda": "cupy", "strict": "array-api-strict"}
    for spec in backends.available():
        library = spec.split(":")[0]
        if library == "strict" and not args.all:
            continue
        if library == "cuda":
            dists["cuda"] = next((d for d in ("cupy-cuda12x", "cupy-cuda13x", "cupy") if _version(d) != "?"), "cupy")
        note = " (the default)" if spec == "numpy" else " (test-only: the Array API standard and nothing else)" \
            if library == "strict" else ""
        print(f"{spec:<18} runs here: {names[library]} {_version(dists[library])}{note}")
    for item in backends.missing():
        print(f"{item.spec:<18} missing: {item.reason}")
        print(f"{'':<18} enable: {item.command}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .estimator import load_model

    try:
        from .export import onnx_bytes
        import onnx  # noqa: F401
    except ImportError:
        hint = backends.install_hint("onnx", "onnx")
        raise UnavailableError(f"expected the onnx package for --to onnx; received an environment without it "
                               f"(hint: {hint})") from None
    path = Path(args.model) / "model.safetensors" if Path(args.model).is_dir() else Path(args.model)
    check_output_file(args.out, [path])
    model = load_model(path, backend="cpu")
    atomic_write(args.out, onnx_bytes(model))
    sizes = " -> ".join([str(model.n_features)] + [str(layer.units) for layer in model.layers])
    print(f"> wrote '{args.out}' (ONNX opset 17; {sizes}; input x: float rows of {model.n_features} features; "
          f"output probabilities of {', '.join(map(str, model.classes))})")
    return 0
