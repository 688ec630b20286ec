"""Write files and folders so that a reader sees either nothing or the finished product.

Every output of both stages goes through these helpers: content is written beside its final path
under a temporary name and renamed into place (a rename within one file system is atomic), so an
interrupted run never leaves a half-written file that a later run could mistake for a finished one.

The temporary's name records who writes it: `.tmp-<pid>@<host>-<random>~<final name>`. Leftovers are
removed only when their writer is known to be gone, i.e. it ran on this host and its process no
longer exists. Two writers of one output can be alive at once (luigid hands a step to a second
worker when it judges the first dead, two users run the same command), so "an older temporary
belongs to a dead attempt" is not a safe rule; a temporary of another host is left for
`remove_stale_temporaries` on that host (or for garbage collection) rather than guessed about.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

_PREFIX = ".tmp-"
# Host names hold letters, digits, '-' and '.', never '~' or '@', so the first '~' ends the tag.
_TEMPORARY_RE = re.compile(r"^\.tmp-(?P<pid>\d+)@(?P<host>[^~@/]+)-[0-9a-f]{8}~(?P<name>.+)$")


def temporary_sibling(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside `path`, tagged with this process and host."""
    path = Path(path)
    tag = f"{os.getpid()}@{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
    return path.with_name(f"{_PREFIX}{tag}~{path.name}")


def temporary_writer(path: str | os.PathLike) -> tuple[int, str, str] | None:
    """(pid, host, final name) of a temporary made by `temporary_sibling`, None for other names."""
    match = _TEMPORARY_RE.match(Path(path).name)
    if match is None:
        return None
    return int(match["pid"]), match["host"], match["name"]


def writer_is_gone(pid: int, host: str) -> bool:
    """True when the process `pid` on `host` is known to have ended: it ran on this host and no
    longer exists. A process on another host cannot be checked from here, so it counts as alive."""
    if host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process that no parent has reaped yet still answers kill(pid, 0), but it writes
    nothing any more (where init does not reap orphans, e.g. some VMs and containers, a killed
    runner's Luigi workers stay so)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in (b"Z", b"X")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete temporaries of `path` whose writer is gone (e.g. a half-written shard of a killed
    worker); temporaries of live writers and of other hosts stay. Returns what was removed."""
    path = Path(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.glob(f"{_PREFIX}*~*"):
        writer = temporary_writer(candidate)
        if writer is None or writer[2] != path.name or not writer_is_gone(writer[0], writer[1]):
            continue
        _remove(candidate)
        removed.append(candidate)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`.

    Works for a file or a folder written at the yielded path. An existing folder at `path` is
    replaced. On error the temporary is removed and `path` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    tmp = temporary_sibling(final)
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            trash = temporary_sibling(final)
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def make_temp_dir(parent: str | os.PathLike, prefix: str = "tmp") -> Path:
    """Create a private scratch folder under `parent` (same file system, so renames stay atomic)."""
    Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{prefix}-", dir=parent))


def link_or_copy(src: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Hard-link `src` at `dest` (parents created); copy when they are on different disks or the
    file system has no hard links. Outputs are never modified in place, so sharing is safe."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            raise
        shutil.copyfile(src, dest)
