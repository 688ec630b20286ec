"""Unpack corpus archives (zip, tar, tar.gz/bz2/xz, rar, split zip) safely.

Pure I/O, no Luigi. Every member is checked before anything is written: no absolute paths, drive
letters or `..`, no links that lead outside the destination, no device files, and the sizes the
members declare must fit the free space of the destination. A zip member is copied with a count of
its bytes against the size its header declares, so one that unpacks to more (a zip bomb) stops at
one byte past it. A corrupt or truncated archive raises `ArchiveError` that says to delete it so
that it is downloaded again.
"""

from __future__ import annotations

import copy
import gzip
import lzma
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import rarfile

from hearcore.atomic import temporary_writer

_RAR_MAGIC = b"Rar!\x1a\x07"
_COPY_BUFFER = 1 << 20
_COMPRESSED_MAGICS = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# How many symlinks one path may pass through before we call it a loop.
_MAX_LINK_DEPTH = 40
# rarfile parses RAR headers itself and runs a tool only to decompress. We let it use unar (The
# Unarchiver, Debian main), the backend its documentation prefers after unrar: it decodes RAR4
# (2.9) and RAR5, solid or not (not RAR 1.5). The others do not fit: unrar is non-free, Debian's
# 7z cannot open RAR (the codec is non-free) yet rarfile would pick it, and bsdtar's RAR support
# is, in rarfile's words, very limited. unrar is left out too, so that every machine runs the one
# backend the tests cover.
_RAR_TOOLS = dict(unrar=False, unar=True, bsdtar=False, sevenzip=False, sevenzip2=False)
_RAR_INSTALL = "`apt-get install unar` on Debian/Ubuntu, `brew install unar` on macOS"
_RAR_DEVICE_TYPES = (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK)
_RAR_SYMLINKS = (rarfile.RAR5_XREDIR_UNIX_SYMLINK, rarfile.RAR5_XREDIR_WINDOWS_SYMLINK)
CORRUPT_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    gzip.BadGzipFile,
    rarfile.Error,
)


class ArchiveError(Exception):
    """The archive cannot be unpacked; the message names it and says what to do."""


class UnsafeArchiveError(ArchiveError):
    """A member would be written outside the destination, or is a device file."""


class MissingToolError(ArchiveError):
    """The archive is fine, but the program that decompresses it is not installed."""


class ZipBombError(UnsafeArchiveError):
    """A member unpacks to more bytes than its header declares."""


class NoSpaceForArchiveError(ArchiveError):
    """The members' declared sizes do not fit the free space of the destination."""


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Unpack `archive` into `dest` (created if missing), keeping member names verbatim.

    The format is sniffed from the content, with the file name as a tie-break. Owners are not
    applied; permissions only as far as tarfile's 'data' filter keeps them (and, for rar, as
    rarfile applies the permission bits of Unix-made members).
    The caller makes `dest` atomic (it may hold a partial result after an error).

    Args:
        archive: a zip, tar, tar.gz/tgz, tar.bz2, tar.xz or rar file (rar needs `unar`).
        dest: folder to unpack into.

    Raises:
        UnsafeArchiveError: a member escapes `dest` or is a device file; nothing was written.
        ArchiveError: the archive is corrupt, truncated or of an unknown format.
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"archive {archive} does not exist: download it first")
    kind = detect_kind(archive)
    extract = {"zip": _extract_zip, "tar": _extract_tar, "rar": _extract_rar}[kind]
    try:
        extract(archive, dest)
    except UnsafeArchiveError:
        raise
    except (*CORRUPT_ERRORS, NotImplementedError) as error:
        raise corrupt_error(archive, error) from error
    except OSError as error:
        if isinstance(error.__context__, (zlib.error, EOFError)) or "Invalid data" in str(error):
            raise corrupt_error(archive, error) from error  # bz2 reports bad data as a bare OSError
        raise


def corrupt_error(archive: Path, error: BaseException) -> ArchiveError:
    return ArchiveError(
        f"archive {archive} is corrupt or truncated ({type(error).__name__}: {error}): delete it "
        "so that it is downloaded again"
    )


def detect_kind(archive: Path) -> str:
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


def check_name(archive: Path, name: str) -> list[str]:
    """The path components of a member name, after refusing names that leave the folder."""
    parts = name.replace("\\", "/").split("/")
    if not name or name.startswith(("/", "\\")) or _DRIVE_RE.match(name) or ".." in parts:
        raise UnsafeArchiveError(
            f"archive {archive} has a member named {name!r} that would be written outside the "
            "destination folder; nothing was extracted: do not use this archive"
        )
    return [part for part in parts if part not in ("", ".")]


def check_zip_members(archive: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse a zip with a member named outside the destination, or with encrypted members."""
    for info in members:
        check_name(archive, info.filename)
        if info.flag_bits & 0x1:
            raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")


def check_free_space(archive: Path, dest: Path, declared: int) -> None:
    """Raise NoSpaceForArchiveError (naming the archive, both sizes and the folder) when `dest`'s
    file system has less than `declared` bytes free."""
    folder = dest
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if declared > free:
        # A caller's temporary (hearcore.atomic) stands for the folder it will be renamed into.
        parts = dest.parts
        cut = next((i for i, part in enumerate(parts) if temporary_writer(part)), len(parts))
        dest = Path(*parts[:cut]) if cut else dest
        raise NoSpaceForArchiveError(
            f"archive {archive} declares {declared:,} bytes ({declared / 2**20:,.1f} MiB) of "
            f"members, but only {free:,} bytes ({free / 2**20:,.1f} MiB) are free on the device "
            f"holding {dest}; nothing was extracted: free space there or choose another --work-dir"
        )


def copy_zip_member(
    archive: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, out, buffer: int = _COPY_BUFFER
) -> int:
    """Copy a zip member into the open file `out`, counting its bytes against its declared size;
    returns the bytes written. Raises ZipBombError when it holds more, BadZipFile on a bad CRC.

    zipfile itself stops at the declared size and then reports a CRC error, which reads as a
    damaged download; to tell a zip bomb from that, the member is read up to one byte past its
    declared size with zipfile's CRC check off, and the CRC is checked here instead."""
    bounded = copy.copy(info)
    bounded.file_size = info.file_size + 1
    del bounded.CRC  # zipfile checks the CRC only of a ZipInfo that has one
    written, crc = 0, 0
    with zf.open(bounded) as src:
        while block := src.read(min(buffer, info.file_size + 1 - written)):
            written += len(block)
            if written > info.file_size:
                raise ZipBombError(
                    f"archive {archive}: member {info.filename!r} unpacks to more than the "
                    f"{info.file_size:,} bytes its header declares (a zip bomb); extraction "
                    "stopped: do not use this archive"
                )
            crc = zlib.crc32(block, crc)
            out.write(block)
    if written != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 or size for file {info.filename!r}")
    return written


def _extract_zip(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = zf.infolist()
        check_zip_members(archive, members)
        check_free_space(archive, dest, sum(i.file_size for i in members if not i.is_dir()))
        dest.mkdir(parents=True, exist_ok=True)
        for info in members:
            # Symlink entries are written as small regular files, as zipfile does: they cannot
            # escape. Names were checked, so their parts never hold `..` or a root.
            path = dest.joinpath(*[p for p in info.filename.split("/") if p not in ("", ".")])
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                copy_zip_member(archive, zf, info, out)


def _extract_tar(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()  # reads the whole archive: corruption shows up before writing
        _check_tar_members(archive, members)
        # A tar member's size is what it unpacks to (a sparse one's is its expanded size).
        check_free_space(archive, dest, sum(m.size for m in members if m.isfile()))
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
    symlinks, hardlinks = {}, {}
    for member in members:
        check_name(archive, member.name)
        if member.isdev() or member.isfifo():
            _refuse_device(archive, member.name)
        if member.issym():
            symlinks[member.name] = member.linkname
        elif member.islnk():
            hardlinks[member.name] = member.linkname
    _check_links(archive, symlinks, hardlinks)


def _check_links(archive: Path, symlinks: dict[str, str], hardlinks: dict[str, str]) -> None:
    """Refuse the archive if a link, followed through the archive's own symlinks, leaves it.

    Symlink targets are relative to the link's folder, hard link targets to the archive root.
    """
    by_path = {"/".join(check_name(archive, name)): target for name, target in symlinks.items()}
    for name, target in [*symlinks.items(), *hardlinks.items()]:
        base = posixpath.dirname(name.replace("\\", "/")) if name in symlinks else ""
        if target.startswith(("/", "\\")) or _DRIVE_RE.match(target):
            _refuse_link(archive, name, target)
        path = posixpath.join(base, target.replace("\\", "/"))
        if _resolve(path.split("/"), by_path, 0) is None:
            _refuse_link(archive, name, target)


def _resolve(parts: list[str], links: dict[str, str], depth: int) -> list[str] | None:
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
        target = links.get("/".join(resolved))
        if target is not None:
            if target.startswith(("/", "\\")) or _DRIVE_RE.match(target):
                return None
            followed = _resolve(
                resolved[:-1] + target.replace("\\", "/").split("/"), links, depth + 1
            )
            if followed is None:
                return None
            resolved = followed
    return resolved


def _refuse_link(archive: Path, name: str, target: str) -> None:
    raise UnsafeArchiveError(
        f"archive {archive} has a link {name!r} -> {target!r} that points outside the "
        "destination folder; nothing was extracted: do not use this archive"
    )


def _refuse_device(archive: Path, name: str) -> None:
    raise UnsafeArchiveError(
        f"archive {archive} has a device file {name!r}; nothing was extracted: do not use this "
        "archive"
    )


def _extract_rar(archive: Path, dest: Path) -> None:
    try:
        rarfile.tool_setup(**_RAR_TOOLS, force=True)
    except rarfile.RarCannotExec as error:
        raise MissingToolError(
            f"archive {archive} is a rar archive and its decompressor `unar` is not installed: "
            f"install it ({_RAR_INSTALL}) and run again"
        ) from error
    with tempfile.TemporaryDirectory(prefix="hear-rar-") as private:
        # unar takes files beside the archive whose names differ from its own only in digits for
        # further volumes of it (e.g. rar3-solid.rar beside rar5-solid.rar), and then fails. So
        # it sees the archive alone, through a link in a folder of its own.
        alone = Path(private) / "archive.rar"
        alone.symlink_to(archive.resolve())
        try:
            rf = rarfile.RarFile(alone, errors="strict")  # strict: truncation is an error
        except (rarfile.NeedFirstVolume, rarfile.BadRarName) as error:
            raise ArchiveError(
                f"archive {archive} is one volume of a multi-volume rar set, which is not "
                f"supported ({error})"
            ) from error
        with rf:
            _check_rar_members(archive, rf)
            declared = sum(info.file_size for info in rf.infolist() if info.is_file())
            check_free_space(archive, dest, declared)
            dest.mkdir(parents=True, exist_ok=True)
            if rf.is_solid():
                _extract_solid_rar(archive, alone, rf, dest)
            else:
                rf.extractall(dest)
    _check_links_on_disk(archive, dest)


def _check_rar_members(archive: Path, rf: rarfile.RarFile) -> None:
    if rf.needs_password():
        raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")
    symlinks, hardlinks = {}, {}
    for info in rf.infolist():
        check_name(archive, info.filename)
        if info.needs_password():
            raise ArchiveError(f"archive {archive} is encrypted: it cannot be unpacked")
        if info.host_os == rarfile.RAR_OS_UNIX and stat.S_IFMT(info.mode) in _RAR_DEVICE_TYPES:
            _refuse_device(archive, info.filename)
        if info.file_redir:  # RAR5 links and copies: (type, flags, target)
            kind, _, target = info.file_redir
            if kind in _RAR_SYMLINKS:
                symlinks[info.filename] = target
            elif kind == rarfile.RAR5_XREDIR_WINDOWS_JUNCTION:
                _refuse_link(archive, info.filename, target)  # always an absolute path
            else:
                hardlinks[info.filename] = target  # hard link or file copy: an archive member
        elif info.is_symlink():  # RAR3 keeps a Unix link's target as the member's data
            symlinks[info.filename] = rf.read(info).decode("utf-8", "replace")
    _check_links(archive, symlinks, hardlinks)


def _extract_solid_rar(archive: Path, alone: Path, rf: rarfile.RarFile, dest: Path) -> None:
    """One run of unar for the whole archive: rarfile runs the tool once per member, and in a
    solid archive each run decompresses everything before that member (quadratic time)."""
    command = [rarfile.UNAR_TOOL, "-q", "-f", "-D", "-nr", "-p", "", "-o", str(dest), "--"]
    result = subprocess.run(
        [*command, str(alone)], capture_output=True, text=True, errors="replace"
    )
    missing = [
        info.filename
        for info in rf.infolist()
        if info.is_file() and not info.file_redir and _size(dest / info.filename) != info.file_size
    ]
    if result.returncode != 0 or missing:
        problem = result.stderr.strip() or result.stdout.strip() or f"{missing[0]!r} not unpacked"
        raise corrupt_error(
            archive, rarfile.BadRarFile(f"unar exit {result.returncode}: {problem}")
        )


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.is_file() and not path.is_symlink() else None


def _check_links_on_disk(archive: Path, dest: Path) -> None:
    """Second line of defence for rar, whose links the backend tool may create itself."""
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
