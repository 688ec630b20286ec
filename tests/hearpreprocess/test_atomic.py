"""Atomic outputs: all or nothing, and what a killed attempt left behind is cleared."""

import pytest

from hearpreprocess.atomic import atomic_path, atomic_write_text


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


def test_leftovers_of_a_killed_attempt_are_removed(tmp_path):
    stale_dir = tmp_path / ".tmp-0123456789ab-shard-0000"
    stale_dir.mkdir()
    (stale_dir / "clip.wav").write_bytes(b"half")
    other = tmp_path / ".tmp-0123456789ab-shard-0001"  # another output's temporary: kept
    other.mkdir()
    with atomic_path(tmp_path / "shard-0000") as tmp:
        tmp.mkdir()
    assert not stale_dir.exists() and other.exists()
    assert (tmp_path / "shard-0000").is_dir()
