"""Fetch a corpus published as many single files, listed in a manifest with sizes and sha256s.

Some corpora are not archives but thousands of files on a web server (CREMA-D: 7,438 WAVs on
GitHub's LFS host, listed in TensorFlow Datasets' checksum file). One request at a time, each
file costs a round trip; `fetch_file_list` keeps a bounded pool of threads busy instead, each
with its own HTTP connection.

The files land flat, under their URL's file name, in a staging folder beside the destination
(`dest` + ".partial") that survives a crash or a failure: a rerun keeps every file there that
checks out and resumes or restarts the others. Only when every listed file has its size and
sha256 is the staging folder synced and renamed to `dest`, so `dest` either does not exist or
holds the whole list.
"""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal, Sequence
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from hearcore.download import DownloadError, download, make_session, mirror_url
from hearpreprocess.sources import url_filename

_HEX = set("0123456789abcdef")
_FORMAT = "`URL SIZE SHA256` (an optional 4th field, a file name, is ignored)"
# Failures listed by name in the error; the rest are counted.
_SHOWN_FAILURES = 5


@dataclass(frozen=True)
class ListedFile:
    """One file of a manifest: where it is, how many bytes it has and its sha256 hex digest."""

    url: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        """Local file name: the basename of the URL path, query string dropped."""
        return url_filename(self.url)


def parse_manifest(text: str, where: str) -> list[ListedFile]:
    """Parse a manifest in the format of TensorFlow Datasets' checksum files.

    One file per line: URL, size in bytes and sha256 hex digest, separated by tabs or spaces. A
    4th field (TFDS writes a file name there) is ignored. Blank lines and lines starting with
    `#` are skipped.

    Args:
        text: the manifest's content.
        where: what the manifest is (its path or URL), named in error messages.

    Returns:
        The listed files, in manifest order.

    Raises:
        ValueError: a line is malformed (the message gives its number and what was expected), two
            entries share a file name (they would land on one path), or nothing is listed.
    """
    files: list[ListedFile] = []
    lines_of: dict[str, int] = {}  # file name -> line number of its first entry
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        listed = _parse_line(stripped.split(), f"{where}, line {number}")
        other = lines_of.setdefault(listed.filename, number)
        if other != number:
            raise ValueError(
                f"{where}, lines {other} and {number}: two entries named {listed.filename!r}; "
                "listed files land in one folder under their URL's file name, so names must "
                "be unique: fix the manifest"
            )
        files.append(listed)
    if not files:
        raise ValueError(f"{where} lists no files: expected one {_FORMAT} per line")
    return files


def _parse_line(fields: list[str], where: str) -> ListedFile:
    if len(fields) not in (3, 4):
        raise ValueError(f"{where}: expected {_FORMAT}, got {len(fields)} field(s)")
    url, size, sha256 = fields[0], fields[1], fields[2].lower()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{where}: expected an http(s) URL with a host first, got {url!r}")
    if parts.path.endswith("/") or Path(parts.path).name in ("", ".", ".."):
        raise ValueError(f"{where}: the URL {url!r} does not end in a file name")
    if not size.isdigit():
        raise ValueError(f"{where}: expected the size in bytes (a whole number), got {size!r}")
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"{where}: expected a sha256 (64 hex digits), got {fields[2]!r}")
    return ListedFile(url, int(size), sha256)


def fetch_file_list(
    files: Sequence[ListedFile],
    dest: str | os.PathLike,
    *,
    mirror: str | None = None,
    workers: int = 16,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
    task: str = "",
) -> Path:
    """Download every listed file into the folder `dest`, concurrently, checking size and sha256.

    Files are fetched by a pool of `workers` threads, one HTTP session each, into `dest` +
    ".partial". A file already there with its size and sha256 is kept without a request; a
    partial one is resumed with a Range request (or restarted); a file the list does not name is
    removed. One progress bar counts files (bytes in its postfix). When every file checks out,
    the staging folder is synced and renamed to `dest`; if any fails for good, `dest` is not
    created and the verified files stay staged for the next call. An existing `dest` (only ever
    made by a complete call) is returned as it is.

    Args:
        files: the files to fetch, e.g. from `parse_manifest`; their file names must be unique.
        dest: the folder to create, holding every listed file under its URL's file name.
        mirror: base URL of a mirror to fetch from instead (see `mirror_url`), or None.
        workers: how many files are fetched at once.
        retries: retries per file of a failed attempt (see `download`).
        backoff: seconds before a file's first retry; doubles with each retry.
        timeout: seconds to wait for the server to connect or send data.
        progress: show the progress bar.
        task: the task name, for messages.

    Returns:
        `dest` as a Path.

    Raises:
        DownloadError: some files could not be fetched or do not match the list; the message
            gives how many and the first URLs with their reasons.
        ValueError: two listed files share a file name, or `workers` < 1.
    """
    dest = Path(dest)
    if dest.is_dir():
        return dest
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    by_name = _unique_names(files, task)
    staging = dest.with_name(dest.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    _remove_unlisted(staging, by_name)
    fetcher = _Fetcher(files, staging, mirror, workers, retries, backoff, timeout, progress, task)
    failures, not_tried = fetcher.run()
    if failures:
        raise _failure_report(failures, not_tried, len(files), staging, task)
    _sync_folder(staging, [staging / f.filename for f in files], workers)
    os.replace(staging, dest)
    _fsync_path(dest.parent)
    return dest


def _prefix(task: str) -> str:
    return f"task {task}: " if task else ""


def _unique_names(files: Iterable[ListedFile], task: str) -> dict[str, ListedFile]:
    by_name: dict[str, ListedFile] = {}
    for listed in files:
        other = by_name.setdefault(listed.filename, listed)
        if other is not listed:
            raise ValueError(
                f"{_prefix(task)}{other.url} and {listed.url} would both be saved as "
                f"{listed.filename!r}; listed file names must be unique"
            )
    return by_name


def _remove_unlisted(staging: Path, by_name: dict[str, ListedFile]) -> None:
    """Delete what an earlier call with another list left: `dest` must hold exactly this list."""
    for entry in staging.iterdir():
        if entry.name.removesuffix(".part") in by_name:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class _Fetcher:
    """Runs the thread pool over the list and keeps the one progress bar."""

    def __init__(self, files, staging, mirror, workers, retries, backoff, timeout, progress, task):
        self.files = files
        self.staging = staging
        self.mirror = mirror
        self.workers = min(workers, max(1, len(files)))
        self.options = dict(retries=retries, backoff=backoff, timeout=timeout)
        self.progress = progress
        self.task = task
        # Once this many files failed for good (the host is down, the mirror lacks the corpus),
        # files not started yet are left for the rerun instead of each waiting out its retries.
        self.give_up_after = max(10, 2 * self.workers)
        self.stop = threading.Event()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def run(self) -> tuple[list[tuple[ListedFile, str]], int]:
        """Fetch everything; returns the (file, reason) failures and how many were not tried."""
        failures: list[tuple[ListedFile, str]] = []
        not_tried = 0
        total_mb = sum(f.size for f in self.files) / 1e6
        done_mb = 0.0
        bar = tqdm(
            total=len(self.files),
            unit="file",
            desc=self.task or self.staging.name.removesuffix(".partial"),
            disable=not self.progress,
        )
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="file_list")
        try:
            futures = {pool.submit(self._fetch_one, f): f for f in self.files}
            for future in as_completed(futures):
                listed = futures[future]
                outcome = future.result()
                if outcome is None:
                    not_tried += 1
                    continue
                if outcome is True:
                    done_mb += listed.size / 1e6
                else:
                    failures.append((listed, outcome))
                    if len(failures) >= self.give_up_after:
                        self.stop.set()
                failed = f", {len(failures)} failed" if failures else ""
                bar.update()
                bar.set_postfix_str(f"{done_mb:.1f}/{total_mb:.1f} MB{failed}", refresh=False)
        finally:
            # On Ctrl-C, files not started are dropped; those in flight finish or stay partial.
            self.stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
            for session in self._sessions:
                session.close()
        return failures, not_tried

    def _fetch_one(self, listed: ListedFile) -> Literal[True] | str | None:
        """True when the file is in place, a reason when it failed, None when not tried."""
        if self.stop.is_set():
            return None
        try:
            url = mirror_url(listed.url, self.mirror)
            # A file already staged with its size and sha256 is kept without a request.
            download(
                url,
                self.staging / listed.filename,
                listed.sha256,
                size=listed.size,
                session=self._session(url),
                fsync=False,
                progress=False,
                **self.options,
            )
            return True
        except DownloadError as error:
            return error.reason
        except Exception as error:  # e.g. a full disk: reported with the others, not a crash
            return f"{type(error).__name__}: {error}"

    def _session(self, url: str) -> requests.Session:
        """This thread's session for the host of `url`, kept so that its connection is reused."""
        sessions = self._local.__dict__.setdefault("sessions", {})
        host = urlsplit(url).netloc
        if host not in sessions:
            sessions[host] = make_session(url)
            with self._lock:
                self._sessions.append(sessions[host])
        return sessions[host]


def _failure_report(failures, not_tried: int, total: int, staging: Path, task: str):
    shown = "; ".join(f"{f.url}: {reason}" for f, reason in failures[:_SHOWN_FAILURES])
    more = len(failures) - _SHOWN_FAILURES
    if more > 0:
        shown += f"; and {more} more"
    skipped = (
        f" After {len(failures)} failures the other {not_tried} files were not tried."
        if not_tried
        else ""
    )
    done = total - len(failures) - not_tried
    return DownloadError(
        f"{_prefix(task)}{len(failures)} of {total} listed files could not be fetched or do not "
        f"match the manifest ({shown}).{skipped} The {done} verified files are kept in {staging}: "
        "a rerun continues where this one stopped (check the network, the mirror or the manifest "
        "first).",
        reason=f"{len(failures)} of {total} listed files failed",
    )


def _sync_folder(folder: Path, paths: list[Path], workers: int) -> None:
    """fsync every file (downloads skip it, one by one), then the folder, before the rename."""
    with ThreadPoolExecutor(max(1, min(workers, len(paths)))) as pool:
        list(pool.map(_fsync_path, paths))
    _fsync_path(folder)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
