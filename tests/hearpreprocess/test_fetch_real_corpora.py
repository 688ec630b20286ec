"""tests/fetch_real_corpora.py against a real loopback mirror made in tmp_path (small fake files,
their real checksums), and its list of files against the task registry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fetch_real_corpora import (
    REFERENCE_FILES,
    Needed,
    destination,
    fetch_all,
    needed_files,
    report_line,
)
from shared_corpora import CORPORA

from hearcore.cli import FAILED, OK, UserError
from hearpreprocess.builtin import is_builtin
from hearpreprocess.config import list_modes, list_tasks, load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

SCRIPT = Path(__file__).resolve().parents[1] / "fetch_real_corpora.py"
REPO = SCRIPT.parents[1]


def _fake_files(mirror: Path) -> list[Needed]:
    """Two files in the mirror, one pinned by md5 and one by sha256, at public-looking URLs."""
    files = []
    for i, (url, algorithm) in enumerate(
        [
            ("https://corpora.test/a/first-small.zip", "md5"),
            ("https://other.test/b/c/second-small.tar.gz", "sha256"),
        ]
    ):
        data = os.urandom(50_000 + i)
        mirror_location(mirror, url).write_bytes(data)
        files.append(Needed(url, hashlib.new(algorithm, data).hexdigest(), (f"task{i}",)))
    return files


@pytest.fixture()
def mirror(tmp_path):
    root = tmp_path / "mirror"
    files = _fake_files(root)
    with MirrorServer(root) as server:
        yield server, root, files


def test_fetches_into_the_layout_the_tests_read(mirror, tmp_path):
    server, root, files = mirror
    dest = tmp_path / "shared"
    outcomes = fetch_all(files, dest, server.url, retries=0, backoff=0.01)
    assert [o.status for o in outcomes] == ["fetched", "fetched"]
    for needed in files:
        path = dest / "corpora" / needed.url.removeprefix("https://")
        assert destination(dest, needed.url) == path
        assert path.read_bytes() == mirror_location(root, needed.url).read_bytes()
    assert not list(dest.rglob("*.part"))


def test_skips_files_already_present(mirror, tmp_path):
    server, _, files = mirror
    dest = tmp_path / "shared"
    fetch_all(files, dest, server.url, retries=0)
    logged = len(server.requests_log)
    again = fetch_all(files, dest, server.url, retries=0)
    assert [o.status for o in again] == ["present", "present"]
    assert len(server.requests_log) == logged, "a file in place was requested again"


def test_resumes_a_partial_download(mirror, tmp_path):
    server, root, files = mirror
    dest = tmp_path / "shared"
    path = destination(dest, files[0].url)
    path.parent.mkdir(parents=True)
    data = mirror_location(root, files[0].url).read_bytes()
    path.with_name(path.name + ".part").write_bytes(data[:20_000])
    (outcome,) = fetch_all(files[:1], dest, server.url, retries=0)
    assert outcome.status == "fetched" and path.read_bytes() == data
    assert server.requests_log[-1][2] == "bytes=20000-"


def test_refuses_a_wrong_checksum(mirror, tmp_path):
    server, _, files = mirror
    dest = tmp_path / "shared"
    wrong = Needed(files[0].url, "0" * 32, files[0].tasks)
    (outcome,) = fetch_all([wrong], dest, server.url, retries=0)
    assert outcome.status == "FAILED"
    assert "checksum mismatch" in outcome.detail and "0" * 32 in outcome.detail
    line = report_line(outcome)
    assert line.startswith(f"FAILED: {wrong.url} -> {outcome.path} (for task0)")
    assert not outcome.path.exists() and not list(dest.rglob("*.part"))


def test_replaces_a_file_with_a_wrong_checksum(mirror, tmp_path):
    server, root, files = mirror
    dest = tmp_path / "shared"
    path = destination(dest, files[1].url)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the file")
    (outcome,) = fetch_all(files[1:], dest, server.url, retries=0)
    assert outcome.status == "fetched" and "wrong checksum" in outcome.detail
    assert path.read_bytes() == mirror_location(root, files[1].url).read_bytes()


def test_needed_files_cover_every_small_source_and_the_reference():
    listed = {n.url: n for n in needed_files()}
    for task in list_tasks():
        if "small" not in list_modes(task):
            continue
        for source in load_task_config(task, "small").sources:
            for remote in source.remotes:
                if is_builtin(remote.url):
                    assert remote.url not in listed
                else:
                    assert listed[remote.url].checksum == remote.checksum
                    assert task in listed[remote.url].tasks
    for reference in REFERENCE_FILES:
        assert listed[reference.url] == reference
    only = needed_files(["esc50"])
    config = load_task_config("esc50", "small")
    assert [n.url for n in only] == [r.url for s in config.sources for r in s.remotes]
    with pytest.raises(UserError, match="no_such_task"):
        needed_files(["no_such_task"])


def _cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_command_reports_each_file_and_unpublished_ones(tmp_path):
    """Through a mirror that lacks the files: 404 fails the command unless --allow-missing."""
    empty = tmp_path / "empty"
    empty.mkdir()
    files = needed_files(["spoken_digit"])
    with MirrorServer(empty) as server:
        strict = _cli("--only", "spoken_digit", "--mirror", server.url, "--dest", str(tmp_path))
        lenient = _cli(
            "--only=spoken_digit",
            f"--mirror={server.url}",
            "--allow-missing",
            env={"HEARBENCH_SHARED": str(tmp_path / "env")},
        )
    assert strict.returncode == FAILED, strict.stderr
    assert "--allow-missing" in strict.stderr
    lines = [line for line in strict.stdout.splitlines() if line.startswith("not published")]
    assert len(lines) == len(files) == 1 + len(REFERENCE_FILES)
    assert lenient.returncode == OK, lenient.stderr
    assert f"{len(files)} not published, 0 failed, under {tmp_path / 'env' / 'corpora'}" in (
        lenient.stdout
    )


@pytest.mark.slow
def test_fetches_every_real_file_the_tests_read(tmp_path):
    """From a mirror of the real small corpora: every file there is one the fetcher lists, and
    each lands at the same place with its pinned checksum verified."""
    real = sorted(
        p.relative_to(CORPORA) for p in CORPORA.rglob("*") if p.is_file() and p.suffix != ".md"
    )
    if not real:
        pytest.skip(f"real corpora missing: {CORPORA} (set HEARBENCH_SHARED)")
    with MirrorServer(CORPORA) as server:
        done = _cli(f"--mirror={server.url}", f"--dest={tmp_path}", "--allow-missing")
    assert done.returncode == OK, done.stdout + done.stderr
    fetched = sorted(
        p.relative_to(tmp_path / "corpora") for p in tmp_path.rglob("*") if p.is_file()
    )
    assert fetched == real
    for relpath in real:
        assert (tmp_path / "corpora" / relpath).read_bytes() == (CORPORA / relpath).read_bytes()
