"""publish_index on the real tones tarballs: SHA256SUMS, index.json and index.html."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tones_mirror import BUILT_RATES, BUNDLE

from hearcore import __version__
from hearcore.atomic import temporary_sibling
from hearcore.format import METADATA_FILE, tarball_name
from hearcore.tarball import write_tarball
from hearpreprocess.publish import INDEX_HTML, INDEX_JSON, SUMS_FILE, publish_index

RATES = BUILT_RATES

pytestmark = pytest.mark.slow


@pytest.fixture()
def tar_dir(built_tones, tmp_path) -> Path:
    """A private copy of the tarball folder (mtimes kept), the index not yet written."""
    copy = tmp_path / "tar"
    shutil.copytree(built_tones[1], copy)
    for name in (SUMS_FILE, INDEX_JSON, INDEX_HTML):
        (copy / name).unlink(missing_ok=True)
    return copy


def entries(tar_dir: Path) -> list[dict]:
    return json.loads((tar_dir / INDEX_JSON).read_text())["tarballs"]


def mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def test_sha256sum_accepts_the_sums(tar_dir):
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum (GNU coreutils) is not installed")
    publish_index(tar_dir)
    result = subprocess.run(
        ["sha256sum", "--strict", "-c", SUMS_FILE], cwd=tar_dir, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    names = [tarball_name(BUNDLE, sr) for sr in RATES]
    assert result.stdout.splitlines() == [f"{name}: OK" for name in names]


def test_index_json_says_what_each_tarball_is(built_tones, tar_dir):
    publish_index(tar_dir)
    metadata = json.loads((built_tones[0] / METADATA_FILE).read_text())
    expected = []
    for sr in RATES:
        path = tar_dir / tarball_name(BUNDLE, sr)
        stat = path.stat()
        built_at = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=timezone.utc)
        expected.append(
            {
                "file": path.name,
                "task": metadata["task_name"],
                "task_version": metadata["version"],
                "mode": metadata["mode"],
                "sample_rate": sr,
                "bundle": BUNDLE,
                "size": stat.st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "built": built_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "mtime_ns": stat.st_mtime_ns,
                "code_version": __version__,
            }
        )
    assert entries(tar_dir) == expected


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [value for name, value in attrs if name == "href"]


def test_index_html_links_every_tarball(tar_dir):
    publish_index(tar_dir)
    links = _Links()
    links.feed((tar_dir / INDEX_HTML).read_text())
    tarballs = [tarball_name(BUNDLE, sr) for sr in RATES]
    assert links.hrefs == [SUMS_FILE, INDEX_JSON, *tarballs]
    assert all((tar_dir / href).is_file() for href in links.hrefs)


def test_a_second_call_changes_no_mtime(tar_dir):
    publish_index(tar_dir)
    before = mtimes(tar_dir)
    assert {SUMS_FILE, INDEX_JSON, INDEX_HTML} <= set(before)
    publish_index(tar_dir)
    assert mtimes(tar_dir) == before


def replace_tarball(built: Path, tmp_path: Path, dest: Path) -> None:
    """Put another 16000 Hz tarball of the bundle (one WAV changed) in place of `dest`."""
    bundle = tmp_path / "tasks" / BUNDLE
    shutil.copytree(built, bundle)
    wav = sorted((bundle / "16000").rglob("*.wav"))[0]
    wav.write_bytes(wav.read_bytes() + b"\0\0")
    write_tarball(bundle, 16000, dest)


def test_a_replaced_tarball_updates_its_entry(built_tones, tar_dir, tmp_path):
    publish_index(tar_dir)
    old = {e["file"]: e for e in entries(tar_dir)}
    replaced = tar_dir / tarball_name(BUNDLE, 16000)
    replace_tarball(built_tones[0], tmp_path, replaced)
    publish_index(tar_dir)
    new = {e["file"]: e for e in entries(tar_dir)}
    sha256 = hashlib.sha256(replaced.read_bytes()).hexdigest()
    assert new[replaced.name]["sha256"] == sha256 != old[replaced.name]["sha256"]
    assert new[replaced.name]["size"] == replaced.stat().st_size
    assert new[replaced.name]["mtime_ns"] == replaced.stat().st_mtime_ns
    other = tarball_name(BUNDLE, 22050)
    assert new[other] == old[other]
    assert f"{sha256}  {replaced.name}\n" in (tar_dir / SUMS_FILE).read_text()
    assert sha256 in (tar_dir / INDEX_HTML).read_text()


def test_a_tarball_of_unchanged_size_and_mtime_is_not_read_again(tar_dir):
    publish_index(tar_dir)
    path = tar_dir / tarball_name(BUNDLE, 16000)
    recorded = {e["file"]: e for e in entries(tar_dir)}[path.name]["sha256"]
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF  # same size, but no gzip magic: reading it again would leave it out
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    publish_index(tar_dir)
    assert {e["file"]: e for e in entries(tar_dir)}[path.name]["sha256"] == recorded
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    publish_index(tar_dir)
    assert path.name not in {e["file"] for e in entries(tar_dir)}  # now read: damaged


def test_temporaries_and_other_files_are_not_listed(tar_dir):
    real = tar_dir / tarball_name(BUNDLE, 16000)
    leftover = temporary_sibling(tar_dir / tarball_name(BUNDLE, 48000))
    shutil.copyfile(real, leftover)
    (tar_dir / "notes.txt").write_text("not a tarball")
    publish_index(tar_dir)
    listed = [tarball_name(BUNDLE, sr) for sr in RATES]
    assert [e["file"] for e in entries(tar_dir)] == listed
    sums = (tar_dir / SUMS_FILE).read_text().splitlines()
    assert [line.split("  ", 1)[1] for line in sums] == listed
    page = (tar_dir / INDEX_HTML).read_text()
    assert leftover.name not in page and "notes.txt" not in page


def test_a_damaged_tarball_is_left_out_with_a_warning(tar_dir, capsys):
    damaged = tar_dir / tarball_name(BUNDLE, 16000)
    damaged.write_bytes(damaged.read_bytes()[:1000])
    publish_index(tar_dir)
    assert [e["file"] for e in entries(tar_dir)] == [tarball_name(BUNDLE, 22050)]
    err = capsys.readouterr().err
    assert str(damaged) in err and "not a readable HEAR tarball" in err


def test_the_page_escapes_what_the_bundle_says(built_tones, tar_dir, tmp_path):
    bundle = tmp_path / "tasks" / BUNDLE
    shutil.copytree(built_tones[0], bundle)
    metadata = json.loads((bundle / METADATA_FILE).read_text())
    (bundle / METADATA_FILE).write_text(json.dumps({**metadata, "mode": "<b>small</b>"}))
    write_tarball(bundle, 16000, tar_dir / tarball_name(BUNDLE, 16000))
    publish_index(tar_dir)
    page = (tar_dir / INDEX_HTML).read_text()
    assert "&lt;b&gt;small&lt;/b&gt;" in page and "<b>small</b>" not in page
