"""A full disk: the runner stops with a clear message, shows no half-written output, and a rerun
after space is freed builds outputs identical to a clean run.

The work, tasks and tarball folders sit on a small tmpfs mounted for the test (we run as root;
elsewhere the test is skipped), beside the outputs of a clean run made on it first. A filler file
then leaves too little free: once so little that the download fails, and once, after a run that
built everything but the tarballs, too little for them. Archives whose members declare more than
the destination's free space are refused before anything is written (hearcore.archive,
hearpreprocess.members).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from benchmarks.kill_soak import compare, snapshot
from hearcore.archive import NoSpaceForArchiveError, extract_archive
from hearpreprocess.builtin.archives import write_tar_gz, write_zip
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.members import scan_and_extract
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.pipeline.errors import describe_error

REPO = Path(__file__).resolve().parents[2]
BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"
DISK_BYTES = 24 << 20
_NO_SPACE = re.compile(
    r"NOT BUILT: tones-v1-small: (?P<step>\w+) failed(?: on \S+)?: no space left on the device "
    r"holding (?P<folder>\S+); free space or choose another --work-dir/--tasks-dir/--tar-dir"
)


@contextlib.contextmanager
def tmpfs(mount: Path, size: int) -> Iterator[Path]:
    """A tmpfs of `size` bytes mounted at `mount` (skips the test where mounting is refused)."""
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"tmpfs mounting is not permitted here ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


@pytest.fixture()
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk", DISK_BYTES) as mount:
        yield mount


@pytest.fixture()
def mirror(tmp_path):
    """A loopback mirror serving a small tones archive (4 clips per pitch); yields (url, md5)."""
    root = tmp_path / "mirror"
    md5 = write_archive(mirror_location(root, URL), clips_per_label=4)
    with MirrorServer(root) as server:
        yield server.url, md5


def _run(out: Path, mirror: tuple[str, str], tmp_path: Path, *extra: str):
    url, md5 = mirror
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n')
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=small"]
    argv += [f"--mirror={url}", f"--config-overrides={overrides}", "--workers=1"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    argv += ["--sample-rate=16000", "--sample-rate=22050", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=REPO)


def _fill(mount: Path, leave_free: int) -> Path:
    """A filler file that leaves `leave_free` bytes of the tmpfs free."""
    stat = os.statvfs(mount)
    filler = mount / "filler"
    with open(filler, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, stat.f_bavail * stat.f_frsize - leave_free)
    return filler


def _nothing_half_written(out: Path, reference: dict[str, str]) -> None:
    """What the failed run left in tasks/ and tar/ is finished output (or nothing): no
    temporaries, no file that differs from the clean run's; SHA256SUMS, an index of the tarballs
    in place, lists exactly those, with their sha256."""
    found = snapshot(out)
    lines = [line for line in compare(reference, found, out) if not line.startswith("missing")]
    assert [line for line in lines if line != "differs tar/SHA256SUMS"] == []
    sums = out / "tar" / "SHA256SUMS"
    if sums.exists():
        listed = dict(reversed(line.split("  ", 1)) for line in sums.read_text().splitlines())
        tarballs = {p: sha for p, sha in found.items() if p.endswith(".tar.gz")}
        assert {f"tar/{name}": sha for name, sha in listed.items()} == tarballs


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["download", "tarballs"])
def test_full_disk_fails_clearly_and_a_rerun_after_freeing_space_completes(
    tmp_path, small_disk, mirror, stage
):
    clean = small_disk / "clean"
    done = _run(clean, mirror, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tarballs = sum(p.stat().st_size for p in (clean / "tar").glob("*.tar.gz"))
    reference = snapshot(clean)
    subprocess.run(["rm", "-rf", str(clean)], check=True)

    out = small_disk / "run"
    if stage == "tarballs":  # every step but the tarballs done while there was room
        done = _run(out, mirror, tmp_path, "--no-tarballs")
        assert done.returncode == 0, done.stdout + done.stderr
    # Too little for the 3.5 MB download, or for half the tarballs.
    filler = _fill(small_disk, 1 << 20 if stage == "download" else tarballs // 2)
    failed = _run(out, mirror, tmp_path)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    match = _NO_SPACE.search(failed.stdout)
    assert match, output
    expected = {"download": ("DownloadedFile", "work"), "tarballs": ("TaskTarball", "tar")}[stage]
    folder = Path(match["folder"])
    assert match["step"] == expected[0], output
    assert folder == out / expected[1] or out / expected[1] in folder.parents, output
    _nothing_half_written(out, reference)

    filler.unlink()
    again = _run(out, mirror, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert compare(reference, snapshot(out), out) == []


# --- Archives whose members declare more than the destination's free space -----------------


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_members_that_do_not_fit_are_refused_before_they_are_written(tmp_path, kind):
    members = {f"x/{i}.wav": bytes(600_000) for i in range(3)}  # 1.8 MB, truthfully declared
    archive = tmp_path / f"big.{kind}"
    (write_zip if kind == "zip" else write_tar_gz)(archive, members)
    # Whole archives and selected zip members are checked together, up front; a tar read in one
    # pass (no list of members before its end) member by member, so x/0.wav fits and is written.
    one_by_one = kind == "tar.gz"
    cases = [
        ("whole", extract_archive, "1,800,000", []),
        (
            "selected",
            _select_all,
            "600,000" if one_by_one else "1,800,000",
            ["x/0.wav"][:one_by_one],
        ),
    ]
    with tmpfs(tmp_path / "disk", 1 << 20) as disk:
        for name, extract, declared, written in cases:
            dest = disk / name
            with pytest.raises(NoSpaceForArchiveError, match=f"declares {declared} bytes") as info:
                extract(archive, dest)
            assert str(archive) in str(info.value) and str(dest) in str(info.value)
            files = {p.relative_to(dest).as_posix(): p.stat().st_size for p in dest.rglob("*.wav")}
            assert files == {f: 600_000 for f in written}  # finished members only, no partial one
            shutil.rmtree(dest, ignore_errors=True)
        names = scan_and_extract(archive, disk / "one", lambda name: name == "x/0.wav")
        assert len(names) == 3 and (disk / "one/x/0.wav").stat().st_size == 600_000


def _select_all(archive: Path, dest: Path) -> list[str]:
    return scan_and_extract(archive, dest, lambda name: True)


def sparse_tar_gz(path: Path, size: int) -> Path:
    """A tar.gz of a few hundred bytes whose member x/huge.wav unpacks to `size` bytes: a GNU
    sparse member (PAX format 0.1, as GNU tar writes for a file full of holes) storing 16 bytes
    and declaring the rest a hole of zeros. x/examples.json comes first."""
    meta = tarfile.TarInfo("x/examples.json")
    meta.size = 2
    huge = tarfile.TarInfo("x/huge.wav")
    huge.size = 16
    huge.pax_headers = {"GNU.sparse.map": "0,16", "GNU.sparse.size": str(size)}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(meta, io.BytesIO(b"{}"))
        tf.addfile(huge, io.BytesIO(b"RIFF" + bytes(12)))
    return path


def test_a_tar_gz_declaring_a_pebibyte_is_refused(tmp_path):
    huge = 1 << 50  # more than any disk this runs on
    archive = sparse_tar_gz(tmp_path / "huge.tar.gz", huge)
    assert archive.stat().st_size < 1000
    with tarfile.open(archive) as tf:
        assert tf.getmember("x/huge.wav").size == huge  # what tarfile would write
    assert shutil.disk_usage(tmp_path).free < huge
    # The whole archive's total (with examples.json's 2 bytes), or the selected member's size.
    for dest, extract, declared in [
        (tmp_path / "whole", extract_archive, huge + 2),
        (tmp_path / "selected", _select_all, huge),
    ]:
        with pytest.raises(NoSpaceForArchiveError, match=f"declares {declared:,} bytes") as info:
            extract(archive, dest)
        assert str(archive) in str(info.value) and str(dest) in str(info.value)
        assert "are free on the device holding" in str(info.value)
        assert not (dest / "x/huge.wav").exists()
    names = scan_and_extract(archive, tmp_path / "meta", lambda name: name.endswith(".json"))
    assert names == ["x/examples.json", "x/huge.wav"]  # listed, never unpacked


# --- describe_error: what the runner prints for a failed step ---------------------------------


def test_no_space_names_the_folder_above_a_temporary_even_when_wrapped(tmp_path):
    written = tmp_path / "tasks" / ".tmp-12@host-0123abcd~b" / "16000" / "x.wav"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(written))
    try:
        try:
            raise full
        except OSError as e:
            raise RuntimeError("could not be unpacked") from e
    except RuntimeError as wrapped:
        message = describe_error(wrapped)
    assert message == (
        f"no space left on the device holding {tmp_path / 'tasks'}; free space or choose "
        "another --work-dir/--tasks-dir/--tar-dir"
    )
    quota = OSError(errno.EDQUOT, "Disk quota exceeded", str(tmp_path / "tar" / "a.tar.gz"))
    assert f"holding {tmp_path / 'tar'};" in describe_error(quota)
    other = OSError(errno.EACCES, "Permission denied", str(written))
    assert describe_error(other) == str(other)
    assert describe_error(ValueError("bad label")) == "bad label"


def test_no_space_in_a_write_that_names_no_file_names_the_file_being_written(tmp_path):
    # A write() to an open file raises ENOSPC with no file name: the folder comes from the file
    # the failing frame had open. /dev/full fails every write with ENOSPC, as a full disk does.
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is missing: no device that fails writes with ENOSPC")
    try:
        with open("/dev/full", "wb", buffering=0) as f:
            f.write(b"x" * 10)
    except OSError as e:
        assert e.errno == errno.ENOSPC and e.filename is None
        assert describe_error(e).startswith("no space left on the device holding /dev;")
    else:
        pytest.fail("writing to /dev/full did not fail")
