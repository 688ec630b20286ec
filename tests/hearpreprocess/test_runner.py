"""Runner: reruns, config edits, sample-rate subsets, and bad input end to end.

A small `tones` corpus (4 clips per pitch) is served from a loopback mirror under a non-builtin
URL, so each test controls the archive bytes (corrupt, truncated, wrong md5).
"""

from __future__ import annotations

import collections
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
import soundfile as sf
from fakes import make_fake_corpus
from tones_mirror import BUNDLE, URL, cli, rewrite_zip, write_overrides

from hearcore.cli import UNREACHABLE, USAGE, run_command
from hearcore.hashing import file_md5
from hearpreprocess import __version__, runner
from hearpreprocess.builtin.archives import write_tar_gz
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.config import load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture(scope="module")
def good_archive(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("src") / "tones.zip"
    write_archive(path, clips_per_label=4)
    return path


@pytest.fixture()
def mirror(tmp_path, good_archive):
    """A mirror serving the good archive at URL; yields (server, root)."""
    root = tmp_path / "mirror"
    mirror_location(root, URL).write_bytes(good_archive.read_bytes())
    with MirrorServer(root) as server:
        yield server, root


def steps(report: runner.RunReport) -> set[str]:
    return {r["step"] for r in report.ran}


def test_build_rerun_and_rate_subset(tmp_path, mirror, good_archive):
    server, _ = mirror
    argv = cli(tmp_path, server.url, file_md5(good_archive))
    report = runner.build(runner.parse_args(argv))
    assert report.ok, report.failures
    assert {"DownloadedFile", "AudioShard", "TaskBundle", "TaskTarball"} <= steps(report)
    bundle = tmp_path / "tasks" / BUNDLE
    assert sorted(p.name for p in bundle.iterdir() if p.is_dir()) == ["16000", "48000"]
    tars = sorted(p.name for p in (tmp_path / "tar").iterdir())
    assert tars == [f"hear-{__version__}-{BUNDLE}-{sr}.tar.gz" for sr in (16000, 48000)]
    manifest = (bundle / "manifest.json").read_bytes()
    requests = len(server.requests_log)

    again = runner.build(runner.parse_args(argv))
    assert again.ok and again.ran == []
    assert (bundle / "manifest.json").read_bytes() == manifest
    assert len(server.requests_log) == requests, "a complete download was fetched again"


def test_config_edit_rebuilds_audio_not_download(tmp_path, mirror, good_archive):
    server, root = mirror
    md5 = file_md5(good_archive)
    assert runner.build(runner.parse_args(cli(tmp_path, server.url, md5))).ok
    download = tmp_path / "work" / "downloads" / md5 / "tones-v1.zip"
    extracted = tmp_path / "work" / "sources" / f"archive-{md5}"
    before = [(os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in (download, extracted)]

    argv = cli(tmp_path, server.url, md5, fields={"sample_duration": 0.5})
    report = runner.build(runner.parse_args(argv))
    assert report.ok, report.failures
    ran = steps(report)
    assert {"SplitMetadata", "AudioShard", "TaskBundle", "TaskTarball"} <= ran
    assert not ran & {"DownloadedFile", "SourceFolder", "CorpusMetadata"}
    assert [(os.stat(p).st_ino, os.stat(p).st_mtime_ns) for p in (download, extracted)] == before
    bundle = tmp_path / "tasks" / BUNDLE
    assert json.loads((bundle / "task_metadata.json").read_text())["sample_duration"] == 0.5
    wav = next((bundle / "16000").rglob("*.wav"))
    assert sf.info(wav).frames == 8000

    # Another mirror of the same archive is the same data: nothing to do.
    with MirrorServer(root) as other:
        assert (
            runner.build(
                runner.parse_args(cli(tmp_path, other.url, md5, fields={"sample_duration": 0.5}))
            ).ran
            == []
        )


def test_checksum_mismatch_then_fixed(tmp_path, mirror, good_archive, capsys):
    server, _ = mirror
    assert runner.main(cli(tmp_path, server.url, "0" * 32)) == 1
    out = capsys.readouterr().out
    assert "NOT BUILT: tones-v1-small: DownloadedFile failed" in out
    assert "tones-v1.zip" in out and "md5" in out.lower()
    assert not (tmp_path / "tasks" / BUNDLE).exists()
    assert runner.main(cli(tmp_path, server.url, file_md5(good_archive))) == 0


def test_unreachable_host_then_fixed(tmp_path, mirror, good_archive, capsys):
    server, _ = mirror
    md5 = file_md5(good_archive)
    assert run_command(runner.main, cli(tmp_path, "http://127.0.0.1:9", md5)) == UNREACHABLE
    err = capsys.readouterr().err
    assert "127.0.0.1:9 does not answer" in err and "--mirror" in err
    assert not (tmp_path / "work").exists()
    # A mirror that answers the check but fails every download: the advice names that mirror.
    server.fail_first_n_requests = 100
    assert runner.main(cli(tmp_path, server.url, md5)) == 1
    out = capsys.readouterr().out
    assert "DownloadedFile failed" in out and f"check that the mirror {server.url} is up" in out
    assert "pass --mirror" not in out
    assert "up to date" not in out and "NOT DONE" in out
    server.fail_first_n_requests = 0
    assert runner.main(cli(tmp_path, server.url, md5)) == 0


def test_truncated_archive_keeps_the_built_bundle(tmp_path, mirror, good_archive, capsys):
    server, root = mirror
    assert runner.main(cli(tmp_path, server.url, file_md5(good_archive))) == 0
    bundle = tmp_path / "tasks" / BUNDLE
    manifest = (bundle / "manifest.json").read_bytes()
    data = good_archive.read_bytes()
    mirror_location(root, URL).write_bytes(data[: len(data) // 2])
    truncated = file_md5(mirror_location(root, URL))
    capsys.readouterr()
    assert runner.main(cli(tmp_path, server.url, truncated)) == 1
    out = capsys.readouterr().out
    assert "SourceFolder failed" in out and "tones-v1.zip" in out and "delete" in out
    assert (bundle / "manifest.json").read_bytes() == manifest
    assert not (tmp_path / "work" / "sources" / f"archive-{truncated}").exists()


def test_metadata_that_does_not_parse(tmp_path, mirror, good_archive, capsys):
    server, root = mirror
    bad = rewrite_zip(good_archive, mirror_location(root, URL), {"tones-v1/labels.csv": b"\x00;"})
    assert runner.main(cli(tmp_path, server.url, bad)) == 1
    out = capsys.readouterr().out
    assert "NOT BUILT: tones-v1-small: CorpusMetadata failed" in out and "labels.csv" in out
    assert not (tmp_path / "tasks" / BUNDLE).exists()


def test_undecodable_clip_is_left_out_and_listed(tmp_path, mirror, good_archive, capsys):
    server, root = mirror
    with zipfile.ZipFile(good_archive) as z:
        victim = sorted(n for n in z.namelist() if n.endswith(".wav"))[0]
    bad = rewrite_zip(good_archive, mirror_location(root, URL), {victim: b"RIFF not audio"})
    assert runner.main(cli(tmp_path, server.url, bad)) == 0
    stem = Path(victim).stem
    out = capsys.readouterr().out
    assert "1 clip(s) left out" in out and stem in out
    bundle = tmp_path / "tasks" / BUNDLE
    report = json.loads((bundle / "report.json").read_text())
    assert list(report["undecodable"]) == [stem] and report["undecodable"][stem]["reason"]
    labelled = [k for f in bundle.glob("fold*.json") for k in json.loads(f.read_text())]
    assert f"{stem}.wav" not in labelled and len(labelled) == 19
    assert not list(bundle.rglob(f"{stem}.wav"))


def _two_modes(tmp_path: Path, mirror_url: str, overrides: Path, *extra: str) -> list[str]:
    """speech_commands 5h and full in one run: the same archives, different caps."""
    return [
        "speech_commands",
        "--mode=5h",
        "--mode=full",
        f"--mirror={mirror_url}",
        f"--config-overrides={overrides}",
        f"--work-dir={tmp_path / 'work'}",
        f"--tasks-dir={tmp_path / 'tasks'}",
        "--workers=2",
        *extra,
    ]


@pytest.fixture()
def speech_commands(tmp_path):
    """The fake speech_commands corpus on a mirror; yields (server, overrides file, md5s)."""
    fake = make_fake_corpus(tmp_path / "mirror", load_task_config("speech_commands", "full"))
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(fake.overrides_toml("speech_commands"))
    with MirrorServer(tmp_path / "mirror") as server:
        yield server, overrides, fake.md5


def test_two_modes_run_the_downloads_and_the_corpus_step_once(tmp_path, speech_commands):
    server, overrides, _ = speech_commands
    argv = _two_modes(tmp_path, server.url, overrides, f"--tar-dir={tmp_path / 'tar'}")
    report = runner.build(runner.parse_args(argv + ["--sample-rate=16000"]))
    assert report.ok, report.failures
    ran = collections.Counter(r["step"] for r in report.ran)
    assert (ran["DownloadedFile"], ran["SourceFolder"], ran["CorpusMetadata"]) == (2, 2, 1)
    assert (ran["SplitMetadata"], ran["TaskBundle"], ran["TaskTarball"]) == (2, 2, 2)
    assert len({r["id"] for r in report.ran if r["step"] == "CorpusMetadata"}) == 1
    work = tmp_path / "work"
    assert [p.name.split("-")[0] for p in (work / "corpus").iterdir()] == ["speech_commands"]
    assert len(list((work / "splits").iterdir())) == 2
    for mode in ("5h", "full"):
        assert (tmp_path / "tasks" / f"speech_commands-v0.0.2-{mode}" / "manifest.json").is_file()

    # Another rate and tarball folder: only the steps that write audio, bundles and tarballs.
    argv = _two_modes(tmp_path, server.url, overrides, f"--tar-dir={tmp_path / 'tar2'}")
    again = runner.build(runner.parse_args(argv + ["--sample-rate=22050"]))
    assert again.ok, again.failures
    assert {r["step"] for r in again.ran} == {"AudioShard", "TaskBundle", "TaskTarball", "AllTasks"}


def test_a_shared_step_that_fails_is_named_for_every_bundle_that_needs_it(
    tmp_path, speech_commands, capsys
):
    """The corpus step of 5h and full runs once and fails once; both bundles say why."""
    server, _, md5 = speech_commands
    config = load_task_config("speech_commands", "full")
    (train,) = [s for s in config.sources if s.split == "train"]
    archive = mirror_location(tmp_path / "mirror", train.url)
    with tarfile.open(archive) as tar:
        files = [m for m in tar.getmembers() if m.isfile() and m.name != "validation_list.txt"]
        members = {m.name: tar.extractfile(m).read() for m in files}
    md5[train.url] = write_tar_gz(archive, members)
    sources = {url: {"md5": checksum} for url, checksum in md5.items()}
    overrides = write_overrides(tmp_path / "broken.toml", {"speech_commands": {"sources": sources}})
    assert runner.main(_two_modes(tmp_path, server.url, overrides, "--no-tarballs")) == 1
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("NOT BUILT")]
    assert [x.split(":")[1].strip() for x in lines] == [
        f"speech_commands-v0.0.2-{mode}" for mode in ("5h", "full")
    ]
    assert all("CorpusMetadata failed" in x and "validation_list.txt" in x for x in lines)


def test_unknown_task_is_a_usage_error(tmp_path, capsys):
    assert run_command(runner.main, ["no_such_task", f"--work-dir={tmp_path / 'w'}"]) == USAGE
    assert "no_such_task" in capsys.readouterr().err
    assert not (tmp_path / "w").exists()
