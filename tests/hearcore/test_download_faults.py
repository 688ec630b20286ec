"""download() against a hostile server over loopback: connections cut at random offsets, 500 and
503 answers, Range ignored, another file served. It resumes, retries, restarts or fails with the
checksum message, and never accepts a corrupt file."""

from __future__ import annotations

import hashlib
import http.server
import os
import random
import threading
from collections import deque
from pathlib import Path

import pytest

from hearcore.download import DownloadError, download

PAYLOAD = os.urandom(2_000_003)
OTHER = os.urandom(len(PAYLOAD))  # the same size, other bytes
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class FaultyServer(http.server.ThreadingHTTPServer):
    """Answers each GET with the next scripted behaviour, then serves normally:
    ("cut", n) sends n body bytes of the asked range and closes; ("status", code) answers code;
    ("no-range",) sends the whole file with 200 whatever the Range; ("other",) serves OTHER."""

    def __init__(self, script: list[tuple]):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = deque(script)
        self.ranges: list[str | None] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/corpus.tar.gz"

    def next_behaviour(self) -> tuple:
        with self.lock:
            return self.script.popleft() if self.script else ("ok",)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: FaultyServer

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_GET(self):
        behaviour = self.server.next_behaviour()
        asked = self.headers.get("Range")
        self.server.ranges.append(asked)
        if behaviour[0] == "status":
            self.send_response(behaviour[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = OTHER if behaviour[0] == "other" else PAYLOAD
        first = 0
        if asked and behaviour[0] != "no-range":
            first = int(asked.removeprefix("bytes=").split("-")[0])
        self.send_response(206 if first else 200)
        if first:
            self.send_header("Content-Range", f"bytes {first}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - first))
        self.end_headers()
        part = body[first:]
        if behaviour[0] == "cut":
            self.wfile.write(part[: behaviour[1]])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(part)


@pytest.fixture()
def serve():
    servers = []

    def start(script: list[tuple]) -> FaultyServer:
        server = FaultyServer(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _fetch(server: FaultyServer, dest: Path, retries: int = 8) -> Path:
    return download(server.url, dest, MD5, progress=False, retries=retries, backoff=0.001)


def test_connections_cut_at_random_offsets_are_resumed(serve, tmp_path):
    rng = random.Random(20261202)
    cuts = [("cut", rng.randrange(1, 400_000)) for _ in range(6)]
    server = serve(cuts)
    dest = _fetch(server, tmp_path / "corpus.tar.gz")
    assert dest.read_bytes() == PAYLOAD
    # Each retry asked for the rest, from the bytes received so far.
    received = 0
    for asked, (_, cut) in zip(server.ranges[1:], cuts):
        received += cut
        assert asked == f"bytes={received}-"


def test_500_and_503_are_retried(serve, tmp_path):
    server = serve([("status", 500), ("status", 503), ("status", 500)])
    assert _fetch(server, tmp_path / "corpus.tar.gz").read_bytes() == PAYLOAD
    assert len(server.ranges) == 4


def test_a_server_ignoring_range_makes_it_start_over(serve, tmp_path):
    server = serve([("cut", 700_000), ("no-range",)])
    assert _fetch(server, tmp_path / "corpus.tar.gz").read_bytes() == PAYLOAD
    assert server.ranges[1] == "bytes=700000-"


def test_another_file_is_refused_with_the_checksum_message(serve, tmp_path):
    server = serve([("other",)] * 5)
    dest = tmp_path / "corpus.tar.gz"
    with pytest.raises(DownloadError, match="checksum mismatch") as info:
        _fetch(server, dest)
    assert MD5 in str(info.value)
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_a_resume_from_another_file_is_caught_and_fetched_again(serve, tmp_path):
    """The first bytes from the right file, the rest from another: the checksum catches the
    mix, the part is fetched once more from scratch, and the right file is accepted."""
    server = serve([("cut", 500_000), ("other",)])
    assert _fetch(server, tmp_path / "corpus.tar.gz").read_bytes() == PAYLOAD
    assert server.ranges[-1] is None  # the last fetch started from scratch


def test_a_server_that_keeps_mixing_files_is_given_up_on(serve, tmp_path):
    """Cut, then another file, twice over: one fetch from scratch, then the checksum error."""
    server = serve([("cut", 500_000), ("other",), ("cut", 400_000), ("other",)])
    dest = tmp_path / "corpus.tar.gz"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        _fetch(server, dest)
    assert len(server.ranges) == 4
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()
