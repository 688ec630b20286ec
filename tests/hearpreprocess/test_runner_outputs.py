"""What a finished run says it produced, and that where it worked does not show in the bundle."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import luigi.configuration
import pytest

from hearcore.format import tarball_name
from hearcore.hashing import file_md5
from hearcore.tarball import write_tarball
from hearpreprocess import runner
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.config import RECORDED_TMP_DIR
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.publish import INDEX_HTML, INDEX_JSON

BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"
BUNDLE = "tones-v1-small"


@pytest.fixture()
def served(tmp_path):
    """A small tones archive on a mirror; yields (mirror URL, overrides file)."""
    root = tmp_path / "mirror"
    md5 = write_archive(mirror_location(root, URL), clips_per_label=4)
    assert md5 == file_md5(mirror_location(root, URL))
    path = tmp_path / "overrides.toml"
    path.write_text(f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n')
    config = luigi.configuration.get_config()
    if not config.has_section("download"):
        config.add_section("download")
    config.set("download", "retries", "1")
    with MirrorServer(root) as server:
        yield server.url, path
    config.remove_section("download")


def argv(out: Path, mirror: str, overrides: Path) -> list[str]:
    return [
        "tones",
        "--mode=small",
        f"--mirror={mirror}",
        f"--config-overrides={overrides}",
        "--workers=1",
        "--sample-rate=16000",
        "--sample-rate=22050",
        *(f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")),
    ]


def output_lines(text: str) -> dict[str, list[Path]]:
    """`BUNDLE: what PATH` lines, by what."""
    found: dict[str, list[Path]] = {}
    for line in text.splitlines():
        if line.startswith(f"{BUNDLE}: ") and line.count(" ") == 2:
            _, what, path = line.split(" ")
            found.setdefault(what, []).append(Path(path))
    return found


def test_final_lines_name_the_bundle_report_and_tarballs(tmp_path, served, capsys):
    mirror, overrides = served
    out = tmp_path / "out"
    assert runner.main(argv(out, mirror, overrides)) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[-1] == "done: everything asked for is built"
    found = output_lines(text)
    assert found["bundle"] == [(out / "tasks" / BUNDLE).resolve()]
    assert found["report"] == [(out / "tasks" / BUNDLE / "report.json").resolve()]
    assert [p.name.rsplit("-", 1)[1] for p in found["tarball"]] == ["16000.tar.gz", "22050.tar.gz"]
    assert all(p.exists() for paths in found.values() for p in paths)
    assert "up to date" not in text

    assert runner.main(argv(out, mirror, overrides)) == 0
    again = capsys.readouterr().out
    assert "up to date: everything asked for was built before; nothing to do" in again
    assert output_lines(again) == found and again.splitlines()[-1] == lines[-1]

    # With nothing left to download, a mirror that is down stands in nobody's way.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{s.getsockname()[1]}"
    assert runner.main(argv(out, down, overrides)) == 0
    assert "up to date" in capsys.readouterr().out


# The tarball index records build dates, so two builds differ there and only there.
DATED_INDEX = {INDEX_JSON, INDEX_HTML}


def test_work_dir_is_not_recorded_and_bundles_are_identical(tmp_path, served):
    """task_metadata.json keeps HEAR 2021's tmp_dir whatever --work-dir was: two runs in other
    folders make byte-identical bundles and tarballs."""
    mirror, overrides = served
    trees = []
    for name in ("a", "b/deeper"):
        out = tmp_path / name
        assert runner.main(argv(out, mirror, overrides)) == 0
        meta = json.loads((out / "tasks" / BUNDLE / "task_metadata.json").read_text())
        assert meta["tmp_dir"] == RECORDED_TMP_DIR == "_workdir"
        files = sorted(
            p
            for sub in ("tasks", "tar")
            for p in (out / sub).rglob("*")
            if p.is_file() and p.name not in DATED_INDEX
        )
        trees.append({str(p.relative_to(out)): p.read_bytes() for p in files})
    assert trees[0].keys() == trees[1].keys() and len(trees[0]) > 5
    assert trees[0] == trees[1]


def test_tarballs_are_made_of_the_shards_members_and_equal_a_direct_write(tmp_path, served):
    """The shards compress each WAV for the tarballs; the tarball step copies those members
    and then removes them. The bytes equal a tarball written from the bundle alone, and a
    tarball made after a --no-tarballs run (shards without members: compressed by the tarball
    step)."""
    mirror, overrides = served
    out = tmp_path / "out"
    assert runner.main(argv(out, mirror, overrides)) == 0
    reports = sorted((out / "work" / "audio").rglob("report.json"))
    clips = [c for r in reports for c in json.loads(r.read_text())["clips"].values()]
    assert clips and all(set(c["tar"]) == {"16000", "22050"} for c in clips)
    assert not list((out / "work" / "audio").rglob("*.members")), "used up by the tarballs"
    published = out / "tar" / tarball_name(BUNDLE, 16000)
    direct = tmp_path / "direct.tar.gz"
    write_tarball(out / "tasks" / BUNDLE, 16000, direct)
    assert published.read_bytes() == direct.read_bytes()

    late = tmp_path / "late"
    assert runner.main(argv(late, mirror, overrides) + ["--no-tarballs"]) == 0
    assert not list((late / "work" / "audio").rglob("*.members"))
    assert runner.main(argv(late, mirror, overrides)) == 0
    assert (late / "tar" / published.name).read_bytes() == published.read_bytes()
