"""The folder view of a source extracted `extract_first`: files on disk, members in the archive.

Such a folder holds the members the recipe reads (its metadata), `.archive-members.txt` listing
every member of the archive, and `.archive-path` naming the archive. The other members (the
audio) stay in the archive until the splits and the mode's caps say which are kept. Through this
module a recipe and the audio step read a path under the folder the same way whether it was
extracted or not, so neither needs to know which:

    exists(path)       the file is there, or the archive holds it
    open_file(path)    a binary file object: the file, or the zip member read in place
    file_size(path)

A zip member is read in place by random access (no temporary copy). A tar member cannot be: a
compressed tar is read front to back, so its members are extracted in one pass (KeptAudio);
opening one before then is an error that says so.
"""

from __future__ import annotations

import io
import os
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from hearcore.archive import detect_kind

MEMBER_LIST = ".archive-members.txt"
ARCHIVE_LINK = ".archive-path"


def write_view_records(folder: Path, archive: Path, names: list[str]) -> None:
    """Record in a partly extracted folder every member of its archive, and where that is (as
    a path relative to the folder, so that the work dir can move)."""
    (folder / MEMBER_LIST).write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
    (folder / ARCHIVE_LINK).write_text(os.path.relpath(archive, folder) + "\n", encoding="utf-8")


def listed_members(folder: Path) -> set[str] | None:
    """The members of the archive a folder was partly extracted from; None for a full folder."""
    try:
        return set((folder / MEMBER_LIST).read_text(encoding="utf-8").splitlines())
    except FileNotFoundError:
        return None


def exists(path: str | os.PathLike) -> bool:
    """Whether the file is on disk, or is a member of the archive of its partial folder."""
    path = Path(path)
    if path.is_file():
        return True
    found = _member_of(path)
    return found is not None and found[1] in _members(found[0])


def file_size(path: str | os.PathLike) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    archive, name = _archive_member(path)
    return _zip(archive, os.getpid()).getinfo(name).file_size


def open_file(path: str | os.PathLike, head: int | None = None) -> BinaryIO:
    """The file opened for reading, seekable; a member of a zip is read in place, whole into
    memory (decompressed once: a deflated member seeks back by decompressing from its start
    again, and decoders seek), or only its first `head` bytes."""
    path = Path(path)
    if path.is_file():
        return open(path, "rb")
    archive, name = _archive_member(path)
    with _zip(archive, os.getpid()).open(name) as member:
        return io.BytesIO(member.read(-1 if head is None else head))


def _archive_member(path: Path) -> tuple[Path, str]:
    """(the zip archive, the member name) of a path not extracted; errors say why not."""
    found = _member_of(path)
    if found is None or found[1] not in _members(found[0]):
        raise FileNotFoundError(f"{path} is neither a file nor a member of its source archive")
    folder, name = found
    archive = (folder / (folder / ARCHIVE_LINK).read_text(encoding="utf-8").strip()).resolve()
    if detect_kind(archive) != "zip":
        raise FileNotFoundError(
            f"{path} is a member of {archive}, a tar, which is read front to back and so not "
            "member by member: add a pattern for it to the source's extract_first"
        )
    return archive, name


def _member_of(path: Path) -> tuple[Path, str] | None:
    """(the partial folder above `path`, the member name of `path` in its archive), if any."""
    for folder in path.parents:
        if (folder / MEMBER_LIST).is_file():
            return folder, path.relative_to(folder).as_posix()
    return None


@lru_cache(maxsize=16)
def _members(folder: Path) -> frozenset[str]:
    return frozenset(listed_members(folder) or ())


@lru_cache(maxsize=4)
def _zip(archive: Path, pid: int) -> zipfile.ZipFile:
    """One open ZipFile per archive and process (its central directory is read once; the pid
    keeps a forked worker from sharing its parent's file offset)."""
    return zipfile.ZipFile(archive)
