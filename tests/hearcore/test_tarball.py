"""Tarballs as multi-member gzip: each audio file's data its own member, compressed beforehand
or here with the same bytes, and the tar stream what tarfile itself writes."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from hearcore.tarball import Member, compress_file_data, write_tarball

ROOT = "hear-test/tasks"


@pytest.fixture()
def bundle(tmp_path) -> Path:
    """A bundle-shaped folder: top-level files and 16000/<split>/<stem>.wav (sizes vary so that
    some need tar padding and one needs a pax header for its long name)."""
    folder = tmp_path / "task-v1-full"
    rng = np.random.default_rng(0)
    for split, n in (("fold00", 3), ("fold01", 2)):
        (folder / "16000" / split).mkdir(parents=True)
        for i in range(n):
            stem = f"clip{i}" if i else "a" * 120
            audio = (rng.standard_normal(1000 + 333 * i) * 3000).astype(np.int16)
            sf.write(folder / "16000" / split / f"{stem}.wav", audio, 16000, subtype="PCM_16")
    (folder / "task_metadata.json").write_text('{"task_name": "task"}\n')
    (folder / "fold00.json").write_text("{}\n")
    return folder


def _reference_stream(bundle: Path) -> bytes:
    """The tar stream Python's TarFile writes for the same members, headers and order."""
    out = io.BytesIO()
    with tarfile.TarFile(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        top = sorted(p for p in bundle.iterdir() if p.is_file())
        sub = sorted(bundle.joinpath("16000").rglob("*"), key=lambda p: p.parts)
        for path in top + [bundle / "16000"] + sub:
            info = tarfile.TarInfo(f"{ROOT}/{bundle.name}/{path.relative_to(bundle).as_posix()}")
            info.mtime, info.uname, info.gname = 0, "", ""
            if path.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode, info.size = 0o644, path.stat().st_size
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    return out.getvalue()


def _precompress(bundle: Path, store: Path, sizes: dict[str, int] | None = None):
    members, offset = {}, 0
    with open(store, "wb") as f:
        for path in sorted(bundle.joinpath("16000").rglob("*.wav")):
            relpath = path.relative_to(bundle).as_posix()
            data = path.read_bytes()
            member = compress_file_data(data)
            f.write(member)
            size = (sizes or {}).get(relpath, len(data))
            members[relpath] = Member(store, offset, len(member), size)
            offset += len(member)
    return members


def test_the_tar_stream_is_what_tarfile_writes(bundle, tmp_path):
    dest = tmp_path / "t.tar.gz"
    write_tarball(bundle, 16000, dest, root=ROOT)
    assert gzip.decompress(dest.read_bytes()) == _reference_stream(bundle)


def test_each_audio_file_is_a_gzip_member_of_its_own(bundle, tmp_path):
    dest = tmp_path / "t.tar.gz"
    write_tarball(bundle, 16000, dest, root=ROOT)
    data = dest.read_bytes()
    wavs = sorted(bundle.joinpath("16000").rglob("*.wav"))
    for wav in wavs:
        assert compress_file_data(wav.read_bytes()) in data, wav.name
    # Members: the headers between files, plus one per file.
    assert data.count(b"\x1f\x8b\x08\x00\x00\x00\x00\x00") >= 2 * len(wavs)


def test_precompressed_members_give_the_same_bytes(bundle, tmp_path):
    plain, pre = tmp_path / "plain.tar.gz", tmp_path / "pre.tar.gz"
    write_tarball(bundle, 16000, plain, root=ROOT)
    write_tarball(bundle, 16000, pre, root=ROOT, precompressed=_precompress(bundle, tmp_path / "m"))
    assert pre.read_bytes() == plain.read_bytes()


def test_a_member_of_another_size_is_not_used(bundle, tmp_path):
    """A member recorded for other bytes of the file (its size differs) is compressed again."""
    plain, pre = tmp_path / "plain.tar.gz", tmp_path / "pre.tar.gz"
    write_tarball(bundle, 16000, plain, root=ROOT)
    victim = "16000/fold01/clip1.wav"
    members = _precompress(bundle, tmp_path / "m", sizes={victim: 12})
    write_tarball(bundle, 16000, pre, root=ROOT, precompressed=members)
    assert pre.read_bytes() == plain.read_bytes()


def test_tar_lists_and_extracts_the_files(bundle, tmp_path):
    dest = tmp_path / "t.tar.gz"
    write_tarball(
        bundle, 16000, dest, root=ROOT, precompressed=_precompress(bundle, tmp_path / "m")
    )
    listing = subprocess.run(["tar", "tzvf", str(dest)], capture_output=True, text=True, check=True)
    lines = listing.stdout.splitlines()
    assert len(lines) == 2 + 1 + 2 + 5  # top files, rate folder, split folders, clips
    assert all("0/0" in line and "1970-01-01" in line for line in lines)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "xzf", str(dest), "-C", str(out)], check=True)
    for path in bundle.rglob("*.wav"):
        copy = out / ROOT / bundle.name / path.relative_to(bundle)
        assert copy.read_bytes() == path.read_bytes()
    with tarfile.open(dest) as tar:
        assert len(tar.getnames()) == len(lines)


def test_precompressed_members_are_copied_not_recompressed(bundle, tmp_path):
    """Members stored with other (same-sized) content show up in the tarball: they are copied."""
    members = _precompress(bundle, tmp_path / "m")
    relpath = "16000/fold00/clip1.wav"
    size = members[relpath].size
    other = compress_file_data(b"\x01" * size)
    store = tmp_path / "other"
    store.write_bytes(other)
    members[relpath] = Member(store, 0, len(other), size)
    dest = tmp_path / "t.tar.gz"
    write_tarball(bundle, 16000, dest, root=ROOT, precompressed=members)
    with tarfile.open(dest) as tar:
        data = tar.extractfile(f"{ROOT}/{bundle.name}/{relpath}").read()
    assert data == b"\x01" * size


def test_a_member_whose_file_is_gone_is_compressed_here(bundle, tmp_path):
    plain, pre = tmp_path / "plain.tar.gz", tmp_path / "pre.tar.gz"
    write_tarball(bundle, 16000, plain, root=ROOT)
    members = _precompress(bundle, tmp_path / "m")
    (tmp_path / "m").unlink()
    write_tarball(bundle, 16000, pre, root=ROOT, precompressed=members)
    assert pre.read_bytes() == plain.read_bytes()
