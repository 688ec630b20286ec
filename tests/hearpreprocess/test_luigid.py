"""A run against a real `luigid` on a loopback port with two workers equals a local run."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from hearcore.hashing import file_md5
from hearpreprocess.builtin.tones import write_archive
from hearpreprocess.mirror import MirrorServer, mirror_location
from hearpreprocess.publish import INDEX_HTML, INDEX_JSON

REPO = Path(__file__).resolve().parents[2]
BUILTIN_URL = "https://builtin.hearbench/tones/tones-v1.zip"
URL = "https://corpora.test/tones/tones-v1.zip"
BUNDLE = "tones-v1-small"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"luigid exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"luigid did not listen on {port} within {timeout} s")


@pytest.fixture()
def luigid(tmp_path):
    if shutil.which("luigid") is None:
        pytest.skip("luigid is not installed (pip install luigi)")
    port = _free_port()
    state = tmp_path / "luigid"
    state.mkdir()
    proc = subprocess.Popen(
        ["luigid", "--port", str(port), "--address", "127.0.0.1"]
        + ["--pidfile", str(state / "pid"), "--logdir", str(state)]
        + ["--state-path", str(state / "state.pickle")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _published(folder: Path) -> list[Path]:
    """The files a build publishes, but the tarball index, which records build dates."""
    dated = {INDEX_JSON, INDEX_HTML}
    return sorted(
        p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.name not in dated
    )


def _run(out: Path, mirror: str, overrides: Path, *extra: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "hearpreprocess.runner", "tones", "--mode=small"]
    argv += [f"--mirror={mirror}", f"--config-overrides={overrides}"]
    argv += [f"--{name}-dir={out / name}" for name in ("work", "tasks", "tar")]
    argv += ["--sample-rate=16000", "--sample-rate=22050", *extra]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_luigid_two_workers_equals_local(tmp_path, luigid):
    root = tmp_path / "mirror"
    md5 = write_archive(mirror_location(root, URL), clips_per_label=8)
    assert md5 == file_md5(mirror_location(root, URL))
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(f'[tones.sources."{BUILTIN_URL}"]\nurl = "{URL}"\nmd5 = "{md5}"\n')
    with MirrorServer(root) as mirror:
        scheduler = f"--scheduler-url={luigid}"
        remote = _run(tmp_path / "remote", mirror.url, overrides, "--workers=2", scheduler)
        assert remote.returncode == 0, remote.stdout + remote.stderr
        done = requests.get(f"{luigid}/api/task_list", params={"data": '{"status": "DONE"}'})
        families = {t["name"] for t in done.json()["response"].values()}
        assert {"DownloadedFile", "AudioShard", "TaskBundle", "TaskTarball"} <= families
        local = _run(tmp_path / "local", mirror.url, overrides, "--workers=1")
        assert local.returncode == 0, local.stdout + local.stderr
        again = _run(tmp_path / "remote", mirror.url, overrides, "--workers=2", scheduler)
    assert "ran: nothing" in again.stdout
    for sub in ("tasks", "tar"):
        a, b = tmp_path / "remote" / sub, tmp_path / "local" / sub
        files = _published(a)
        assert files and files == _published(b)
        for f in files:
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
