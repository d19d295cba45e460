"""Atomic writes and output checks."""

from __future__ import annotations

import pytest

import xmlp


def test_atomic_save_keeps_the_previous_file(tmp_path, wdbc, monkeypatch):
    x, y, _ = wdbc
    model = xmlp.Sequential([xmlp.Dense(4, "tanh"), xmlp.Dense(2, "softmax")])
    model.fit(x, y, epochs=1, seed=0)
    target = tmp_path / "m.safetensors"
    model.save(target)
    before = target.read_bytes()

    def interrupted(fd):
        raise KeyboardInterrupt  # as if the process were stopped mid-save

    monkeypatch.setattr("os.fsync", interrupted)
    model.fit(x, y, epochs=2, seed=1)
    with pytest.raises(KeyboardInterrupt):
        model.save(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp file left behind


def test_check_dir_writable(tmp_path):
    from xmlp.errors import CantCreateError
    from xmlp.fileio import check_dir_writable

    check_dir_writable(tmp_path / "new" / "deeper")  # a folder that does not exist yet is fine
    assert not (tmp_path / "new").exists()  # and checking creates nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(CantCreateError, match="expected a folder to write into; received a path through the file"):
        check_dir_writable(tmp_path / "f" / "run")
