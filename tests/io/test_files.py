"""Atomic writes and output checks."""

from __future__ import annotations

import os

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
    from xmlp.io.files import check_dir_writable

    check_dir_writable(tmp_path / "new" / "deeper")  # a folder that does not exist yet is fine
    assert not (tmp_path / "new").exists()  # and checking creates nothing
    (tmp_path / "f").write_text("x")
    with pytest.raises(CantCreateError, match="expected a folder to write into; received a path through the file"):
        check_dir_writable(tmp_path / "f" / "run")


# ----------------------------------------------------------------------------- replacing only our own files
def test_a_character_device_is_written_through_never_replaced(tmp_path):
    import os
    import stat

    from xmlp.io.files import atomic_write

    atomic_write("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device, not a regular file
    link = tmp_path / "null-link"
    link.symlink_to("/dev/null")
    atomic_write(link, "discarded")  # a symlink is followed to its target
    assert link.is_symlink() and stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_socket_or_folder_is_refused(tmp_path):
    import socket
    import stat

    from xmlp.errors import CantCreateError
    from xmlp.io.files import atomic_write

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tmp_path / "sock"))
        with pytest.raises(CantCreateError, match="sock: expected a regular file, a FIFO or a character device to "
                                                  "write; received a socket"):
            atomic_write(tmp_path / "sock", b"x")
        assert stat.S_ISSOCK(os.stat(tmp_path / "sock").st_mode)
    (tmp_path / "dir").mkdir()
    with pytest.raises(CantCreateError, match="received a folder"):
        atomic_write(tmp_path / "dir", b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "sock"]  # no temp file left


def test_a_symlinked_file_is_replaced_at_its_target(tmp_path):
    from xmlp.io.files import atomic_write

    (tmp_path / "real.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to("real.csv")
    atomic_write(tmp_path / "link.csv", "new")
    assert (tmp_path / "link.csv").is_symlink() and (tmp_path / "real.csv").read_text() == "new"


def test_files_get_the_umask_and_replaced_files_keep_their_mode(tmp_path):
    import os

    from xmlp.io.files import atomic_write

    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "new", "x")
        (tmp_path / "kept").write_text("x")
        os.chmod(tmp_path / "kept", 0o604)
        atomic_write(tmp_path / "kept", "y")
    finally:
        os.umask(old)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o640  # 0666 & ~027, like any tool
    assert (tmp_path / "kept").stat().st_mode & 0o777 == 0o604


def test_stale_temp_files_of_a_dead_process_are_cleaned(tmp_path):
    from xmlp.io.files import atomic_write

    stale = tmp_path / ".xmlp-tmp-999999999-model.safetensors.abc.tmp"  # no such pid
    stale.write_bytes(b"half")
    (tmp_path / ".xmlp-tmp-999999999-run.x").mkdir()
    atomic_write(tmp_path / "out", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_kill_during_save_leaves_the_old_file_or_the_new_one(tmp_path):
    """SIGKILL a process that saves big files over and over: the target is always a complete
    file, and the temp file the killed process left is cleaned by the next write."""
    import signal
    import subprocess
    import sys
    import time

    from xmlp.io.files import atomic_write

    script = ("import sys; sys.path.insert(0, sys.argv[2]); from xmlp.fileio import atomic_write\n"
              "i = 0\nwhile True:\n    i += 1\n    atomic_write(sys.argv[1], bytes([i % 251]) * 20_000_000)\n")
    target = tmp_path / "model.bin"
    root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
    for delay in (0.5, 0.9):
        proc = subprocess.Popen([sys.executable, "-c", script, str(target), root])
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes() if target.exists() else b""
        # A complete file of one repeated byte, never a prefix of one.
        assert data == b"" or (len(data) == 20_000_000 and data == data[:1] * len(data))
    atomic_write(tmp_path / "other", "x")  # the next write into the folder cleans up
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".xmlp-tmp-")]


# ----------------------------------------------------------------------------- all or nothing
def test_write_all_writes_both_or_neither(tmp_path):
    from xmlp.errors import CantCreateError
    from xmlp.io.files import write_all

    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.csv").mkdir()  # the second output cannot be written
    with pytest.raises(CantCreateError, match="b.csv: expected a regular file, a FIFO or a character device to write; received a folder"):
        write_all([(tmp_path / "a.csv", "new a"), (tmp_path / "b.csv", "new b")])
    assert (tmp_path / "a.csv").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]


def test_staged_folder_appears_only_when_complete(tmp_path):
    from xmlp.errors import CantCreateError
    from xmlp.io.files import reserve_folder, staged_folder

    final = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        with staged_folder(final) as folder:
            (folder / "model.safetensors").write_text("m")
            raise KeyboardInterrupt  # Ctrl-C after the model, before the plots
    assert list(tmp_path.iterdir()) == []
    with staged_folder(final) as folder:
        (folder / "model.safetensors").write_text("m")
    assert [p.name for p in final.iterdir()] == ["model.safetensors"]
    with pytest.raises(CantCreateError, match="expected a new run folder; received an existing one"):
        with staged_folder(final) as folder:
            (folder / "other").write_text("x")
    assert [p.name for p in final.iterdir()] == ["model.safetensors"]
    with staged_folder(final, replace=True) as folder:
        (folder / "other").write_text("x")
    assert [p.name for p in final.iterdir()] == ["other"]  # replaced whole: no stale files beside
    assert reserve_folder(tmp_path / "d") == tmp_path / "d" and reserve_folder(tmp_path / "d") == tmp_path / "d-2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "d-2", "run"]
