"""download() and mirror_url() against a real MirrorServer over loopback."""

import functools
import hashlib
import http.server
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from hearpreprocess.archive import extract_archive
from hearpreprocess.download import DownloadError, download, file_md5, mirror_url
from hearpreprocess.mirror import MirrorServer

# Not a multiple of the 1 MiB chunk size, and big enough that a cut lands mid-stream.
PAYLOAD = os.urandom(1_500_000)
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
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
    assert wrong in message and PAYLOAD_MD5 in message
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


CORPORA = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora"
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
