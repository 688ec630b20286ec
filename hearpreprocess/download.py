"""Fetch corpus archives over HTTP(S): resumable, retried, checksummed, renamed into place.

Pure I/O, no Luigi. A download streams into `<dest>.part`; an interrupted run leaves the part
behind and the next call continues it with an HTTP Range request, so multi-GB corpora survive
flaky connections. Only a file whose md5 matches the recipe is ever renamed to `dest`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
import time
import urllib.parse
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

_CHUNK = 1 << 20
_MAX_BACKOFF = 60.0
# Worth another try: the server or something in between is having trouble.
_RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_UNSATISFIED_RANGE_RE = re.compile(r"bytes\s+\*/(\d+)")
# Network failures, including a body that ends before its Content-Length.
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


class DownloadError(Exception):
    """A download failed for good; the message names the URL, the file and what to do."""


class _Transient(Exception):
    """An attempt failed in a way that another attempt may fix."""


def mirror_url(url: str, mirror: str | None) -> str:
    """Map `https://HOST/PATH?Q` to `MIRROR/HOST/PATH`, the layout of a mirror folder.

    Args:
        url: the original http(s) URL.
        mirror: base URL of a mirror (a trailing slash is ignored), or None for no mirror.

    Returns:
        The URL to fetch: `url` itself when `mirror` is None. The query string is dropped.
    """
    if mirror is None:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"cannot mirror {url!r}: only http(s) URLs with a host can be mirrored")
    return f"{mirror.rstrip('/')}/{parts.netloc}{parts.path}"


def file_md5(path: str | os.PathLike) -> str:
    """md5 hex digest of a file, read in chunks."""
    return _hash_file(Path(path)).hexdigest()


def _hash_file(path: Path):
    hasher = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher


def download(
    url: str,
    dest: str | os.PathLike,
    md5: str,
    *,
    retries: int = 5,
    backoff: float = 1.0,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download `url` to `dest` and check its md5.

    Streams into `dest` + ".part", continuing an existing part with a Range request. Connection
    errors, 5xx/408/429 answers and truncated bodies are retried after `backoff * 2**attempt`
    seconds (at most 60 s). On success the part is renamed to `dest`; on a checksum mismatch it
    is deleted. An existing `dest` with the right md5 is returned without any request.

    Args:
        url: http(s) URL to fetch (already mapped through `mirror_url` if a mirror is used).
        dest: final path of the file; its folder is created.
        md5: expected md5 hex digest.
        retries: how many times a failed attempt is retried (so `retries + 1` attempts in all).
        backoff: seconds before the first retry; doubles with each retry.
        progress: show a tqdm progress bar named after the file.
        timeout: seconds to wait for the server to connect or send data.

    Returns:
        `dest` as a Path.

    Raises:
        DownloadError: the file could not be fetched, or its md5 is wrong.
    """
    dest = Path(dest)
    md5 = md5.strip().lower()
    if dest.is_file() and file_md5(dest) == md5:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    state = _PartState(part)
    last_error = None
    with requests.Session() as session:
        # A loopback mirror must not be sent to a proxy configured for the outside world.
        session.trust_env = urllib.parse.urlsplit(url).hostname not in _LOOPBACK_HOSTS
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF))
            try:
                _fetch_into_part(session, url, state, progress, timeout)
                break
            except _Transient as error:
                last_error = error
        else:
            host = urllib.parse.urlsplit(url).netloc
            raise DownloadError(
                f"could not download {url} to {part} from {host} after {retries + 1} attempts "
                f"(last error: {last_error}): check the network or pass --mirror; run again to "
                f"resume from the {state.size} bytes already fetched"
            )
    got = state.hasher.hexdigest()
    if got != md5:
        part.unlink()
        raise DownloadError(
            f"checksum mismatch for {url} (saved as {dest}): expected md5 {md5}, got {got}; the "
            "source changed or the mirror is wrong: fix the md5 in the recipe or the mirror "
            "(the partial file was deleted)"
        )
    os.replace(part, dest)
    return dest


class _PartState:
    """The part file's size and the md5 of its content so far, kept in step across attempts."""

    def __init__(self, part: Path):
        self.part = part
        self.size = 0
        self.hasher = hashlib.md5()
        if part.is_file():
            self.hasher = _hash_file(part)
            self.size = part.stat().st_size

    def sync(self) -> None:
        """Re-read the part if it changed behind our back (e.g. another process wrote it)."""
        on_disk = self.part.stat().st_size if self.part.is_file() else 0
        if on_disk != self.size:
            self.__init__(self.part)

    def reset(self) -> None:
        self.part.unlink(missing_ok=True)
        self.size = 0
        self.hasher = hashlib.md5()


def _fetch_into_part(session, url: str, state: _PartState, progress: bool, timeout: float) -> None:
    """One attempt: append the rest of the file to the part. Raises _Transient or DownloadError."""
    state.sync()
    headers = {"Accept-Encoding": "identity"}
    if state.size:
        headers["Range"] = f"bytes={state.size}-"
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
        raise DownloadError(f"cannot download {url}: invalid URL ({error}); fix the recipe")
    except _TRANSIENT_ERRORS as error:
        raise _Transient(f"{type(error).__name__}: {error}") from error
    with response:
        if response.status_code == 416 and state.size:
            _handle_unsatisfied_range(response, state)
            return
        _check_status(response, url, state)
        if response.status_code == 206:
            if not _range_starts_at(response, state.size):
                state.reset()
                raise _Transient("server answered a different byte range than asked for")
            mode = "ab"
        else:  # 200: a fresh start, or a server that ignores Range
            state.reset()
            mode = "wb"
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        _stream_body(response, state, mode, expected, progress)


def _handle_unsatisfied_range(response, state: _PartState) -> None:
    """416 on a resume: the part may already hold the whole file, or be longer than it."""
    match = _UNSATISFIED_RANGE_RE.search(response.headers.get("Content-Range", ""))
    if match and int(match.group(1)) == state.size:
        return  # complete; the md5 check decides
    state.reset()
    raise _Transient("the partial file does not fit the remote file; starting over")


def _check_status(response, url: str, state: _PartState) -> None:
    status = response.status_code
    if status in (200, 206):
        return
    if status in _RETRY_STATUSES:
        raise _Transient(f"HTTP {status} {response.reason}")
    raise DownloadError(
        f"cannot download {url} to {state.part}: HTTP {status} {response.reason}; the file is not "
        "available at this address: check the URL in the recipe, or that the mirror has it"
    )


def _range_starts_at(response, offset: int) -> bool:
    match = _CONTENT_RANGE_RE.search(response.headers.get("Content-Range", ""))
    return bool(match) and int(match.group(1)) == offset


class _BackgroundHasher:
    """Feeds chunks to a hash in a second thread, so md5 (~600 MB/s) overlaps network reads.

    hashlib releases the GIL on large buffers; chunks are hashed in arrival order.
    """

    def __init__(self, hasher):
        self._hasher = hasher
        self._chunks: queue.Queue = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._hasher.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def finish(self) -> None:
        """Wait until every chunk given so far is hashed."""
        self._chunks.put(None)
        self._thread.join()


def _stream_body(response, state: _PartState, mode: str, expected, progress: bool) -> None:
    start = state.size
    total = start + expected if expected is not None else None
    bar = tqdm(
        total=total,
        initial=start,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=state.part.name.removesuffix(".part"),
        disable=not progress,
        leave=False,
    )
    hashing = _BackgroundHasher(state.hasher)
    try:
        with bar, open(state.part, mode) as f:
            try:
                # Raw bytes: a Content-Encoding must not change what gets checksummed.
                for chunk in response.raw.stream(_CHUNK, decode_content=False):
                    f.write(chunk)
                    hashing.update(chunk)
                    state.size += len(chunk)
                    bar.update(len(chunk))
            except _TRANSIENT_ERRORS as error:
                raise _Transient(f"connection lost: {type(error).__name__}: {error}") from error
            f.flush()
            os.fsync(f.fileno())
    finally:
        hashing.finish()
        state.sync()
    if expected is not None and state.size - start < expected:
        raise _Transient(f"body ended after {state.size - start} of {expected} bytes")
