"""Unpack corpus archives (zip, tar, tar.gz/bz2/xz, rar) safely.

Pure I/O, no Luigi. Every member is checked before anything is written: no absolute paths, drive
letters or `..`, no links that lead outside the destination, no device files. A corrupt or
truncated archive raises `ArchiveError` that says to delete it so that it is downloaded again.
"""

from __future__ import annotations

import gzip
import lzma
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

_RAR_MAGIC = b"Rar!\x1a\x07"
_COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# How many symlinks one path may pass through before we call it a loop.
_MAX_LINK_DEPTH = 40
_CORRUPT_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    gzip.BadGzipFile,
)


class ArchiveError(Exception):
    """The archive cannot be unpacked; the message names it and says what to do."""


class UnsafeArchiveError(ArchiveError):
    """A member would be written outside the destination, or is a device file."""


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Unpack `archive` into `dest` (created if missing), keeping member names verbatim.

    The format is sniffed from the content, with the file name as a tie-break. Owners and
    permissions from the archive are not applied beyond what tarfile's 'data' filter keeps.
    The caller makes `dest` atomic (it may hold a partial result after an error).

    Args:
        archive: a zip, tar, tar.gz/tgz, tar.bz2, tar.xz or rar file (rar needs `unrar`).
        dest: folder to unpack into.

    Raises:
        UnsafeArchiveError: a member escapes `dest` or is a device file; nothing was written.
        ArchiveError: the archive is corrupt, truncated or of an unknown format.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"archive {archive} does not exist: download it first")
    kind = _detect_kind(archive)
    extract = {"zip": _extract_zip, "tar": _extract_tar, "rar": _extract_rar}[kind]
    try:
        extract(archive, dest)
    except UnsafeArchiveError:
        raise
    except (*_CORRUPT_ERRORS, NotImplementedError) as error:
        raise _corrupt(archive, error) from error
    except OSError as error:
        if isinstance(error.__context__, (zlib.error, EOFError)) or "Invalid data" in str(error):
            raise _corrupt(archive, error) from error  # bz2 reports bad data as a bare OSError
        raise


def _corrupt(archive: Path, error: BaseException) -> ArchiveError:
    return ArchiveError(
        f"archive {archive} is corrupt or truncated ({type(error).__name__}: {error}): delete it "
        "so that it is downloaded again"
    )


def _detect_kind(archive: Path) -> str:
    with open(archive, "rb") as f:
        head = f.read(8)
    name = archive.name.lower()
    if head.startswith(_RAR_MAGIC):
        return "rar"
    is_zip = zipfile.is_zipfile(archive)
    is_tar = not is_zip and tarfile.is_tarfile(archive)
    if is_zip and name.endswith(_TAR_SUFFIXES) and tarfile.is_tarfile(archive):
        return "tar"  # a tar whose last member is a zip can look like a zip from its end
    if is_zip:
        return "zip"
    if is_tar:
        return "tar"
    # Neither opens cleanly: probably damaged. Name the format so the error says "corrupt".
    if name.endswith(".zip") or head.startswith(b"PK"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES) or head.startswith(_COMPRESSED_MAGICS):
        return "tar"
    if name.endswith(".rar"):
        return "rar"
    raise ArchiveError(
        f"{archive} is not a zip, tar(.gz/.bz2/.xz) or rar archive: delete it so that it is "
        "downloaded again, or check the URL in the recipe"
    )


def _check_name(archive: Path, name: str) -> list[str]:
    """The path components of a member name, after refusing names that leave the folder."""
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith(("/", "\\")) or _DRIVE_RE.match(name) or ".." in parts:
        raise UnsafeArchiveError(
            f"archive {archive} has a member named {name!r} that would be written outside the "
            "destination folder; nothing was extracted: do not use this archive"
        )
    return [part for part in parts if part not in ("", ".")]


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        for info in members:
            _check_name(archive, info.filename)
            if info.flag_bits & 0x1:
                raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")
        dest.mkdir(parents=True, exist_ok=True)
        # zipfile writes symlink entries as small regular files, so zip links cannot escape.
        zf.extractall(dest, members)


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()  # reads the whole archive: corruption shows up before writing
        _check_tar_members(archive, members)
        dest.mkdir(parents=True, exist_ok=True)
        if hasattr(tarfile, "data_filter"):
            try:
                tf.extractall(dest, members, filter="data")
            except tarfile.FilterError as error:
                raise UnsafeArchiveError(f"archive {archive} is unsafe: {error}") from error
        else:  # Python without extraction filters: apply no owners, modes or times at all
            for member in members:
                tf.extract(member, dest, set_attrs=False)


def _check_tar_members(archive: Path, members: list[tarfile.TarInfo]) -> None:
    links = {}
    for member in members:
        parts = _check_name(archive, member.name)
        if member.isdev() or member.isfifo():
            raise UnsafeArchiveError(
                f"archive {archive} has a device file {member.name!r}; nothing was extracted: "
                "do not use this archive"
            )
        if member.issym():
            links["/".join(parts)] = member
    for member in members:
        if member.issym():
            base = posixpath.dirname(member.name.replace("\\", "/"))
            target = posixpath.join(base, member.linkname)
        elif member.islnk():
            target = member.linkname  # hard link names are relative to the archive root
        else:
            continue
        if member.linkname.startswith("/") or _DRIVE_RE.match(member.linkname):
            _refuse_link(archive, member)
        if _resolve(target.replace("\\", "/").split("/"), links, 0) is None:
            _refuse_link(archive, member)


def _resolve(parts: list[str], links: dict[str, tarfile.TarInfo], depth: int) -> list[str] | None:
    """Follow a relative path through the archive's own symlinks; None if it leaves the root."""
    if depth > _MAX_LINK_DEPTH:
        return None
    resolved: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        resolved.append(part)
        link = links.get("/".join(resolved))
        if link is not None:
            if link.linkname.startswith("/"):
                return None
            target = resolved[:-1] + link.linkname.replace("\\", "/").split("/")
            followed = _resolve(target, links, depth + 1)
            if followed is None:
                return None
            resolved = followed
    return resolved


def _refuse_link(archive: Path, member: tarfile.TarInfo) -> None:
    raise UnsafeArchiveError(
        f"archive {archive} has a link {member.name!r} -> {member.linkname!r} that points outside "
        "the destination folder; nothing was extracted: do not use this archive"
    )


def _extract_rar(archive: Path, dest: Path) -> None:
    unrar = shutil.which("unrar")
    if unrar is None:
        raise ArchiveError(
            f"archive {archive} is a rar archive and the `unrar` command is not installed: "
            "install it (e.g. `apt-get install unrar` or `brew install rar`) and run again"
        )
    listing = _run_unrar([unrar, "vt", "-idcd", "--", str(archive)], archive)
    links = {}
    for entry in _parse_rar_listing(listing):
        parts = _check_name(archive, entry["Name"])
        kind = entry.get("Type", "").lower()
        if "device" in kind or "fifo" in kind:
            raise UnsafeArchiveError(f"archive {archive} has a device file {entry['Name']!r}")
        if "link" in kind or "junction" in kind:
            links["/".join(parts)] = entry
    for name, entry in links.items():
        target = entry.get("Target", "")
        resolved = None
        if target and not target.startswith("/") and not _DRIVE_RE.match(target):
            resolved = _resolve((posixpath.dirname(name) + "/" + target).split("/"), {}, 0)
        if resolved is None:
            raise UnsafeArchiveError(
                f"archive {archive} has a link {name!r} -> {target!r} that points outside the "
                "destination folder; nothing was extracted: do not use this archive"
            )
    dest.mkdir(parents=True, exist_ok=True)
    _run_unrar([unrar, "x", "-o+", "-y", "-idq", "--", str(archive), f"{dest}{os.sep}"], archive)
    _check_links_on_disk(archive, dest)


def _check_links_on_disk(archive: Path, dest: Path) -> None:
    """Second line of defence for rar, whose listing format we only parse, not control."""
    root = dest.resolve()
    for folder, dirs, files in os.walk(dest):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                target = path.resolve()
                if target != root and root not in target.parents:
                    path.unlink()
                    raise UnsafeArchiveError(
                        f"archive {archive} unpacked a link {path} pointing outside {dest}; "
                        "it was removed: do not use this archive"
                    )


def _run_unrar(command: list[str], archive: Path) -> str:
    result = subprocess.run(command, capture_output=True, text=True, errors="surrogateescape")
    if result.returncode != 0:
        raise ArchiveError(
            f"unrar failed on {archive} (exit {result.returncode}: {result.stderr.strip()}): the "
            "archive is probably corrupt or truncated: delete it so that it is downloaded again"
        )
    return result.stdout


def _parse_rar_listing(listing: str) -> list[dict[str, str]]:
    """Entries of `unrar vt` output: blocks of `Key: value` lines, each starting with Name."""
    entries: list[dict[str, str]] = []
    for line in listing.splitlines():
        key, sep, value = line.strip().partition(": ")
        if not sep:
            continue
        if key == "Name":
            entries.append({"Name": value})
        elif entries:
            entries[-1].setdefault(key, value)
    return entries
