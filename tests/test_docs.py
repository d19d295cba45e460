"""The API reference (pdoc, from the docstrings) builds without a warning and covers every public
name of ``xmlp.__all__``, plus the scikit-learn, export and datasets modules."""

from __future__ import annotations

import inspect
import re
import warnings

import pytest

import xmlp

MODULES = ("xmlp", "xmlp.sklearn", "xmlp.export", "xmlp.datasets")  # as docs/README.md builds them


def test_api_reference_builds_without_warnings(tmp_path):
    pdoc = pytest.importorskip("pdoc", reason="pdoc not installed (it is in the test extra)")
    pytest.importorskip("sklearn", reason="xmlp.sklearn's page needs scikit-learn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning (unresolvable annotation, bad link…) fails the build
        pdoc.pdoc(*MODULES, output_directory=tmp_path)
    page = (tmp_path / "xmlp.html").read_text()
    public = [n for n in xmlp.__all__ if not n.startswith("_")]
    assert [n for n in public if f'id="{n}"' not in page] == []
    assert [n for n in public if not inspect.getdoc(getattr(xmlp, n))] == []
    for module in MODULES[1:]:
        assert (tmp_path / (module.replace(".", "/") + ".html")).is_file()
    assert re.search(r'id="MLPClassifier"', (tmp_path / "xmlp/sklearn.html").read_text())


def test_docs_readme_names_the_same_modules():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "README.md").read_text()
    assert f"pdoc {' '.join(MODULES)} -o docs/api" in text
