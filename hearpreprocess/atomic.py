"""Write files and folders so that a reader sees either nothing or the finished product.

Every output of the pipeline goes through these helpers: content is written beside its final path
under a temporary name and renamed into place (a rename within one file system is atomic), so an
interrupted run never leaves a half-written file that a later run could mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".tmp-{uuid.uuid4().hex[:12]}-{path.name}")


def _remove_stale_temporaries(path: Path) -> None:
    """Delete what a killed earlier attempt at `path` left behind (e.g. a half-written shard).

    Each output is produced by one step, and the scheduler runs a step once at a time, so a
    temporary of the same output found now belongs to an attempt that died.
    """
    for stale in path.parent.glob(f".tmp-{'[0-9a-f]' * 12}-{glob.escape(path.name)}"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed to `path`.

    Works for a file or a folder written at the yielded path. An existing folder at `path` is
    replaced. On error the temporary is removed and `path` is left as it was.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(final)
    tmp = _temporary_sibling(final)
    try:
        yield tmp
        if final.is_dir() and not final.is_symlink():
            trash = _temporary_sibling(final)
            os.replace(final, trash)
            os.replace(tmp, final)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists() or tmp.is_symlink():
            tmp.unlink()


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
