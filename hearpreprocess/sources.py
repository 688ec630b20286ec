"""The source kinds a recipe can declare, and how each is written in its TOML.

Every source lands in one folder that the recipe receives under the source's key (`split` or
`split/name`). What fills the folder depends on the kind:

    archive        a zip, tar(.gz/.bz2/.xz) or rar file, extracted (the default kind)
    multipart_zip  the parts of a split zip (`parts`, in order: .z01, .z02, ..., .zip), each
                   checksummed, then re-joined and extracted as one archive
    file           one file kept as it is (e.g. a raw recording), not extracted
    file_list      a manifest (`url`) listing many files, one per line as `URL SIZE SHA256` (the
                   format of TensorFlow Datasets' checksum files); every listed file is fetched
                   concurrently and checked against its size and sha256, then put in the folder
                   under its URL's file name

An archive may declare `extract_first = ["glob", ...]`: only the members matching those patterns
(the metadata the recipe reads, e.g. `*/examples.json`) are extracted before the splits are made;
the audio members the kept rows name are extracted afterwards, in one more pass over the archive
(zip and tar only). A 5-hour subset of a 22 GB archive then writes only what it keeps.

Every remote file is pinned by a checksum: `md5 = "..."` (32 hex digits) or `sha256 = "..."`
(64). The algorithm follows from the length, so a checksum is one string everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from hearcore.hashing import ChecksumError, checksum_algorithm

SOURCE_KINDS = ("archive", "multipart_zip", "file", "file_list")
CHECKSUM_KEYS = ("md5", "sha256")
SOURCE_KEYS = ("split", "name", "kind", "url", "parts", "extract_first", *CHECKSUM_KEYS)
PART_KEYS = ("url", *CHECKSUM_KEYS)


def url_filename(url: str) -> str:
    """A download's local file name: the basename of the URL path, query string dropped
    (`.../Hive1_12_06_2018.rar?download=1` -> `Hive1_12_06_2018.rar`)."""
    return Path(urlsplit(url).path).name


class SourceError(ValueError):
    """A download_urls record is malformed; the message says which field and why."""


@dataclass(frozen=True)
class Remote:
    """One file on a server, pinned by its checksum."""

    url: str
    checksum: str

    @property
    def filename(self) -> str:
        return url_filename(self.url)

    def record(self) -> dict[str, str]:
        return {"url": self.url, checksum_algorithm(self.checksum): self.checksum}


@dataclass(frozen=True)
class Source:
    """One source of a task: where its files come from, and what kind of folder they make."""

    split: str
    url: str
    checksum: str
    name: str | None = None
    kind: str = "archive"
    parts: tuple[Remote, ...] = ()
    extract_first: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The folder's key for the recipe: `split` or `split/name`."""
        return self.split if self.name is None else f"{self.split}/{self.name}"

    @property
    def filename(self) -> str:
        return url_filename(self.url)

    @property
    def md5(self) -> str | None:
        return self.checksum if len(self.checksum) == 32 else None

    @property
    def remotes(self) -> tuple[Remote, ...]:
        """Every file the pipeline downloads itself for this source (a file list's manifest, not
        the files it lists)."""
        return self.parts if self.kind == "multipart_zip" else (Remote(self.url, self.checksum),)

    def identity(self) -> list:
        """What the source's folder holds, independent of where it is fetched from."""
        identity = [self.key, self.kind, [[r.filename, r.checksum] for r in self.remotes]]
        return identity + [list(self.extract_first)] if self.extract_first else identity

    def record(self) -> dict[str, Any]:
        """The download_urls record of task_metadata.json (HEAR 2021's keys, plus ours)."""
        record: dict[str, Any] = {"split": self.split}
        if self.name is not None:
            record["name"] = self.name
        if self.kind != "archive":
            record["kind"] = self.kind
        if self.kind == "multipart_zip":
            record["parts"] = [part.record() for part in self.parts]
        else:
            record.update(Remote(self.url, self.checksum).record())
        return record

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("split", "url", "checksum", "name", "kind")}
        d["parts"] = [[p.url, p.checksum] for p in self.parts]
        d["extract_first"] = list(self.extract_first)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Source":
        parts = tuple(Remote(url, checksum) for url, checksum in d.get("parts", ()))
        first = tuple(d.get("extract_first", ()))
        return cls(**{**d, "parts": parts, "extract_first": first})


def parse_source(record: Mapping[str, Any], overrides: Mapping[str, Mapping]) -> Source:
    """A Source from its TOML record; `overrides` maps a URL (of the source or of one of its
    parts) to fields that replace the record's, e.g. {"md5": ...} for a fake corpus."""
    unknown = sorted(set(record) - set(SOURCE_KEYS))
    if unknown:
        raise SourceError(f"unknown key {unknown[0]!r} (a source has {', '.join(SOURCE_KEYS)})")
    kind = record.get("kind", "archive")
    if kind not in SOURCE_KINDS:
        raise SourceError(f"kind {kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    if "split" not in record:
        raise SourceError("a source needs a `split` (the folder key the recipe reads)")
    if kind == "multipart_zip":
        if "url" in record or not record.get("parts"):
            raise SourceError("a multipart_zip lists its `parts` (url + checksum each), no `url`")
        parts = tuple(_parse_remote(part, overrides) for part in record["parts"])
        last = parts[-1]
        return Source(record["split"], last.url, last.checksum, record.get("name"), kind, parts)
    if "parts" in record:
        raise SourceError(f"`parts` belongs to a multipart_zip, not to a {kind}")
    first = record.get("extract_first", [])
    if first and (kind != "archive" or not all(isinstance(p, str) and p for p in first)):
        raise SourceError("`extract_first` is a list of glob patterns, for an archive source only")
    remote = _parse_remote({k: v for k, v in record.items() if k != "extract_first"}, overrides)
    name = record.get("name")
    return Source(record["split"], remote.url, remote.checksum, name, kind, (), tuple(first))


def _parse_remote(record: Mapping, overrides: Mapping[str, Mapping]) -> Remote:
    allowed = PART_KEYS if "split" not in record else SOURCE_KEYS
    unknown = sorted(set(record) - set(allowed))
    if unknown:
        raise SourceError(f"unknown key {unknown[0]!r} in {dict(record)}")
    if "url" not in record:
        raise SourceError(f"no `url` in {dict(record)}")
    override = overrides.get(record["url"], {})
    given = [k for k in CHECKSUM_KEYS if k in override] or [k for k in CHECKSUM_KEYS if k in record]
    record = {**record, **override}
    url = record["url"]
    if len(given) != 1:
        raise SourceError(f"{url}: give exactly one checksum, md5 or sha256")
    checksum = str(record[given[0]]).strip().lower()
    try:
        algorithm = checksum_algorithm(checksum)
    except ChecksumError as error:
        raise SourceError(f"{url}: {error}") from None
    if algorithm != given[0]:
        raise SourceError(f"{url}: {given[0]} must be {'32' if given[0] == 'md5' else '64'} hex")
    return Remote(url, checksum)
