"""Read a Zenodo record: which HEAR task tarballs it holds, with their sizes, md5s and URLs.

`GET https://zenodo.org/api/records/<id>` answers JSON whose `files` list names each file. Zenodo
has answered in two shapes over the years, both accepted here: the current one (`key`, `size`,
`checksum: "md5:<hex>"`, `links.self`) and the older one (`filename`, `filesize`, a bare md5
`checksum`, `links.download`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import requests

from hearcore.download import mirror_url
from hearcore.retry import RETRY_STATUSES, Transient, with_retries

API_ROOT = "https://zenodo.org/api/records"
# HEAR 2021 put only its 48 kHz tarballs on Zenodo (the other rates are on requester-pays cloud
# storage); the embeddings runner resamples from 48 kHz to whatever rate a model takes.
SAMPLE_RATE = 48000
# hear2021-<task>-<version>-<mode>-<rate>.tar.gz. Task names never hold a dash, versions may
# (`v1.0-hear2021`), so the task is the first field and the mode and rate the last two.
_KEY_RE = re.compile(
    r"^hear2021-(?P<task>[^-]+)-(?P<version>.+)-(?P<mode>[^-]+)-(?P<rate>\d+)\.tar\.gz$"
)
_MD5_RE = re.compile(r"^(?:md5:)?([0-9a-f]{32})$")


class ZenodoError(Exception):
    """The record could not be read; the message names the record, the URL and what to do."""


class ZenodoUnreachable(ZenodoError):
    """The API (or the mirror) could not be reached at all: no answer after every retry."""


class RecordNotFound(ZenodoError):
    """Zenodo (or the mirror) has no record with this id: a usage error, not a network one."""


@dataclass(frozen=True)
class RecordFile:
    """One file of a record.

    Attributes:
        key: the file name in the record.
        size: its size in bytes, or None when the record does not say.
        md5: its md5 hex digest, or None when the record does not say.
        url: where its content is served (not mapped through a mirror).
        task, version, mode, sample_rate: parsed from a task tarball's name; None otherwise.
    """

    key: str
    size: int | None
    md5: str | None
    url: str
    task: str | None = None
    version: str | None = None
    mode: str | None = None
    sample_rate: int | None = None

    @property
    def bundle(self) -> str:
        """The bundle folder the tarball holds, `<task>-<version>-<mode>`."""
        return f"{self.task}-{self.version}-{self.mode}"

    @property
    def is_task_tarball(self) -> bool:
        return self.task is not None and self.sample_rate == SAMPLE_RATE


@dataclass
class Record:
    """A Zenodo record: its id as Zenodo answered it, title, version and files."""

    id: str
    title: str
    version: str
    files: list[RecordFile] = field(default_factory=list)

    @property
    def tarballs(self) -> list[RecordFile]:
        """The 48 kHz task tarballs, sorted by bundle name."""
        return sorted((f for f in self.files if f.is_task_tarball), key=lambda f: f.bundle)

    @property
    def others(self) -> list[RecordFile]:
        """Every other file (documentation, other rates), which is never fetched."""
        return [f for f in self.files if not f.is_task_tarball]


def record_url(record_id: str) -> str:
    """The API address of a record."""
    return f"{API_ROOT}/{record_id}"


def fetch_record(
    record_id: str,
    *,
    mirror: str | None = None,
    session: requests.Session,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60,
) -> Record:
    """Read a record from Zenodo's API (or from a mirror of it).

    A folder mirror cannot hold the record JSON at `zenodo.org/api/records/<id>` and the files
    under `zenodo.org/api/records/<id>/files/` at once (one path cannot be a file and a folder),
    so with a mirror a record that is not found there is looked for at `<id>/index.json` too.

    Args:
        record_id: the record's numeric id.
        mirror: base URL of a mirror (see `hearcore.download.mirror_url`), or None.
        session: the requests.Session to use.
        retries: how many times a failed request (connection error, 5xx, 429) is retried.
        backoff: seconds before the first retry; doubles with each retry (at most 60 s).
        timeout: seconds to wait for the server to connect or send data.

    Returns:
        The parsed Record.

    Raises:
        RecordNotFound: the record does not exist (HTTP 404 or 410).
        ZenodoUnreachable: the API (or mirror) cannot be reached.
        ZenodoError: it answers something that is not a record.
    """
    url = mirror_url(record_url(record_id), mirror)
    candidates = [url] if mirror is None else [url, f"{url}/index.json"]
    for candidate in candidates:
        response = _get(session, candidate, record_id, retries, backoff, timeout)
        # A static server answers 403 or 404 for a folder it has no index file for.
        if response.status_code not in (403, 404):
            break
    if response.status_code in (404, 410):
        tried = " and ".join(candidates)
        raise RecordNotFound(
            f"Zenodo record {record_id} does not exist (HTTP {response.status_code} from "
            f"{tried}{_server_message(response)}): check --record; HEAR 2021's task records are "
            "6332517 (the default, 2021.3) and the earlier 5885750, 5887964, 5802571"
        )
    if response.status_code != 200:
        raise ZenodoError(
            f"cannot read Zenodo record {record_id}: HTTP {response.status_code} "
            f"{response.reason} from {response.url}{_server_message(response)}; try again later"
        )
    try:
        data = response.json()
    except ValueError:
        raise ZenodoError(
            f"cannot read Zenodo record {record_id}: {response.url} did not answer JSON; "
            "check --mirror"
        ) from None
    return parse_record(data, record_id)


def parse_record(data: dict, record_id: str) -> Record:
    """Turn a record's JSON (either shape) into a Record.

    Raises:
        ZenodoError: the JSON has no list of files.
    """
    entries = data.get("files") if isinstance(data, dict) else None
    if isinstance(entries, dict):  # InvenioRDM's native shape nests them under "entries"
        entries = entries.get("entries")
        entries = list(entries.values()) if isinstance(entries, dict) else entries
    if not isinstance(entries, list):
        raise ZenodoError(
            f"Zenodo record {record_id}: the answer lists no files; is it a record of task "
            "tarballs (check --record and --mirror)?"
        )
    real_id = str(data.get("id", record_id))
    metadata = data.get("metadata") or {}
    files = [_parse_file(entry, real_id) for entry in entries if isinstance(entry, dict)]
    return Record(
        id=real_id,
        title=str(metadata.get("title", "")),
        version=str(metadata.get("version", "")),
        files=[f for f in files if f is not None],
    )


def _parse_file(entry: dict, record_id: str) -> RecordFile | None:
    key = entry.get("key") or entry.get("filename")
    if not isinstance(key, str) or not key:
        return None
    size = entry.get("size", entry.get("filesize"))
    match = _MD5_RE.match(str(entry.get("checksum", "")).strip().lower())
    links = entry.get("links") or {}
    url = links.get("self") or links.get("download")
    if not isinstance(url, str) or not url:
        url = f"{record_url(record_id)}/files/{key}/content"
    parsed = _KEY_RE.match(key)
    task: str | None = None
    version: str | None = None
    mode: str | None = None
    sample_rate: int | None = None
    if parsed:
        task, version, mode = parsed["task"], parsed["version"], parsed["mode"]
        sample_rate = int(parsed["rate"])
    return RecordFile(
        key=key,
        size=int(size) if isinstance(size, (int, float)) else None,
        md5=match.group(1) if match else None,
        url=url,
        task=task,
        version=version,
        mode=mode,
        sample_rate=sample_rate,
    )


def _get(session, url: str, record_id: str, retries: int, backoff: float, timeout: float):
    def attempt():
        try:
            response = session.get(url, headers={"Accept": "application/json"}, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as error:
            raise Transient(f"{type(error).__name__}: {error}") from None
        if response.status_code in RETRY_STATUSES:
            raise Transient(f"HTTP {response.status_code} {response.reason}")
        return response

    try:
        return with_retries(attempt, retries, backoff)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema) as error:
        raise ZenodoError(f"cannot read {url}: invalid URL ({error}); check --mirror") from None
    except Transient as last_error:
        advice = (
            "check the network, try again later, or pass --mirror URL"
            if url.startswith(API_ROOT)
            else "check that the mirror is running and serves this record, or fix --mirror"
        )
        raise ZenodoUnreachable(
            f"cannot reach the Zenodo API for record {record_id} at {url} after {retries + 1} "
            f"attempts (last error: {last_error}): {advice}"
        ) from None


def _server_message(response) -> str:
    """Zenodo explains its errors in a JSON `message`; worth passing on."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""
