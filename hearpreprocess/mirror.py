"""A static file HTTP server on loopback that stands in for the corpus hosts.

`MirrorServer(root)` serves `root/<host>/<path>` so that `download.mirror_url` can point the
pipeline at it. It is used by the built-in example and by the tests, which is why it supports
single byte ranges (resumed downloads) and has hooks that fail requests or cut a body short.
"""

from __future__ import annotations

import mimetypes
import re
import socket
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Big enough that multi-MB corpus archives go out in a few system calls.
_CHUNK = 1 << 20
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


class _RangeNotSatisfiable(Exception):
    pass


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive (first, last) byte range asked for, or None to send the whole file.

    Syntactically invalid or multi-range headers are ignored (RFC 9110 allows serving 200).
    """
    if not header:
        return None
    match = _RANGE_RE.match(header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first_s, last_s = match.groups()
    if first_s:
        first = int(first_s)
        last = min(int(last_s), size - 1) if last_s else size - 1
        if last_s and int(last_s) < first:
            return None
        if first >= size:
            raise _RangeNotSatisfiable()
        return first, last
    suffix = int(last_s)
    if suffix == 0 or size == 0:
        raise _RangeNotSatisfiable()
    return max(0, size - suffix), size - 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    def do_HEAD(self):
        self._serve(send_body=False)

    def do_GET(self):
        self._serve(send_body=True)

    def _serve(self, send_body: bool) -> None:
        owner = self.server.owner
        range_header = self.headers.get("Range")
        owner._log_request(self.command, self.path, range_header)
        if owner.latency_seconds > 0:
            # Each connection has its own handler thread, so concurrent requests wait together.
            time.sleep(owner.latency_seconds)
        if send_body and owner._take_failure():
            self._send_empty(HTTPStatus.SERVICE_UNAVAILABLE)
            return
        target = self._local_path()
        if target is None:
            self._send_empty(HTTPStatus.FORBIDDEN)
            return
        if not target.is_file():
            self._send_empty(HTTPStatus.NOT_FOUND)
            return
        with open(target, "rb") as f:
            size = f.seek(0, 2)
            try:
                byte_range = _parse_range(range_header, size)
            except _RangeNotSatisfiable:
                self._send_empty(
                    HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, {"Content-Range": f"bytes */{size}"}
                )
                return
            first, last = byte_range if byte_range else (0, size - 1)
            length = last - first + 1
            self.send_response(HTTPStatus.PARTIAL_CONTENT if byte_range else HTTPStatus.OK)
            self.send_header("Content-Type", _content_type(target))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            if byte_range:
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
            self.end_headers()
            if send_body and length > 0:
                self._send_body(f, first, length, owner._take_cut())

    def _send_body(self, f, first: int, length: int, cut: int | None) -> None:
        f.seek(first)
        to_send = length if cut is None else min(cut, length)
        try:
            while to_send > 0:
                chunk = f.read(min(_CHUNK, to_send))
                if not chunk:
                    break
                self.wfile.write(chunk)
                to_send -= len(chunk)
            if cut is not None and cut < length:
                # Promised Content-Length, delivered less: the client must see a truncated body.
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _send_empty(self, status: HTTPStatus, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _local_path(self) -> Path | None:
        """The file for the request path, or None when the path escapes the served root."""
        url_path = urllib.parse.urlsplit(self.path).path
        relative = urllib.parse.unquote(url_path).lstrip("/")
        root = self.server.owner.root
        candidate = (root / relative).resolve()
        if candidate != root and root not in candidate.parents:
            return None
        return candidate


def _content_type(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, owner: "MirrorServer"):
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request, client_address):
        pass  # a client that hangs up early is normal here (cut connections, aborted downloads)


class MirrorServer:
    """Serve the files under `root` over HTTP on 127.0.0.1 at an ephemeral port.

    Use as a context manager (`with MirrorServer(root) as server: server.url`) or call `start()` and
    `stop()`. Test hooks, settable while running:

    Attributes:
        fail_first_n_requests: answer 503 to this many of the next GET requests.
        cut_after_bytes: once, close the connection after this many body bytes while the
            Content-Length promised the whole body; reset to None after use.
        requests_log: (method, path, Range header or None) of every request received.
        latency_seconds: delay before answering each request, to mimic a remote host's round
            trip (benchmarks); 0 answers at once.
    """

    def __init__(self, root: str | Path, *, latency_seconds: float = 0.0):
        self.root = Path(root).resolve()
        self.latency_seconds = latency_seconds
        self.fail_first_n_requests = 0
        self.cut_after_bytes: int | None = None
        self.requests_log: list[tuple[str, str, str | None]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` of the running server."""
        if self._server is None:
            raise RuntimeError(
                "MirrorServer is not running: call start() or use it in a with block"
            )
        host, port = self._server.server_address[:2]
        # typeshed allows bytes here; an AF_INET socket's getsockname() gives the host as a str
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def start(self) -> "MirrorServer":
        """Bind an ephemeral port and serve in a background thread; returns self."""
        if self._server is not None:
            return self
        if not self.root.is_dir():
            raise FileNotFoundError(f"mirror root {self.root} is not a folder")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"MirrorServer:{self.root}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None  # start() sets _thread together with _server
        self._thread.join()
        self._server = None
        self._thread = None

    def __enter__(self) -> "MirrorServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _log_request(self, method: str, path: str, range_header: str | None) -> None:
        with self._lock:
            self.requests_log.append((method, path, range_header))

    def _take_failure(self) -> bool:
        with self._lock:
            if self.fail_first_n_requests > 0:
                self.fail_first_n_requests -= 1
                return True
            return False

    def _take_cut(self) -> int | None:
        with self._lock:
            cut, self.cut_after_bytes = self.cut_after_bytes, None
            return cut


def mirror_location(mirror_root: str | Path, url: str) -> Path:
    """Where a mirror keeps the file of `url` (`MIRROR/HOST/PATH`), parents created."""
    parts = urllib.parse.urlsplit(url)
    path = Path(mirror_root) / parts.netloc / parts.path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
