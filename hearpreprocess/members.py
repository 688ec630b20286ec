"""Extract only some members of a zip or tar archive, and list all of them, in one pass.

HEAR's largest sources are archives from which a mode keeps a small part: the 5-hour NSynth
subset keeps 5,000 of the 289,205 notes of a 22 GB train tar.gz. Extracting all of it would write
the whole corpus to disk for nothing. Instead a source can be unpacked in two rounds: first the
members the recipe reads (e.g. `*/examples.json`), together with the list of every member, so the
pipeline can check that the files the metadata names exist; then, once the splits and the mode's
caps are fixed, only the audio members the kept rows name.

A tar(.gz) is read front to back in one pass (a compressed tar is never seeked back in); a zip
by random access to the selected members. The safety rules of `extract_archive` hold: no absolute
names, no `..`, a selected member that is a link or a device file is refused, a zip member that
unpacks to more than its declared size (a zip bomb) is stopped one byte past it, and what is
extracted must fit the destination's free space: for a zip the selected members' declared sizes
together, checked before any is written; for a tar, read in one pass with no list up front, each
member's size before it is written.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

from hearcore.archive import (
    CORRUPT_ERRORS,
    ArchiveError,
    NoSpaceForArchiveError,
    UnsafeArchiveError,
    check_free_space,
    check_name,
    copy_zip_member,
    corrupt_error,
    detect_kind,
)

_COPY_BUFFER = 4 << 20


def member_name(name: str) -> str:
    """A member's path as the folder view shows it: `/`-separated, no leading `./`."""
    return "/".join(part for part in name.replace("\\", "/").split("/") if part not in ("", "."))


def scan_and_extract(
    archive: str | os.PathLike, dest: str | os.PathLike, select: Callable[[str], bool]
) -> list[str]:
    """Extract the regular-file members that `select(name)` picks into `dest`; list them all.

    Args:
        archive: a zip or a tar (plain, .gz, .bz2 or .xz).
        dest: the folder to extract into (created); the caller makes it atomic.
        select: given a member's name (see `member_name`), whether to extract it.

    Returns:
        The names of every regular-file member of the archive, in archive order.

    Raises:
        UnsafeArchiveError: a selected member escapes `dest` or is not a regular file.
        ArchiveError: the archive is corrupt, truncated, or neither a zip nor a tar.
    """
    archive, dest = Path(archive), Path(dest)
    kind = detect_kind(archive)
    if kind not in ("zip", "tar"):
        raise ArchiveError(
            f"archive {archive} is a {kind} archive; extracting only some members works for zip "
            "and tar archives: remove `extract_first` from the recipe's source to extract it whole"
        )
    dest.mkdir(parents=True, exist_ok=True)
    try:
        if kind == "zip":
            return _zip_pass(archive, dest, select)
        return _tar_pass(archive, dest, select)
    except (UnsafeArchiveError, NoSpaceForArchiveError):
        raise
    except (*CORRUPT_ERRORS, NotImplementedError) as error:
        raise corrupt_error(archive, error) from error


def _zip_pass(archive: Path, dest: Path, select) -> list[str]:
    with zipfile.ZipFile(archive) as zf:
        files = [info for info in zf.infolist() if not info.is_dir()]
        chosen = [info for info in files if select(member_name(info.filename))]
        for info in chosen:
            check_name(archive, info.filename)
            if info.flag_bits & 0x1:
                raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")
        check_free_space(archive, dest, sum(info.file_size for info in chosen))
        for info in chosen:
            with open(_target(dest, member_name(info.filename)), "wb") as out:
                copy_zip_member(archive, zf, info, out, _COPY_BUFFER)
    return [member_name(info.filename) for info in files]


def _tar_pass(archive: Path, dest: Path, select) -> list[str]:
    names = []
    # Front to back: each member's data is read before the next header, so a compressed tar is
    # decompressed once, with no seek back; a truncated stream raises (EOFError) at its end.
    with tarfile.open(archive, "r:*") as tf:
        for member in tf:
            if member.isdir():
                continue
            name = member_name(member.name)
            if member.isfile():
                names.append(name)
            if not select(name):
                continue
            check_name(archive, member.name)
            if not member.isfile():
                raise UnsafeArchiveError(
                    f"archive {archive}: member {member.name!r} is a link or a device file, "
                    "not audio or metadata; nothing more was extracted: do not use this archive"
                )
            # The size is what it unpacks to (a sparse member's is its expanded size).
            check_free_space(archive, dest, member.size)
            _copy_tar_member(tf, member, _target(dest, name))
    return names


def _target(dest: Path, name: str) -> Path:
    path = dest.joinpath(*name.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _copy_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> None:
    """Copy exactly the member's declared size: tarfile's reader yields no more than that, and a
    short stream is an error (a truncated archive), not a short file."""
    src = tf.extractfile(member)
    assert src is not None  # a regular file, checked by the caller
    written = 0
    with open(path, "wb") as out:
        while block := src.read(min(_COPY_BUFFER, member.size - written)):
            written += len(block)
            out.write(block)
    if written != member.size:
        raise EOFError(f"member {member.name!r} ends after {written} of {member.size} bytes")
