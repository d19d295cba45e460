"""What gets installed: the wheel holds xmlp only — its backends as ``xmlp._backends``, ``py.typed``,
the embedded data — and nothing named ``backends``, so a user's own ``backends`` package beside
their script cannot break ``import xmlp``. Built from a copy of the sources (nothing is written
into the checkout) and installed with ``pip install --target``, away from the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("setuptools", reason="setuptools (in the test extra) builds the wheel")
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("xmlp", "backends"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(src)], check=True, capture_output=True)
    return next(out.glob("xmlp-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                    str(wheel)], check=True, capture_output=True)
    return target


def test_the_wheel_holds_xmlp_only(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"xmlp", wheel.name.split("-py3")[0] + ".dist-info"}
    for needed in ("xmlp/py.typed", "xmlp/datasets/wdbc.csv"):
        assert needed in names
    modules = {f"xmlp/{p.relative_to(ROOT / 'xmlp').as_posix()}" for p in (ROOT / "xmlp").rglob("*.py")}
    modules |= {f"xmlp/_backends/{p.name}" for p in (ROOT / "backends").glob("*.py")}
    assert modules - set(names) == set()  # every module of the checkout, every subpackage
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "cupy-cuda12x[ctk]" in meta and "Provides-Extra: sklearn" in meta and "Provides-Extra: onnx" in meta


def test_a_users_own_backends_package_does_not_break_xmlp(installed, tmp_path):
    (tmp_path / "backends").mkdir()
    (tmp_path / "backends" / "__init__.py").write_text("raise ImportError('the user\\'s own backends package')\n")
    code = ("import sys, xmlp; m = xmlp.Sequential([xmlp.Dense(4, 'relu'), xmlp.Dense(2, 'softmax')]); "
            "m.fit([[0.0, 1.0], [1.0, 0.0]] * 4, [0, 1] * 4, epochs=2, seed=0); "
            "print(m.predict([[0.0, 1.0]]), xmlp.__file__, 'backends' in sys.modules); "
            # an editable install of the checkout must not have filled in what the wheel lacks
            "print([n for n, v in sys.modules.items() if n.startswith('xmlp.') and getattr(v, '__file__', None) "
            "and not v.__file__.startswith(__import__('os').environ['PYTHONPATH'])], file=sys.stderr)")
    env = {"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr.strip() == "[]", out.stderr
    labels, where, shadowed = out.stdout.split()[0:-2], out.stdout.split()[-2], out.stdout.split()[-1]
    assert labels in (["[0]"], ["[1]"]) and where.startswith(str(installed)) and shadowed == "False"
    cli = subprocess.run([sys.executable, "-m", "xmlp", "devices"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert cli.returncode == 0 and "numpy" in cli.stdout, cli.stderr
