"""extract_archive() on real archives written in tmp_path."""

import io
import os
import tarfile
import zipfile

import pytest

from hearpreprocess.archive import ArchiveError, UnsafeArchiveError, extract_archive

FILES = {
    "corpus/README.txt": b"read me",
    "corpus/audio/clip one.wav": b"RIFF" + bytes(2000),
    "corpus/audio/ünïcødé 音.wav": b"RIFF" + bytes(range(256)) * 8,
    "corpus/meta/labels.csv": b"file,label\nclip one.wav,dog\n",
}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _write_tar(path, members, mode="w:gz", links=()):
    """members: name -> bytes; links: (name, target, tarfile type) tuples."""
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tf.addfile(info)
    return path


def _tree(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def dest(tmp_path):
    """The extraction folder sits one level down so that escapes land in tmp_path/work."""
    (tmp_path / "work").mkdir()
    return tmp_path / "work" / "out"


def _nothing_escaped(tmp_path, dest):
    work = tmp_path / "work"
    assert sorted(p.name for p in work.iterdir()) in ([], ["out"])
    assert not (tmp_path / "evil").exists()
    assert not dest.exists() or not any(dest.iterdir())


def test_zip_round_trip(tmp_path, dest):
    extract_archive(_write_zip(tmp_path / "c.zip", FILES), dest)
    assert _tree(dest) == FILES


@pytest.mark.parametrize(
    "name, mode",
    [
        ("c.tar.gz", "w:gz"),
        ("c.tgz", "w:gz"),
        ("c.tar", "w"),
        ("c.tar.bz2", "w:bz2"),
        ("c.tar.xz", "w:xz"),
    ],
)
def test_tar_round_trip(tmp_path, dest, name, mode):
    extract_archive(_write_tar(tmp_path / name, FILES, mode), dest)
    assert _tree(dest) == FILES


def test_format_is_sniffed_not_taken_from_the_name(tmp_path, dest):
    extract_archive(_write_tar(tmp_path / "really_a_tar.zip", FILES), dest / "a")
    extract_archive(_write_zip(tmp_path / "download?id=3", FILES), dest / "b")
    assert _tree(dest / "a") == FILES and _tree(dest / "b") == FILES


def test_tar_with_inner_symlink_is_kept(tmp_path, dest):
    links = [
        ("corpus/latest", "audio/clip one.wav", tarfile.SYMTYPE),
        ("corpus/copy.wav", "corpus/audio/clip one.wav", tarfile.LNKTYPE),
    ]
    extract_archive(_write_tar(tmp_path / "c.tar.gz", FILES, links=links), dest)
    assert (dest / "corpus" / "latest").read_bytes() == FILES["corpus/audio/clip one.wav"]
    assert (dest / "corpus" / "copy.wav").read_bytes() == FILES["corpus/audio/clip one.wav"]


@pytest.mark.parametrize("bad", ["../evil", "corpus/../../evil", "/tmp/evil", "C:/evil"])
def test_zip_escaping_names_are_refused(tmp_path, dest, bad):
    archive = _write_zip(tmp_path / "bad.zip", {"corpus/ok.txt": b"fine", bad: b"pwned"})
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_archive(archive, dest)
    _nothing_escaped(tmp_path, dest)


@pytest.mark.parametrize("bad", ["../evil", "a/../../evil", "/tmp/evil"])
def test_tar_escaping_names_are_refused(tmp_path, dest, bad):
    archive = _write_tar(tmp_path / "bad.tar.gz", {"corpus/ok.txt": b"fine", bad: b"pwned"})
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, dest)
    _nothing_escaped(tmp_path, dest)


@pytest.mark.parametrize(
    "links",
    [
        [("corpus/link", "../../evil", tarfile.SYMTYPE)],
        [("corpus/link", "/etc/passwd", tarfile.SYMTYPE)],
        [("corpus/link", "../evil", tarfile.LNKTYPE)],
        # Each link looks harmless alone; together `b` is the parent of the destination.
        [("a", ".", tarfile.SYMTYPE), ("b", "a/..", tarfile.SYMTYPE)],
        [("loop1", "loop2", tarfile.SYMTYPE), ("loop2", "loop1", tarfile.SYMTYPE)],
    ],
)
def test_tar_links_pointing_outside_are_refused(tmp_path, dest, links):
    archive = _write_tar(tmp_path / "bad.tar.gz", {"corpus/ok.txt": b"fine"}, links=links)
    with pytest.raises(UnsafeArchiveError):
        extract_archive(archive, dest)
    _nothing_escaped(tmp_path, dest)


def test_write_through_outside_symlink_is_refused(tmp_path, dest):
    # The classic: a link to the outside first, then a file written "into" the link.
    (tmp_path / "work" / "target").mkdir()
    with tarfile.open(tmp_path / "bad.tar", "w") as tf:
        info = tarfile.TarInfo("escape")
        info.type, info.linkname = tarfile.SYMTYPE, "../target"
        tf.addfile(info)
        info = tarfile.TarInfo("escape/evil")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"pwned"))
    with pytest.raises(UnsafeArchiveError):
        extract_archive(tmp_path / "bad.tar", dest)
    assert list((tmp_path / "work" / "target").iterdir()) == []


def test_device_file_is_refused(tmp_path, dest):
    with tarfile.open(tmp_path / "dev.tar", "w") as tf:
        info = tarfile.TarInfo("corpus/null")
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
        tf.addfile(info)
    with pytest.raises(UnsafeArchiveError, match="device"):
        extract_archive(tmp_path / "dev.tar", dest)
    assert not dest.exists()


def test_truncated_zip(tmp_path, dest):
    archive = _write_zip(tmp_path / "c.zip", FILES)
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(ArchiveError, match="delete it") as info:
        extract_archive(archive, dest)
    assert str(archive) in str(info.value)
    assert not isinstance(info.value, UnsafeArchiveError)


def test_zip_with_corrupt_data_fails(tmp_path, dest):
    archive = _write_zip(tmp_path / "c.zip", {"a.bin": os.urandom(5000)})
    data = bytearray(archive.read_bytes())
    data[100:110] = bytes(10)  # inside the compressed data: the CRC check catches it
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt"):
        extract_archive(archive, dest)


@pytest.mark.parametrize("name, mode", [("c.tar.gz", "w:gz"), ("c.tar.bz2", "w:bz2")])
def test_truncated_tar(tmp_path, dest, name, mode):
    members = {f"corpus/{i}.bin": os.urandom(3000) for i in range(5)}
    archive = _write_tar(tmp_path / name, members, mode)
    archive.write_bytes(archive.read_bytes()[:-2000])
    with pytest.raises(ArchiveError, match="delete it") as info:
        extract_archive(archive, dest)
    assert str(archive) in str(info.value)
    assert not dest.exists()  # the whole archive is read before anything is written


def test_not_an_archive(tmp_path, dest):
    (tmp_path / "page.html").write_text("<html>rate limited</html>")
    with pytest.raises(ArchiveError, match="not a zip"):
        extract_archive(tmp_path / "page.html", dest)


def test_missing_archive(tmp_path, dest):
    with pytest.raises(ArchiveError, match="does not exist"):
        extract_archive(tmp_path / "nothing.zip", dest)


def test_rar_without_unrar_says_to_install_it(tmp_path, dest, monkeypatch):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    archive = tmp_path / "Hive1.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    with pytest.raises(ArchiveError, match="install"):
        extract_archive(archive, dest)
