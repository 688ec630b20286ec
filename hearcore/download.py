"""Fetch corpus files over HTTP(S): resumable, retried, checksummed, renamed into place.

Pure I/O, no Luigi. A download streams into `<dest>.part`; an interrupted run leaves the part
behind and the next call continues it with an HTTP Range request, so multi-GB corpora survive
flaky connections. Only a file whose checksum (md5 or sha256, told apart by its length) and,
when given, size match the recipe is ever renamed to `dest`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import threading
import urllib.parse
from pathlib import Path

import requests
import urllib3
from tqdm import tqdm

from hearcore.hashing import ChecksumError, checksum_algorithm, hash_file
from hearcore.retry import RETRY_STATUSES, Transient, with_retries

_CHUNK = 1 << 20
# Bodies up to this size are hashed inline: a hashing thread costs more than it saves.
_INLINE_HASH_BYTES = 4 * _CHUNK
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
    """A download failed for good; the message names the URL, the file and what to do.

    Attributes:
        reason: the cause in a few words (e.g. "HTTP 404 Not Found"), for lists of failures.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message)
        self.reason = reason or message


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


def make_session(url: str) -> requests.Session:
    """A requests.Session fit for downloading `url`: one that a loopback URL (a local mirror)
    never sends to a proxy configured for the outside world. Close it when done."""
    session = requests.Session()
    session.trust_env = urllib.parse.urlsplit(url).hostname not in _LOOPBACK_HOSTS
    return session


def download(
    url: str,
    dest: str | os.PathLike,
    checksum: str,
    *,
    size: int | None = None,
    session: requests.Session | None = None,
    fsync: bool = True,
    retries: int = 5,
    backoff: float = 1.0,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download `url` to `dest` and check its checksum (and size, when given).

    Streams into `dest` + ".part", continuing an existing part with a Range request. Connection
    errors, 5xx/408/429 answers and truncated bodies are retried after `backoff * 2**attempt`
    seconds (at most 60 s). On success the part is renamed to `dest`; on a checksum or size
    mismatch it is deleted (a part left by an earlier run is first fetched once more from
    scratch, in case it was the culprit). An existing `dest` with the right size and checksum is
    returned without any request, and so is a part that already holds `size` bytes and checks out.

    Args:
        url: http(s) URL to fetch (already mapped through `mirror_url` if a mirror is used).
        dest: final path of the file; its folder is created.
        checksum: expected hex digest: 32 hex digits for an md5, 64 for a sha256.
        size: expected size in bytes, or None to take what the server sends. A server that
            announces another size is not downloaded from.
        session: a requests.Session to send the requests with (it is left open), e.g. one per
            thread when fetching many small files; None makes one for this call (see
            `make_session`).
        fsync: flush the file to disk before the rename. A caller renaming a whole folder of
            downloads into place syncs once itself and passes False.
        retries: how many times a failed attempt is retried (so `retries + 1` attempts in all).
        backoff: seconds before the first retry; doubles with each retry.
        progress: show a tqdm progress bar named after the file.
        timeout: seconds to wait for the server to connect or send data.

    Returns:
        `dest` as a Path.

    Raises:
        DownloadError: the file could not be fetched, or its checksum or size is wrong.
        ValueError: `checksum` is neither an md5 nor a sha256.
    """
    dest = Path(dest)
    checksum = checksum.strip().lower()
    try:
        algorithm = checksum_algorithm(checksum)
    except ChecksumError as error:
        raise ValueError(f"cannot download {url}: {error}; fix the recipe") from None
    if dest.is_file() and (size is None or dest.stat().st_size == size):
        if hash_file(dest, algorithm).hexdigest() == checksum:
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    state = _PartState(part, algorithm, size)
    # A file pieced together from several answers may be what is wrong (a part kept from an
    # earlier run, written but never synced before a crash; or a resume served from a file that
    # changed on the server): on a mismatch it is fetched once more from scratch before giving up.
    resumed, refetched = state.size > 0, False
    own_session = session is None
    if session is None:
        session = make_session(url)
    try:
        while True:
            if size is None or state.size != size or not part.is_file():
                _fetch_with_retries(session, url, state, retries, backoff, progress, timeout, fsync)
            problem = _mismatch(url, dest, state, checksum)
            if problem is None:
                break
            if refetched or not (resumed or state.resumed):
                part.unlink(missing_ok=True)
                raise problem
            refetched = True
            state.reset()
    finally:
        if own_session:
            session.close()
    os.replace(part, dest)
    return dest


def _mismatch(url: str, dest: Path, state: _PartState, checksum: str) -> DownloadError | None:
    """Why the finished part is not the file asked for, or None when it is."""
    if state.expected_size is not None and state.size != state.expected_size:
        return _size_mismatch(url, dest, state.expected_size, state.size)
    got = state.hasher.hexdigest()
    if got == checksum:
        return None
    algorithm = state.algorithm
    return DownloadError(
        f"checksum mismatch for {url} (saved as {dest}): expected {algorithm} {checksum}, got "
        f"{got}; the source changed or the mirror is wrong: fix the {algorithm} in the recipe "
        "or the mirror (the partial file was deleted)",
        reason=f"{algorithm} mismatch: expected {checksum}, got {got}",
    )


def _fetch_with_retries(session, url, state, retries, backoff, progress, timeout, fsync) -> None:
    def attempt() -> None:
        _fetch_into_part(session, url, state, progress, timeout, fsync)

    try:
        with_retries(attempt, retries, backoff)
    except Transient as last_error:
        host = urllib.parse.urlsplit(url).netloc
        raise DownloadError(
            f"could not download {url} to {state.part} from {host} after {retries + 1} attempts "
            f"(last error: {last_error}): check the network or pass --mirror; run again to "
            f"resume from the {state.size} bytes already fetched",
            reason=f"gave up after {retries + 1} attempts (last error: {last_error})",
        ) from None


def _size_mismatch(url: str, dest: Path, expected: int, got: int) -> DownloadError:
    return DownloadError(
        f"size mismatch for {url} (saved as {dest}): expected {expected} bytes, the server has "
        f"{got}; the source changed or the mirror is wrong: fix the size in the recipe or the "
        "mirror (the partial file was deleted)",
        reason=f"size mismatch: expected {expected} bytes, got {got}",
    )


class _PartState:
    """The part file's size and the hash of its content so far, kept in step across attempts."""

    def __init__(self, part: Path, algorithm: str, expected_size: int | None):
        self.part = part
        self.algorithm = algorithm
        self.expected_size = expected_size
        self.resumed = False  # whether an answer was appended to bytes of an earlier one
        self._read_part()

    def _read_part(self) -> None:
        part, algorithm, expected_size = self.part, self.algorithm, self.expected_size
        self.size = 0
        self.hasher = hashlib.new(algorithm)
        if part.is_file():
            if expected_size is not None and part.stat().st_size > expected_size:
                part.unlink()  # longer than the file: it cannot be a prefix of it
            else:
                self.hasher = hash_file(part, algorithm)
                self.size = part.stat().st_size

    @property
    def dest(self) -> Path:
        return self.part.with_name(self.part.name.removesuffix(".part"))

    def sync(self) -> None:
        """Re-read the part if it changed behind our back (e.g. another process wrote it)."""
        on_disk = self.part.stat().st_size if self.part.is_file() else 0
        if on_disk != self.size:
            self._read_part()

    def reset(self) -> None:
        self.part.unlink(missing_ok=True)
        self.size = 0
        self.hasher = hashlib.new(self.algorithm)
        self.resumed = False


def _fetch_into_part(
    session, url: str, state: _PartState, progress: bool, timeout: float, fsync: bool
) -> None:
    """One attempt: append the rest of the file to the part. Raises Transient or DownloadError."""
    state.sync()
    headers = {"Accept-Encoding": "identity"}
    if state.size:
        headers["Range"] = f"bytes={state.size}-"
        state.resumed = True
    try:
        response = session.get(url, headers=headers, stream=True, timeout=timeout)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
        raise DownloadError(
            f"cannot download {url}: invalid URL ({error}); fix the recipe",
            reason=f"invalid URL ({error})",
        )
    except _TRANSIENT_ERRORS as error:
        raise Transient(f"{type(error).__name__}: {error}") from error
    with response:
        if response.status_code == 416 and state.size:
            _handle_unsatisfied_range(response, url, state)
            return
        _check_status(response, url, state)
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        if response.status_code == 206:
            match = _CONTENT_RANGE_RE.search(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != state.size:
                state.reset()
                raise Transient("server answered a different byte range than asked for")
            total = int(match.group(3)) if match.group(3).isdigit() else None
            mode = "ab"
        else:  # 200: a fresh start, or a server that ignores Range
            state.reset()
            total, mode = expected, "wb"
        if state.expected_size is not None and total is not None and total != state.expected_size:
            state.reset()
            raise _size_mismatch(url, state.dest, state.expected_size, total)
        _stream_body(response, state, mode, expected, progress, fsync)


def _handle_unsatisfied_range(response, url: str, state: _PartState) -> None:
    """416 on a resume: the part may already hold the whole file, or be longer than it."""
    match = _UNSATISFIED_RANGE_RE.search(response.headers.get("Content-Range", ""))
    total = int(match.group(1)) if match else None
    if state.expected_size is not None and total is not None and total != state.expected_size:
        state.reset()
        raise _size_mismatch(url, state.dest, state.expected_size, total)
    if total == state.size:
        return  # complete; the checksum decides
    state.reset()
    raise Transient("the partial file does not fit the remote file; starting over")


def _check_status(response, url: str, state: _PartState) -> None:
    status = response.status_code
    if status in (200, 206):
        return
    if status in RETRY_STATUSES:
        raise Transient(f"HTTP {status} {response.reason}")
    raise DownloadError(
        f"cannot download {url} to {state.part}: HTTP {status} {response.reason}; the file is not "
        "available at this address: check the URL in the recipe, or that the mirror has it",
        reason=f"HTTP {status} {response.reason}",
    )


class _BackgroundHasher:
    """Feeds chunks to a hash in a second thread, so hashing (~600 MB/s) overlaps network reads.

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


class _InlineHasher:
    """The _BackgroundHasher interface, hashing in the caller's thread (for small bodies)."""

    def __init__(self, hasher):
        self.update = hasher.update

    def finish(self) -> None:
        pass


def _stream_body(
    response, state: _PartState, mode: str, expected, progress: bool, fsync: bool
) -> None:
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
    small = expected is not None and expected <= _INLINE_HASH_BYTES
    hashing = _InlineHasher(state.hasher) if small else _BackgroundHasher(state.hasher)
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
                raise Transient(f"connection lost: {type(error).__name__}: {error}") from error
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    finally:
        hashing.finish()
        state.sync()
    if expected is not None and state.size - start < expected:
        raise Transient(f"body ended after {state.size - start} of {expected} bytes")
