"""The README's Python examples run as written (the second continues the first)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(blocks[0], "README block 1", "exec"), scope)
    scope["xv"], scope["yv"] = scope["x"][455:], scope["y"][455:]
    exec(compile(blocks[1], "README block 2", "exec"), scope)
    assert (tmp_path / "model.safetensors").is_file()
    assert scope["same"].backend.name == "numpy" and "val_f1" in scope["model"].history.history
    assert scope["same"].predict(scope["x"][:5]) == scope["model"].predict(scope["x"][:5])
    assert "[" in capsys.readouterr().out
