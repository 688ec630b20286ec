"""MirrorServer over real loopback HTTP."""

import http.client
import threading

import pytest
import requests

from hearpreprocess.mirror import MirrorServer

PAYLOAD = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "root"
    (root / "example.org" / "dir").mkdir(parents=True)
    (root / "example.org" / "dir" / "data.bin").write_bytes(PAYLOAD)
    (root / "example.org" / "dir" / "with space ü.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("outside the root")
    with MirrorServer(root) as srv:
        yield srv


def _raw_get(server, path, method="GET"):
    """A request with the path sent verbatim (requests would normalise `..` away)."""
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_serves_whole_file_with_accept_ranges(server):
    resp = requests.get(f"{server.url}/example.org/dir/data.bin", timeout=5)
    assert resp.status_code == 200
    assert resp.content == PAYLOAD
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert resp.headers["Content-Length"] == str(len(PAYLOAD))


def test_quoted_unicode_name_with_space(server):
    resp = requests.get(f"{server.url}/example.org/dir/with%20space%20%C3%BC.txt", timeout=5)
    assert resp.status_code == 200
    assert resp.text == "hello"


@pytest.mark.parametrize(
    "header, first, last",
    [
        ("bytes=10-19", 10, 19),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-5", 10235, 10239),
        ("bytes=10230-99999", 10230, 10239),
    ],
)
def test_range_206(server, header, first, last):
    resp = requests.get(
        f"{server.url}/example.org/dir/data.bin", headers={"Range": header}, timeout=5
    )
    assert resp.status_code == 206
    assert resp.content == PAYLOAD[first : last + 1]
    assert resp.headers["Content-Range"] == f"bytes {first}-{last}/{len(PAYLOAD)}"
    assert resp.headers["Content-Length"] == str(last - first + 1)


def test_unsatisfiable_range_416(server):
    resp = requests.get(
        f"{server.url}/example.org/dir/data.bin", headers={"Range": "bytes=10240-"}, timeout=5
    )
    assert resp.status_code == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(PAYLOAD)}"


def test_head_has_headers_and_no_body(server):
    resp = requests.head(f"{server.url}/example.org/dir/data.bin", timeout=5)
    assert resp.status_code == 200
    assert resp.headers["Content-Length"] == str(len(PAYLOAD))
    assert resp.content == b""
    assert server.requests_log[-1] == ("HEAD", "/example.org/dir/data.bin", None)


def test_missing_file_and_folder_are_404(server):
    assert requests.get(f"{server.url}/example.org/nothing.zip", timeout=5).status_code == 404
    assert requests.get(f"{server.url}/example.org/dir", timeout=5).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/example.org/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/example.org/%2E%2E/%2E%2E/secret.txt",
    ],
)
def test_path_escaping_root_is_refused(server, path):
    status, body = _raw_get(server, path)
    assert status == 403
    assert b"outside" not in body


def test_fail_first_n_requests_then_serves(server):
    server.fail_first_n_requests = 2
    url = f"{server.url}/example.org/dir/data.bin"
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [503, 503, 200]


def test_cut_after_bytes_truncates_once(server):
    server.cut_after_bytes = 100
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", "/example.org/dir/data.bin")
    resp = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    conn.close()
    assert info.value.partial == PAYLOAD[:100]
    assert server.cut_after_bytes is None
    status, body = _raw_get(server, "/example.org/dir/data.bin")
    assert (status, body) == (200, PAYLOAD)


def test_concurrent_requests(server):
    url = f"{server.url}/example.org/dir/data.bin"
    results = []

    def fetch():
        results.append(requests.get(url, timeout=5).content)

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [PAYLOAD] * 8


def test_start_stop_and_url(tmp_path):
    srv = MirrorServer(tmp_path)
    with pytest.raises(RuntimeError):
        srv.url
    srv.start()
    url = srv.url
    assert url.startswith("http://127.0.0.1:")
    srv.stop()
    srv.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
