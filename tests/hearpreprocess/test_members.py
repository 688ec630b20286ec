"""Extracting only some members of a zip or tar in one pass, and listing all of them."""

import io
import random
import tarfile

import pytest

from hearcore.archive import ArchiveError, UnsafeArchiveError
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
