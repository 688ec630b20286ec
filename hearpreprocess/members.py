"""Extract only some members of a zip or tar archive, and list all of them, in one pass.

HEAR's largest sources are archives from which a mode keeps a small part: the 5-hour NSynth
subset keeps 5,000 of the 289,205 notes of a 22 GB train tar.gz. Extracting all of it would write
the whole corpus to disk for nothing. Instead a source can be unpacked in two rounds: first the
members the recipe reads (e.g. `*/examples.json`), together with the list of every member, so the
pipeline can check that the files the metadata names exist; then, once the splits and the mode's
caps are fixed, only the audio members the kept rows name.

A tar(.gz) is read front to back in one pass (a compressed tar is never seeked back in); a zip
by random access to the selected members. The safety rules of `extract_archive` hold: no absolute
names, no `..`, and a selected member that is a link or a device file is refused.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

from hearcore.archive import (
    CORRUPT_ERRORS,
    ArchiveError,
    UnsafeArchiveError,
    check_name,
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
    except UnsafeArchiveError:
        raise
    except (*CORRUPT_ERRORS, NotImplementedError) as error:
        raise corrupt_error(archive, error) from error


def _zip_pass(archive: Path, dest: Path, select) -> list[str]:
    names = []
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            name = member_name(info.filename)
            names.append(name)
            if select(name):
                check_name(archive, info.filename)
                if info.flag_bits & 0x1:
                    raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")
                with zf.open(info) as src:
                    _write(src, dest, name)
    return names


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
            _write(tf.extractfile(member), dest, name)
    return names


def _write(src, dest: Path, name: str) -> None:
    path = dest.joinpath(*name.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        shutil.copyfileobj(src, out, _COPY_BUFFER)
