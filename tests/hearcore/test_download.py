"""download() and mirror_url() against a real MirrorServer over loopback."""

import functools
import hashlib
import http.server
import os
import socket
import threading
import time

import pytest
import requests
from shared_corpora import CORPORA

from hearcore.archive import extract_archive
from hearcore.download import DownloadError, download, make_session, mirror_url
from hearcore.hashing import file_checksum, file_md5
from hearpreprocess.mirror import MirrorServer

# Not a multiple of the 1 MiB chunk size, and big enough that a cut lands mid-stream.
PAYLOAD = os.urandom(1_500_000)
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
PATH = "/example.org/data/corpus.tar.gz"


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "mirror"
    (root / "example.org" / "data").mkdir(parents=True)
    (root / "example.org" / "data" / "corpus.tar.gz").write_bytes(PAYLOAD)
    with MirrorServer(root) as srv:
        yield srv


@pytest.fixture
def dest(tmp_path):
    return tmp_path / "downloads" / "corpus.tar.gz"


def _part(dest):
    return dest.with_name(dest.name + ".part")


def _gets(server):
    return [entry for entry in server.requests_log if entry[0] == "GET"]


def test_plain_download(server, dest):
    result = download(server.url + PATH, dest, PAYLOAD_MD5, progress=False)
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert not _part(dest).exists()
    assert _gets(server) == [("GET", PATH, None)]


def test_resume_after_cut_connection(server, dest):
    server.cut_after_bytes = 300_000
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, backoff=0.01)
    assert dest.read_bytes() == PAYLOAD
    gets = _gets(server)
    assert len(gets) == 2
    assert gets[0][2] is None
    assert gets[1][2] == "bytes=300000-"


def test_resume_existing_part_from_previous_run(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD[:1_000_000])
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert _gets(server) == [("GET", PATH, "bytes=1000000-")]


def test_complete_part_gets_416_and_is_accepted(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD)
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_oversized_part_starts_over(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD + b"junk")
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, backoff=0.01)
    assert dest.read_bytes() == PAYLOAD
    assert [g[2] for g in _gets(server)] == [f"bytes={len(PAYLOAD) + 4}-", None]


def test_server_ignoring_range_restarts_from_zero(tmp_path, dest):
    # A plain http.server without Range support answers 200 with the whole file.
    root = tmp_path / "plain"
    root.mkdir()
    (root / "corpus.tar.gz").write_bytes(PAYLOAD)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        dest.parent.mkdir(parents=True)
        _part(dest).write_bytes(PAYLOAD[:1000])
        url = f"http://127.0.0.1:{httpd.server_address[1]}/corpus.tar.gz"
        download(url, dest, PAYLOAD_MD5, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert dest.read_bytes() == PAYLOAD


def test_loopback_mirror_bypasses_configured_proxy(server, dest, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, dead_proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, retries=0)
    assert dest.read_bytes() == PAYLOAD


def test_retries_after_503(server, dest):
    server.fail_first_n_requests = 2
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, backoff=0.01)
    assert dest.read_bytes() == PAYLOAD
    assert len(_gets(server)) == 3


def test_gives_up_after_retries(server, dest):
    server.fail_first_n_requests = 10
    with pytest.raises(DownloadError, match=r"after 3 attempts.*--mirror"):
        download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, retries=2, backoff=0.01)
    assert len(_gets(server)) == 3
    assert not dest.exists()


def test_checksum_mismatch_removes_part(server, dest):
    wrong = "0" * 32
    with pytest.raises(DownloadError) as info:
        download(server.url + PATH, dest, wrong, progress=False)
    message = str(info.value)
    assert "checksum mismatch" in message and PATH in message
    assert f"expected md5 {wrong}" in message and PAYLOAD_MD5 in message
    assert info.value.reason.startswith("md5 mismatch")
    assert not dest.exists()
    assert not _part(dest).exists()


def test_404_is_not_retried(server, dest):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(server.url + "/example.org/missing.zip", dest, PAYLOAD_MD5, progress=False)
    assert len(_gets(server)) == 1


def test_unreachable_host_fails_quickly(dest):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x/corpus.tar.gz"
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download(url, dest, PAYLOAD_MD5, progress=False, retries=1, backoff=0.01, timeout=5)
    assert time.monotonic() - start < 5
    assert url in str(info.value)
    assert "after 2 attempts" in str(info.value)
    assert not dest.exists()


def test_existing_dest_with_right_md5_makes_no_request(server, dest):
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    assert download(server.url + PATH, dest, PAYLOAD_MD5.upper(), progress=False) == dest
    assert server.requests_log == []


def test_existing_dest_with_wrong_content_is_replaced(server, dest):
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"stale")
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=False)
    assert file_md5(dest) == PAYLOAD_MD5


def test_progress_bar_names_the_file(server, dest, capsys):
    download(server.url + PATH, dest, PAYLOAD_MD5, progress=True)
    assert "corpus.tar.gz" in capsys.readouterr().err


def test_sha256_download(server, dest):
    download(server.url + PATH, dest, PAYLOAD_SHA256, progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_sha256_resume_after_cut_connection(server, dest):
    server.cut_after_bytes = 300_000
    download(server.url + PATH, dest, PAYLOAD_SHA256, size=len(PAYLOAD), progress=False, backoff=0)
    assert dest.read_bytes() == PAYLOAD
    assert [g[2] for g in _gets(server)] == [None, "bytes=300000-"]


def test_sha256_mismatch_names_the_algorithm(server, dest):
    wrong = "f" * 64
    with pytest.raises(DownloadError) as info:
        download(server.url + PATH, dest, wrong, progress=False)
    message = str(info.value)
    assert f"expected sha256 {wrong}, got {PAYLOAD_SHA256}" in message
    assert "fix the sha256 in the recipe" in message and PATH in message
    assert not dest.exists() and not _part(dest).exists()


def test_existing_dest_with_right_sha256_makes_no_request(server, dest):
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    download(server.url + PATH, dest, PAYLOAD_SHA256, size=len(PAYLOAD), progress=False)
    assert server.requests_log == []


@pytest.mark.parametrize("checksum", ["abc", "g" * 32, "0" * 40])
def test_bad_checksum_is_a_value_error_naming_the_url(server, dest, checksum):
    with pytest.raises(ValueError, match=r"corpus\.tar\.gz.*neither an md5"):
        download(server.url + PATH, dest, checksum, progress=False)
    assert server.requests_log == []


def test_size_mismatch_announced_by_server_downloads_nothing(server, dest):
    with pytest.raises(DownloadError) as info:
        download(server.url + PATH, dest, PAYLOAD_SHA256, size=len(PAYLOAD) + 1, progress=False)
    message = str(info.value)
    assert server.url + PATH in message
    assert f"expected {len(PAYLOAD) + 1} bytes" in message and str(len(PAYLOAD)) in message
    assert info.value.reason.startswith("size mismatch")
    assert len(_gets(server)) == 1
    assert not dest.exists() and not _part(dest).exists()


def test_size_mismatch_of_body_without_length(tmp_path, dest):
    # A server that sends no Content-Length: only the bytes received can be compared.
    class NoLength(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"short")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLength)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/x/file.bin"
    try:
        with pytest.raises(DownloadError, match=r"size mismatch for .*/x/file\.bin.*expected 9"):
            download(url, dest, hashlib.sha256(b"short").hexdigest(), size=9, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert not dest.exists() and not _part(dest).exists()


def test_empty_file_of_size_zero(server, tmp_path):
    root = server.root / "example.org" / "data"
    (root / "empty.wav").write_bytes(b"")
    dest = tmp_path / "empty.wav"
    url = server.url + "/example.org/data/empty.wav"
    download(url, dest, hashlib.sha256(b"").hexdigest(), size=0, progress=False)
    assert dest.read_bytes() == b""
    assert len(_gets(server)) == 1


def test_reasons_are_short(server, dest):
    with pytest.raises(DownloadError) as info:
        download(server.url + "/example.org/missing.zip", dest, PAYLOAD_MD5, progress=False)
    assert info.value.reason == "HTTP 404 Not Found"
    server.fail_first_n_requests = 5
    with pytest.raises(DownloadError) as info:
        download(server.url + PATH, dest, PAYLOAD_MD5, progress=False, retries=1, backoff=0)
    assert (
        info.value.reason == "gave up after 2 attempts (last error: HTTP 503 Service Unavailable)"
    )


def test_complete_part_of_known_size_makes_no_request(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD)
    download(server.url + PATH, dest, PAYLOAD_SHA256, size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert server.requests_log == []


def test_part_longer_than_size_is_dropped_before_asking(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD + b"junk")
    download(server.url + PATH, dest, PAYLOAD_MD5, size=len(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [g[2] for g in _gets(server)] == [None]


@pytest.mark.parametrize("size", [None, len(PAYLOAD)])
def test_corrupt_part_from_earlier_run_is_fetched_again(server, dest, size):
    # A part left by a crash may hold garbage (e.g. blocks never synced): start over once.
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(b"\0" * (len(PAYLOAD) if size else 1000))
    download(server.url + PATH, dest, PAYLOAD_SHA256, size=size, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [g[2] for g in _gets(server)] == ([None] if size else ["bytes=1000-", None])


def test_wrong_checksum_after_a_resume_is_fetched_once_more_then_fails(server, dest):
    dest.parent.mkdir(parents=True)
    _part(dest).write_bytes(PAYLOAD[:1000])
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(server.url + PATH, dest, "0" * 64, progress=False)
    assert [g[2] for g in _gets(server)] == ["bytes=1000-", None]
    assert not _part(dest).exists()


class _CountingSession(requests.Session):
    def __init__(self):
        super().__init__()
        self.gets = 0
        self.closed = False

    def get(self, *args, **kwargs):
        self.gets += 1
        return super().get(*args, **kwargs)

    def close(self):
        self.closed = True
        super().close()


def test_given_session_is_used_and_left_open(server, tmp_path):
    session = _CountingSession()
    session.trust_env = False
    for name in ("a", "b"):
        download(
            server.url + PATH, tmp_path / name, PAYLOAD_SHA256, session=session, progress=False
        )
    assert session.gets == 2 and not session.closed
    session.close()


def test_make_session_bypasses_proxies_only_for_loopback():
    with make_session("http://127.0.0.1:8/x") as local, make_session("https://zenodo.org/x") as far:
        assert not local.trust_env and far.trust_env


@pytest.mark.parametrize("fsync, calls", [(True, 1), (False, 0)])
def test_fsync_can_be_left_to_the_caller(server, dest, monkeypatch, fsync, calls):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    download(server.url + PATH, dest, PAYLOAD_MD5, fsync=fsync, progress=False)
    assert len(synced) == calls
    assert dest.read_bytes() == PAYLOAD


def test_file_checksum(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert file_checksum(path, PAYLOAD_MD5) == PAYLOAD_MD5 == file_md5(path)
    assert file_checksum(path, PAYLOAD_SHA256.upper()) == PAYLOAD_SHA256
    assert file_checksum(path, "sha256") == PAYLOAD_SHA256
    assert file_checksum(path, "md5") == PAYLOAD_MD5
    with pytest.raises(ValueError, match="neither an md5"):
        file_checksum(path, "1234")


@pytest.mark.parametrize(
    "url, mirror, expected",
    [
        (
            "https://zenodo.org/record/1/files/a.zip?download=1",
            "http://m:8000",
            "http://m:8000/zenodo.org/record/1/files/a.zip",
        ),
        (
            "http://download.tensorflow.org/data/x.tar.gz",
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9/download.tensorflow.org/data/x.tar.gz",
        ),
        (
            "https://github.com/o/r/raw/main/f%20g.zip",
            "http://m/base",
            "http://m/base/github.com/o/r/raw/main/f%20g.zip",
        ),
        ("https://example.org/a.zip", None, "https://example.org/a.zip"),
    ],
)
def test_mirror_url(url, mirror, expected):
    assert mirror_url(url, mirror) == expected


def test_mirror_url_rejects_non_http():
    with pytest.raises(ValueError):
        mirror_url("ftp://example.org/a.zip", "http://m")


SPOKEN_DIGIT = (
    "https://github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main/"
    "spoken_digit-small.zip"
)


def test_real_small_corpus_through_a_mirror(tmp_path):
    source = CORPORA / "github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main"
    if not (source / "spoken_digit-small.zip").is_file():
        pytest.skip(
            f"real corpora missing: {source / 'spoken_digit-small.zip'} (../shared/corpora)"
        )
    with MirrorServer(CORPORA) as srv:
        srv.cut_after_bytes = 20_000
        url = mirror_url(SPOKEN_DIGIT, srv.url)
        dest = tmp_path / "spoken_digit-small.zip"
        download(url, dest, "69d50c15805ea11beb12d9a4db1d4c2a", progress=False, backoff=0.01)
    extract_archive(dest, tmp_path / "train")
    assert len(list((tmp_path / "train").rglob("*.wav"))) > 0
