"""extract_archive() on real archives: zip and tar written in tmp_path; rar from rarfile's sdist."""

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import pytest
import rarfile

from hearcore.archive import ArchiveError, UnsafeArchiveError, extract_archive

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


def test_rar_without_unar_says_to_install_it(tmp_path, dest, monkeypatch):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    archive = tmp_path / "Hive1.rar"
    archive.write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    with pytest.raises(ArchiveError, match="install"):
        extract_archive(archive, dest)


# RAR: real archives. RAR cannot be written by free tools, so the tests use the sample archives
# that rarfile's source distribution on PyPI ships (test/files/), fetched once into pytest's
# cache folder (.pytest_cache, git-ignored).

STEST = (2048, 0xC5B7E6A2)  # every stest*.txt in the samples: size, CRC-32
SUBDIRS = {
    "sub/dir1/file1.txt": (6, 0xE229F704),
    "sub/dir2/file2.txt": (6, 0xC904A4C7),
    "sub/with space/long fn.txt": (8, 0x71B7247D),
    "sub/üȵĩöḋè/file.txt": (5, 0x2FEC89C1),
}


@pytest.fixture(scope="session")
def rar_samples(request, tmp_path_factory) -> Path:
    """The folder of rarfile's sample archives (skips, saying why, if they cannot be fetched)."""
    cache = getattr(request.config, "cache", None)
    name = f"rarfile-{rarfile.__version__}-samples"
    folder = cache.mkdir(name) if cache else tmp_path_factory.mktemp(name)
    if (folder / "complete").is_file():
        return folder
    with tempfile.TemporaryDirectory() as tmp:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        pip += ["--dest", tmp, f"rarfile=={rarfile.__version__}"]
        try:
            result = subprocess.run(pip, capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("the RAR samples come from rarfile's sdist on PyPI: pip download timed out")
        sdists = list(Path(tmp).glob("rarfile-*.tar.gz"))
        if result.returncode != 0 or not sdists:
            pytest.skip(
                "the RAR samples come from rarfile's source distribution on PyPI, and `pip "
                f"download --no-binary :all: rarfile` failed: {result.stderr.strip()[-400:]}"
            )
        with tarfile.open(sdists[0]) as tf:
            for member in tf.getmembers():
                if member.isfile() and "/test/files/" in member.name:
                    (folder / Path(member.name).name).write_bytes(tf.extractfile(member).read())
    (folder / "complete").touch()
    return folder


@pytest.fixture
def rar(rar_samples, tmp_path, unar):
    """Copy one sample into a folder of its own and return its path."""

    def sample(name: str) -> Path:
        (tmp_path / "in").mkdir(exist_ok=True)
        return Path(shutil.copy(rar_samples / name, tmp_path / "in" / name))

    return sample


@pytest.fixture(scope="session")
def unar():
    if shutil.which("unar") is None:
        pytest.skip("unar, the RAR decompressor, is not installed: `apt-get install unar`")


def _crcs(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, zlib.crc32(p.read_bytes()))
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.mark.parametrize("name", ["rar3-subdirs.rar", "rar5-subdirs.rar"])
def test_rar_directory_tree(rar, dest, name):
    extract_archive(rar(name), dest)
    assert _crcs(dest) == SUBDIRS
    assert (dest / "sub" / "empty").is_dir()


@pytest.mark.parametrize(
    "name, files",
    [
        ("seektest.rar", ["stest1.txt", "stest2.txt"]),  # RAR 2.9 (RAR4), compressed
        ("rar5-crc.rar", ["stest1.txt", "stest2.txt"]),  # RAR5, compressed
        ("rar3-solid.rar", ["stest1.txt", "stest2.txt"]),  # solid: one run of unar
        ("rar5-solid.rar", ["stest1.txt", "stest2.txt"]),
        (
            "rar5-solid-qo.rar",
            ["somedir/stest1.txt", "somedir/stest2.txt", "stest1.txt", "stest2.txt"],
        ),
        ("rar5-hlink.rar", ["stest1.txt", "stest2.txt", "stest3.txt"]),  # hard links
        ("rar5-dups.rar", [f"stest{i}.txt" for i in range(1, 10)]),  # file copies
    ],
)
def test_rar_compressed_and_solid(rar, dest, name, files):
    archive = rar(name)
    extract_archive(archive, dest)
    with rarfile.RarFile(archive) as rf:
        expected = {i.filename: i.file_size for i in rf.infolist() if i.is_file()}
    assert {k: size for k, (size, _) in _crcs(dest).items()} == expected
    for file in files:
        assert _crcs(dest)[file] == STEST


def test_rar_unicode_names(rar, dest):
    extract_archive(rar("unicode.rar"), dest)  # RAR4, solid
    assert sorted(_crcs(dest)) == sorted(["уииоотивл.txt", "𝐀𝐁𝐁𝐂.txt"])


def test_rar_beside_look_alike_names(rar_samples, unar, dest):
    """unar would take rar3-solid.rar for the second volume of rar5-solid.rar beside it."""
    assert (rar_samples / "rar3-solid.rar").is_file()
    extract_archive(rar_samples / "rar5-solid.rar", dest)
    assert _crcs(dest) == {"stest1.txt": STEST, "stest2.txt": STEST}


@pytest.mark.parametrize(
    "name",
    [
        "rar5-evil-symlink-traversal.rar",  # up -> .., then up/pwned.txt
        "rar5-symlink-unix.rar",  # random_link -> ../random123
        "rar3-symlink-unix.rar",  # the same, RAR4 (target kept as the member's data)
        "rar5-symlink-win.rar",  # a junction to C:/Users/..., a link to ../../missing
    ],
)
def test_rar_links_pointing_outside_are_refused(rar, tmp_path, dest, name):
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_archive(rar(name), dest)
    _nothing_escaped(tmp_path, dest)
    assert not dest.exists()


@pytest.mark.parametrize("name", ["rar5-psw.rar", "rar3-comment-psw.rar", "rar5-hpsw.rar"])
def test_encrypted_rar_is_refused(rar, dest, name):
    with pytest.raises(ArchiveError, match="encrypted"):
        extract_archive(rar(name), dest)
    assert not dest.exists()


@pytest.mark.parametrize("keep", [2000, 100])
def test_truncated_rar(rar, dest, keep):
    archive = rar("rar5-crc.rar")
    archive.write_bytes(archive.read_bytes()[:keep])
    with pytest.raises(ArchiveError, match="delete it") as info:
        extract_archive(archive, dest)
    assert str(archive) in str(info.value)


@pytest.mark.parametrize("name, at", [("seektest.rar", 120), ("rar3-solid.rar", 100)])
def test_rar_with_corrupt_data(rar, dest, name, at):
    archive = rar(name)  # `at` lies inside stest1.txt's packed data
    data = bytearray(archive.read_bytes())
    data[at : at + 10] = bytes(x ^ 0xFF for x in data[at : at + 10])
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="corrupt") as info:
        extract_archive(archive, dest)
    assert str(archive) in str(info.value) and "delete it" in str(info.value)


def test_multi_volume_rar_is_refused(rar, dest):
    with pytest.raises(ArchiveError, match="multi-volume"):
        extract_archive(rar("rar5-vols.part1.rar"), dest)


def test_rar_backend_missing(rar, dest, monkeypatch):
    monkeypatch.setattr(rarfile, "UNAR_TOOL", "/nonexistent/unar")
    archive = rar("rar5-crc.rar")
    with pytest.raises(ArchiveError) as info:
        extract_archive(archive, dest)
    message = str(info.value)
    assert str(archive) in message and "apt-get install unar" in message
    assert "brew install unar" in message


# --- Hard links (zip bombs: test_members.py; archives too big to fit: test_full_disk.py) ----


@pytest.mark.parametrize(
    "links",
    [
        [("corpus/link.txt", "/work/outside.txt", tarfile.LNKTYPE)],  # absolute
        [("corpus/link.txt", "corpus/../../outside.txt", tarfile.LNKTYPE)],  # climbs out
        [("up", "..", tarfile.SYMTYPE), ("corpus/link.txt", "up/outside.txt", tarfile.LNKTYPE)],
    ],
    ids=["absolute", "climbing", "through-inner-symlink"],
)
def test_writing_through_a_hard_link_to_outside_is_refused(tmp_path, dest, links):
    # A hard link to a file outside, then a member of the same name, would overwrite that file
    # through the link: the link alone must stop the archive.
    outside = tmp_path / "work" / "outside.txt"
    outside.write_bytes(b"precious")
    archive = _write_tar(tmp_path / "bad.tar", {"corpus/ok.txt": b"fine"}, "w", links)
    with tarfile.open(archive, "a") as tf:
        info = tarfile.TarInfo("corpus/link.txt")
        info.size = 5
        tf.addfile(info, io.BytesIO(b"pwned"))
    with pytest.raises(UnsafeArchiveError, match="link"):
        extract_archive(archive, dest)
    assert outside.read_bytes() == b"precious" and not dest.exists()


def test_tar_hard_link_inside_is_kept(tmp_path, dest):
    links = [("b.txt", "corpus/a.txt", tarfile.LNKTYPE)]
    extract_archive(_write_tar(tmp_path / "ok.tar", {"corpus/a.txt": b"same"}, "w", links), dest)
    assert (dest / "b.txt").read_bytes() == b"same"
