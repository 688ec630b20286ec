"""The folder view of a source extracted extract_first: files on disk, zip members in place."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

import pytest

from hearpreprocess import sourceview
from hearpreprocess.members import scan_and_extract

MEMBERS = {"corpus/meta.csv": b"name\nclip\n", "corpus/audio/clip.wav": b"RIFF" + bytes(300)}


def _partial(archive: Path, folder: Path) -> Path:
    names = scan_and_extract(archive, folder, lambda name: name.endswith(".csv"))
    sourceview.write_view_records(folder, archive, names)
    return folder


@pytest.fixture()
def zip_view(tmp_path) -> Path:
    archive = tmp_path / "corpus.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in MEMBERS.items():
            z.writestr(name, data)
    return _partial(archive, tmp_path / "view")


def test_a_zip_member_is_read_in_place(zip_view):
    wav = zip_view / "corpus" / "audio" / "clip.wav"
    assert not wav.exists() and sourceview.exists(wav)
    assert sourceview.file_size(wav) == len(MEMBERS["corpus/audio/clip.wav"])
    with sourceview.open_file(wav) as f:
        assert f.read() == MEMBERS["corpus/audio/clip.wav"]
        f.seek(4)  # seekable, as soundfile needs
        assert f.read(4) == bytes(4)


def test_extracted_files_are_plain_files(zip_view):
    csv = zip_view / "corpus" / "meta.csv"
    assert csv.is_file() and sourceview.exists(csv)
    with sourceview.open_file(csv) as f:
        assert f.read() == MEMBERS["corpus/meta.csv"]


def test_what_the_archive_lacks_does_not_exist(zip_view, tmp_path):
    assert not sourceview.exists(zip_view / "corpus" / "audio" / "other.wav")
    assert not sourceview.exists(tmp_path / "elsewhere.wav")
    with pytest.raises(FileNotFoundError, match="neither a file nor a member"):
        sourceview.open_file(zip_view / "corpus" / "audio" / "other.wav")


def test_the_view_survives_a_moved_work_dir(zip_view, tmp_path):
    moved = tmp_path / "moved"
    (tmp_path / "moved").mkdir()
    zip_view.rename(moved / "view")
    (tmp_path / "corpus.zip").rename(moved / "corpus.zip")
    with sourceview.open_file(moved / "view" / "corpus" / "audio" / "clip.wav") as f:
        assert f.read(4) == b"RIFF"


def test_a_tar_member_must_be_extracted_first(tmp_path):
    archive = tmp_path / "corpus.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in MEMBERS.items():
            path = tmp_path / "src" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            tar.add(path, arcname=name)
    view = _partial(archive, tmp_path / "view")
    wav = view / "corpus" / "audio" / "clip.wav"
    assert sourceview.exists(wav)
    with pytest.raises(FileNotFoundError, match="a tar, which is read front to back"):
        sourceview.open_file(wav)
