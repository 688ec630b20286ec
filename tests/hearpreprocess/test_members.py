"""Extracting only some members of a zip or tar in one pass, and listing all of them."""

import io
import random
import struct
import tarfile

import pytest

from hearcore.archive import ArchiveError, UnsafeArchiveError, ZipBombError, extract_archive
from hearpreprocess.builtin.archives import write_tar_gz, write_zip
from hearpreprocess.members import member_name, scan_and_extract

MEMBERS = {
    "nsynth-train/examples.json": b"{}",
    "nsynth-train/audio/a-021-050.wav": b"A" * 1000,
    "nsynth-train/audio/b-060-100.wav": b"B" * 2000,
    "nsynth-train/audio/c-108-025.wav": b"C" * 3000,
}


@pytest.mark.parametrize("write", [write_zip, write_tar_gz], ids=["zip", "tar.gz"])
def test_selected_members_only_and_every_member_listed(tmp_path, write):
    archive = tmp_path / "a.archive"
    write(archive, MEMBERS)
    dest = tmp_path / "out"
    wanted = {"nsynth-train/examples.json", "nsynth-train/audio/b-060-100.wav"}
    names = scan_and_extract(archive, dest, wanted.__contains__)
    assert names == list(MEMBERS)  # regular files only, folders left out, archive order
    written = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert written == wanted
    assert (dest / "nsynth-train/audio/b-060-100.wav").read_bytes() == b"B" * 2000


def test_member_names_are_normalised():
    assert member_name("./x/y.wav") == "x/y.wav" and member_name("x\\y.wav") == "x/y.wav"


def _tar(path, entries):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def test_a_selected_link_or_escaping_name_is_refused(tmp_path):
    link = tarfile.TarInfo("x/link.wav")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive = tmp_path / "links.tar.gz"
    _tar(archive, [(link, None)])
    with pytest.raises(UnsafeArchiveError, match="link"):
        scan_and_extract(archive, tmp_path / "a", lambda name: True)
    assert scan_and_extract(archive, tmp_path / "b", lambda name: False) == []
    evil = tarfile.TarInfo("../evil.wav")
    evil.size = 3
    archive = tmp_path / "evil.tar.gz"
    _tar(archive, [(evil, b"abc")])
    with pytest.raises(UnsafeArchiveError, match="outside"):
        scan_and_extract(archive, tmp_path / "c", lambda name: True)
    assert not (tmp_path / "evil.wav").exists()


def test_truncated_tar_and_rar_give_clear_errors(tmp_path):
    archive = tmp_path / "a.tar.gz"
    noise = random.Random(0).randbytes(200_000)  # incompressible, so the cut loses members
    write_tar_gz(archive, {**MEMBERS, "nsynth-train/audio/d-050-050.wav": noise})
    archive.write_bytes(archive.read_bytes()[:100_000])
    with pytest.raises(ArchiveError, match="corrupt or truncated"):
        scan_and_extract(archive, tmp_path / "out", lambda name: True)
    rar = tmp_path / "a.rar"
    rar.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    with pytest.raises(ArchiveError, match="zip and tar"):
        scan_and_extract(rar, tmp_path / "out2", lambda name: True)


def zip_bomb(path, declared: int, actual: int) -> None:
    """A real zip whose member x/audio/bomb.wav unpacks to `actual` bytes of zeros while both its
    local and its central header declare `declared` (their file_size fields patched)."""
    write_zip(path, {"x/examples.json": b"{}", "x/audio/bomb.wav": bytes(actual)})
    data = bytearray(path.read_bytes())
    name = b"x/audio/bomb.wav"
    local = data.index(name) - 30  # the fixed part of a local header precedes the name
    central = data.rindex(name) - 46  # and that of its central directory entry
    assert data[local : local + 4] == b"PK\x03\x04" and data[central : central + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))


EXTRACTORS = {
    "whole": extract_archive,
    "selected": lambda archive, dest: scan_and_extract(archive, dest, lambda name: True),
}


@pytest.mark.parametrize("extract", EXTRACTORS.values(), ids=EXTRACTORS.keys())
def test_a_zip_bomb_is_stopped_at_its_declared_size(tmp_path, extract):
    archive = tmp_path / "bomb.zip"
    zip_bomb(archive, declared=1000, actual=20_000_000)
    assert archive.stat().st_size < 100_000  # 20 MB of zeros deflate to a few KB
    with pytest.raises(ZipBombError, match="unpacks to more than the 1,000 bytes") as info:
        extract(archive, tmp_path / "out")
    assert str(archive) in str(info.value) and "x/audio/bomb.wav" in str(info.value)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= 1000 + 2  # the copy stopped at the declared size (+ examples.json)


def test_an_unselected_zip_bomb_is_listed_not_unpacked(tmp_path):
    zip_bomb(tmp_path / "bomb.zip", declared=1000, actual=20_000_000)
    names = scan_and_extract(tmp_path / "bomb.zip", tmp_path / "out", lambda n: n.endswith("json"))
    assert names == ["x/examples.json", "x/audio/bomb.wav"]


@pytest.mark.parametrize("extract", EXTRACTORS.values(), ids=EXTRACTORS.keys())
def test_a_zip_member_shorter_than_declared_is_corrupt_not_a_bomb(tmp_path, extract):
    zip_bomb(tmp_path / "short.zip", declared=5000, actual=1000)
    with pytest.raises(ArchiveError, match="corrupt") as info:
        extract(tmp_path / "short.zip", tmp_path / "out")
    assert not isinstance(info.value, UnsafeArchiveError)
