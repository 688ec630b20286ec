"""extract_multipart_zip() on split zips made by Info-ZIP and by write_split_zip().

Info-ZIP (`zip`, `unzip`) is a test tool only: it makes the reference split archives and checks the
fake writer's output. `make install-system` installs it; without it these tests skip and say so.
"""

import hashlib
import random
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from hearcore.archive import ArchiveError, UnsafeArchiveError
from hearpreprocess import multipart
from hearpreprocess.builtin.archives import write_split_zip
from hearpreprocess.multipart import extract_multipart_zip

PART = 64 * 1024  # Info-ZIP's smallest split size


def _noise(name: str, size: int) -> bytes:
    """Incompressible bytes, so that the parts fill up even when deflated."""
    return random.Random(name).randbytes(size)


FILES = {
    "FSD50K.dev_audio/big.wav": _noise("big", 3 * PART + 1234),  # spans four parts
    "FSD50K.dev_audio/100.wav": _noise("100", 40_000),
    "FSD50K.dev_audio/text.csv": b"fname,labels\n" + b"100,Dog\n" * 5000,  # deflates well
    "FSD50K.dev_audio/empty.wav": b"",
    "FSD50K.dev_audio/sub dir/with space.wav": _noise("u", 5000),
    **{f"FSD50K.dev_audio/many/{i:03d}.wav": _noise(str(i), 300 + 37 * i) for i in range(150)},
}


@pytest.fixture(scope="module")
def info_zip():
    if shutil.which("zip") is None:
        pytest.skip("Info-ZIP `zip` is not installed: `apt-get install zip` (make install-system)")
    return shutil.which("zip")


def _info_zip_split(info_zip, folder: Path, files: dict, *options: str) -> list[Path]:
    """Write `files` under folder/src and split-zip them with Info-ZIP into folder/X.z01..."""
    src = folder / "src"
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    top = sorted({name.split("/")[0] for name in files})
    command = [info_zip, "-q", "-r", "-s", "64k", *options, str(folder / "X.zip"), *top]
    subprocess.run(command, cwd=src, check=True)
    return _parts(folder / "X.zip")


def _parts(last: Path) -> list[Path]:
    return sorted(last.parent.glob(f"{last.stem}.z[0-9]*")) + [last]


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("options", [("-0",), (), ("-fz",)], ids=["stored", "deflated", "zip64"])
def test_info_zip_split_round_trip(info_zip, tmp_path, options):
    parts = _info_zip_split(info_zip, tmp_path, FILES, *options)
    assert len(parts) >= 5 and parts[0].read_bytes()[:4] == b"PK\x07\x08"
    extract_multipart_zip(parts, tmp_path / "out")
    assert _tree(tmp_path / "out") == FILES
    assert (tmp_path / "out" / "FSD50K.dev_audio" / "many").is_dir()


def test_single_part_split_zip(info_zip, tmp_path):
    parts = _info_zip_split(info_zip, tmp_path, {"a/x.txt": b"tiny"})
    assert [p.name for p in parts] == ["X.zip"]
    extract_multipart_zip(parts, tmp_path / "out")
    assert _tree(tmp_path / "out") == {"a/x.txt": b"tiny"}


def test_joined_stream_gets_zip64_records(info_zip, tmp_path, monkeypatch):
    """FSD50K's parts add up to ~24 GB: past 4 GiB the joined stream needs zip64 records. A lower
    limit makes every offset "large" here, so zipfile reads our zip64 extras and end records."""
    monkeypatch.setattr(multipart, "_ZIP64_LIMIT", 1000)
    parts = _info_zip_split(info_zip, tmp_path, FILES)
    extract_multipart_zip(parts, tmp_path / "out")
    assert _tree(tmp_path / "out") == FILES


@pytest.mark.parametrize("zip64", [False, True])
@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_fake_writer_is_read_by_info_zip_and_by_us(info_zip, tmp_path, zip64, compression):
    # Members under one part each: Info-ZIP 3.0's `zip -s 0` writes a broken join when one member
    # spans three or more parts (extract_multipart_zip reads those, see the round trip above).
    files = {k: v for k, v in FILES.items() if len(v) < PART}
    md5 = write_split_zip(tmp_path / "X.zip", files, PART, compression, zip64=zip64)
    parts = list(md5)
    assert [p.name for p in parts] == [f"X.z{i:02d}" for i in range(1, len(parts))] + ["X.zip"]
    # As with Info-ZIP, a part ends early only where the next header would not fit.
    assert len(parts) >= 3 and all(PART - 200 < p.stat().st_size <= PART for p in parts[:-1])
    assert parts[0].read_bytes()[:4] == b"PK\x07\x08"
    assert md5 == {p: hashlib.md5(p.read_bytes()).hexdigest() for p in parts}
    if shutil.which("unzip") is None:
        pytest.skip(
            "Info-ZIP `unzip` is not installed: `apt-get install unzip` (make install-system)"
        )
    joined = tmp_path / "joined.zip"
    subprocess.run([info_zip, "-q", "-s", "0", str(parts[-1]), "--out", str(joined)], check=True)
    test = subprocess.run(["unzip", "-tq", str(joined)], capture_output=True, text=True)
    assert test.returncode == 0, test.stdout + test.stderr
    extract_multipart_zip(parts, tmp_path / "out")
    assert _tree(tmp_path / "out") == files


def test_fake_writer_is_deterministic_and_spans_members(tmp_path):
    # Info-ZIP 3.0 marks no name as UTF-8 (so zipfile reads them as cp437, in split zips as in
    # plain ones); the fake writer sets the UTF-8 flag, so unicode names survive here.
    files = {**FILES, "FSD50K.dev_audio/ünïcødé 音.wav": _noise("ü", 3000)}
    first = write_split_zip(tmp_path / "a" / "X.zip", files, PART)
    again = write_split_zip(tmp_path / "b" / "X.zip", files, PART)
    assert list(first.values()) == list(again.values())
    extract_multipart_zip(list(first), tmp_path / "out")
    assert _tree(tmp_path / "out") == files


def test_fake_writer_splits_no_header(tmp_path):
    parts = write_split_zip(tmp_path / "X.zip", {f"d/{i}": b"x" * 300 for i in range(60)}, 1000)
    assert any(p.stat().st_size < 1000 for p in list(parts)[:-1])  # a header moved to a new part
    extract_multipart_zip(list(parts), tmp_path / "out")
    assert len(_tree(tmp_path / "out")) == 60


# Errors: each names the part at fault and says what to do.


@pytest.fixture
def split(tmp_path):
    return list(write_split_zip(tmp_path / "X.zip", FILES, PART))


def _fails(parts, tmp_path, *fragments):
    with pytest.raises(ArchiveError) as info:
        extract_multipart_zip(parts, tmp_path / "out")
    for fragment in fragments:
        assert str(fragment) in str(info.value), info.value
    return str(info.value)


def test_part_left_out(split, tmp_path):
    message = _fails(split[:1] + split[2:], tmp_path, "X.z02 is missing", "download")
    assert "X.z01" in message


def test_part_not_downloaded(split, tmp_path):
    split[1].unlink()
    _fails(split, tmp_path, split[1], "does not exist", "download")


def test_last_part_truncated(split, tmp_path):
    split[-1].write_bytes(split[-1].read_bytes()[:-30])
    _fails(split, tmp_path, split[-1], "end-of-central-directory", "delete it")


@pytest.mark.parametrize("which", [0, 1, 3])
def test_middle_part_truncated(split, tmp_path, which):
    split[which].write_bytes(split[which].read_bytes()[:-100])
    _fails(split, tmp_path, split[which], "delete")


def test_member_data_corrupted(split, tmp_path):
    data = bytearray(split[2].read_bytes())
    data[30_000:30_010] = bytes(x ^ 0xFF for x in data[30_000:30_010])
    split[2].write_bytes(bytes(data))
    _fails(split, tmp_path, split[2], "corrupt", "delete")


def _headers_in(parts: list[Path], which: int) -> list[int]:
    """Offsets of the local headers in parts[which], from the central directory."""
    with multipart._JoinedParts(parts) as joined:
        entries = multipart._read_central_directory(parts, joined)
    return [entry.offset for entry in entries if entry.disk == which]


def test_local_header_corrupted(split, tmp_path):
    which = next(i for i in range(1, len(split)) if _headers_in(split, i))
    at = _headers_in(split, which)[-1]
    data = split[which].read_bytes()
    split[which].write_bytes(data[:at] + b"XXXX" + data[at + 4 :])
    _fails(split, tmp_path, split[which], "not where the central directory says", "delete it")


def test_parts_out_of_order_by_name(split, tmp_path):
    _fails([split[1], split[0], *split[2:]], tmp_path, "not in order", "X.z01, X.z02")
    _fails([split[0], split[-1], *split[1:-1]], tmp_path, "not in order")


@pytest.mark.parametrize("swap", [(0, 1), (1, 2), (3, 4), (-2, -1)])
def test_parts_out_of_order_under_other_names(split, tmp_path, swap):
    """Names of the caller's own choosing: the archive's structure catches the swap."""
    order = list(range(len(split)))
    order[swap[0]], order[swap[1]] = order[swap[1]], order[swap[0]]
    renamed = []
    for i in order:
        renamed.append(tmp_path / f"part-{len(renamed)}.bin")
        shutil.copy(split[i], renamed[-1])
    _fails(renamed, tmp_path, "out of order", "delete")


def test_no_parts(tmp_path):
    _fails([], tmp_path, "at least one part")


def test_escaping_member_is_refused(tmp_path):
    parts = write_split_zip(
        tmp_path / "X.zip", {"ok.wav": _noise("ok", PART), "../evil": b"x"}, PART
    )
    with pytest.raises(UnsafeArchiveError, match="outside"):
        extract_multipart_zip(list(parts), tmp_path / "work" / "out")
    assert not (tmp_path / "work").exists() and not (tmp_path / "evil").exists()


def test_encrypted_split_zip_is_refused(info_zip, tmp_path):
    parts = _info_zip_split(info_zip, tmp_path, FILES, "-P", "secret")
    _fails(parts, tmp_path, "encrypted")
    assert not (tmp_path / "out").exists()
