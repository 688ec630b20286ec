"""--summary-json: what cron and monitoring read after a run (built, up to date, failed)."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path

import pytest
from tones_mirror import BUNDLE, URL, cli, rewrite_zip

from hearcore.cli import FAILED, OK, UNREACHABLE, run_command
from hearcore.format import tarball_name
from hearcore.hashing import file_md5
from hearpreprocess import runner
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.mirror import MirrorServer, mirror_location

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("fast_retries")]


@pytest.fixture()
def served(tmp_path):
    root = tmp_path / "mirror"
    archive = mirror_location(root, URL)
    write_archive(archive, clips_per_label=2)
    with MirrorServer(root) as server:
        yield server.url, file_md5(archive), root


def _summary(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_built_then_up_to_date(tmp_path, served):
    url, md5, root = served
    path = tmp_path / "summary.json"
    assert runner.main(cli(tmp_path, url, md5, f"--summary-json={path}")) == OK
    first = _summary(path)
    assert (first["ok"], first["exit_code"], first["scheduler"]) == (True, OK, "local")
    assert first["host"] == socket.gethostname()
    [bundle] = first["bundles"]
    assert (bundle["task"], bundle["mode"], bundle["bundle"]) == ("tones", "small", BUNDLE)
    assert bundle["status"] == "built" and bundle["error"] is None
    assert bundle["quarantined"] == {}
    tarballs = [Path(t) for t in bundle["outputs"]["tarballs"]]
    assert [t.name for t in tarballs] == [tarball_name(BUNDLE, sr) for sr in (16000, 48000)]
    assert all(t.is_file() for t in tarballs)
    ran = {r["step"] for r in first["steps"]["ran"]}
    assert {"DownloadedFile", "CorpusMetadata", "TaskBundle", "TaskTarball"} <= ran
    assert first["steps"]["failed"] == [] and first["steps"]["run_by_other_workers"] == []

    assert runner.main(cli(tmp_path, url, md5, f"--summary-json={path}")) == OK
    again = _summary(path)
    assert again["bundles"][0]["status"] == "up_to_date"
    assert again["steps"]["ran"] == []


def test_a_failed_step_is_named_with_its_host_and_error(tmp_path, served):
    url, _, _ = served
    path = tmp_path / "summary.json"
    assert runner.main(cli(tmp_path, url, "0" * 32, f"--summary-json={path}")) == FAILED
    summary = _summary(path)
    assert (summary["ok"], summary["exit_code"]) == (False, FAILED)
    [bundle] = summary["bundles"]
    assert bundle["status"] == "failed"
    assert bundle["failed_step"] == "DownloadedFile"
    assert bundle["failed_host"] == socket.gethostname()
    assert "checksum mismatch" in bundle["error"] and "expected md5 " in bundle["error"]
    [failed] = summary["steps"]["failed"]
    assert failed["step"] == "DownloadedFile" and failed["host"] == socket.gethostname()


def test_a_quarantined_clip_is_listed(tmp_path, served):
    url, md5, root = served
    archive = mirror_location(root, URL)
    with zipfile.ZipFile(archive) as z:
        victim = sorted(n for n in z.namelist() if n.endswith(".wav"))[0]
    bad_md5 = rewrite_zip(archive, archive, {victim: b"RIFF not audio"})
    path = tmp_path / "summary.json"
    assert runner.main(cli(tmp_path, url, bad_md5, f"--summary-json={path}")) == OK
    quarantined = _summary(path)["bundles"][0]["quarantined"]
    assert list(quarantined) == [Path(victim).stem] and quarantined[Path(victim).stem]


def test_written_when_the_run_stops_before_any_step(tmp_path, served):
    url, md5, root = served
    path = tmp_path / "summary.json"
    argv = cli(tmp_path, url, md5, f"--summary-json={path}", "--scheduler-url=http://127.0.0.1:9")
    assert run_command(runner.main, argv) == UNREACHABLE
    summary = _summary(path)
    assert (summary["ok"], summary["exit_code"]) == (False, UNREACHABLE)
    assert "127.0.0.1:9" in summary["error"]
    assert summary["bundles"] == []
