"""Atomic outputs: all or nothing, and what a killed attempt left behind is cleared."""

import os
import socket
import subprocess
import sys

import pytest

from hearcore.atomic import (
    atomic_path,
    atomic_write_text,
    remove_stale_temporaries,
    temporary_sibling,
    temporary_writer,
)


def test_file_and_folder_appear_only_when_complete(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "one")
    assert (tmp_path / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "dir") as tmp:
            tmp.mkdir()
            (tmp / "half").write_text("x")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == [tmp_path / "a.txt"]


def test_existing_folder_is_replaced_whole(tmp_path):
    for name in ("old", "new"):
        with atomic_path(tmp_path / "dir") as tmp:
            tmp.mkdir()
            (tmp / name).write_text(name)
    assert [p.name for p in (tmp_path / "dir").iterdir()] == ["new"]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _temporary(folder, pid, host, name):
    path = folder / f".tmp-{pid}@{host}-0123abcd~{name}"
    path.mkdir()
    (path / "clip.wav").write_bytes(b"half")
    return path


def test_only_leftovers_of_a_dead_writer_on_this_host_are_removed(tmp_path):
    host = socket.gethostname()
    dead = _temporary(tmp_path, _dead_pid(), host, "shard-0000")
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as live:
        try:
            alive = _temporary(tmp_path, live.pid, host, "shard-0000")
            elsewhere = _temporary(tmp_path, _dead_pid(), "other-host.example", "shard-0000")
            other_output = _temporary(tmp_path, _dead_pid(), host, "shard-0001")
            with atomic_path(tmp_path / "shard-0000") as tmp:
                tmp.mkdir()
        finally:
            live.kill()
    assert not dead.exists()
    assert alive.exists() and elsewhere.exists() and other_output.exists()
    assert (tmp_path / "shard-0000").is_dir()


def test_a_temporary_names_its_writer(tmp_path):
    tmp = temporary_sibling(tmp_path / "a~b.json")
    assert temporary_writer(tmp) == (os.getpid(), socket.gethostname(), "a~b.json")
    assert temporary_writer(tmp_path / "a.json") is None
    assert remove_stale_temporaries(tmp_path / "missing" / "x") == []
