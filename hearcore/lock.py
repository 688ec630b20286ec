"""A lock on a folder (a work dir), so that two commands run at once on it never interleave.

    with hold_lock(work_dir, "python -m hearpreprocess.runner tones"):
        ...  # nobody else holds work_dir/.lock meanwhile

The lock is the file `<folder>/.lock`, holding a JSON record of its holder: pid, host, start time
and command. How it is taken, and why each part is there:

- The record is written into a private file first (a temporary named by `hearcore.atomic`, so a
  leftover is known garbage), which is then hard-linked to `.lock`. link(2) fails when `.lock`
  exists, atomically, on a local disk and on NFS alike (O_EXCL is not reliable on old NFS), so
  exactly one of two starters wins, and a reader never sees a half-written record. On NFS a lost
  reply can make a successful link report EEXIST: the link count of the private file tells.
- The holder keeps an exclusive flock(2) on the lock file's inode for as long as it holds the lock
  (taken on the private file before the link: one inode). The kernel drops it when the process
  ends, however it ends, so on the same host a lock whose pid is alive but whose flock is free
  belongs to a dead holder whose pid was reused.
- A stale lock (same host, holder gone) is taken over only by whoever gets the flock of its inode
  and sees the path still naming that inode; the winner renames its own, already flocked, record
  over it. Two processes racing for one stale lock therefore cannot both win.
- Forked children (Luigi's workers) inherit the flock: a holder killed while its workers still
  run keeps the lock until they end, which is what protects their outputs.
- A lock of another host is never taken over: from here nobody can tell whether its holder still
  runs. The message says so, and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from hearcore.atomic import remove_stale_temporaries, temporary_sibling, writer_is_gone
from hearcore.cli import LOCKED, UserError

LOCK_FILE = ".lock"
# File systems without flock (some NFS mounts without a lock manager) answer with these.
_NO_FLOCK = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL)
# A takeover that lost a race looks again; a few rounds settle it (each round either wins, finds
# a live holder, or saw the lock change under it).
_ATTEMPTS = 5


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its lock file records it."""

    pid: int
    host: str
    started: str
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} on host {self.host}, since {self.started}, running: {self.command}"


class LockHeld(UserError):
    """Another process holds the lock; the message names it and says what to do."""

    def __init__(self, message: str, lock_file: Path, holder: Holder | None):
        super().__init__(message, LOCKED)
        self.lock_file = lock_file
        self.holder = holder


def lock_file(folder: str | os.PathLike) -> Path:
    """The lock file of `folder`."""
    return Path(folder) / LOCK_FILE


def read_holder(path: str | os.PathLike) -> Holder | None:
    """The holder recorded in lock file `path`; None when it is absent or not a lock record."""
    try:
        return _parse_record(Path(path).read_bytes())
    except OSError:
        return None


def _parse_record(data: bytes) -> Holder | None:
    try:
        record = json.loads(data.decode("utf-8"))
        return Holder(int(record["pid"]), str(record["host"]), record["started"], record["command"])
    except (ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def hold_lock(
    folder: str | os.PathLike, what: str, warn: Callable[[str], None] | None = None
) -> Iterator[Path]:
    """Hold the lock of `folder` (created if missing) for the body of the `with`; yield the lock
    file. `what` (e.g. the command line) is recorded for the message another starter gets.

    Raises LockHeld (exit code LOCKED) when a live process, or any process of another host, holds
    it. A lock left by a dead process of this host is taken over, with a line to `warn` (default:
    standard error). The lock file is removed on leaving, on an exception too.
    """
    path = lock_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)  # private records of starters that died before linking
    fd = _acquire(path, what, warn or _print_warning)
    try:
        yield path
    finally:
        _release(path, fd)


def _print_warning(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def _acquire(path: Path, what: str, warn: Callable[[str], None]) -> int:
    """The flocked descriptor of our lock file, once `path` names it."""
    fd, private = _write_private_record(path, what)
    try:
        for _ in range(_ATTEMPTS):
            if _link(private, path, fd):
                return fd
            if _take_over_if_stale(path, private, warn):
                return fd
        raise LockHeld(
            f"could not take the lock {path}: it kept changing hands; run the command again",
            path,
            read_holder(path),
        )
    except BaseException:
        os.close(fd)
        raise
    finally:
        private.unlink(missing_ok=True)


def _write_private_record(path: Path, what: str) -> tuple[int, Path]:
    """A fresh file beside `path` holding our record, flocked; (its descriptor, its path)."""
    private = temporary_sibling(path)
    fd = os.open(private, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        _try_flock(fd)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "command": what,
        }
        os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        private.unlink(missing_ok=True)
        raise
    return fd, private


def _try_flock(fd: int) -> bool:
    """Take an exclusive flock without waiting: True if taken, False if someone else has it.

    Where the file system has no flock, True: the link alone then decides who holds the lock
    (and a stale lock is not taken over, see _flock_of_stale)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as e:
        if e.errno in _NO_FLOCK:
            return True
        raise
    return True


def _link(private: Path, path: Path, fd: int) -> bool:
    """Link our record at `path`: True if it is ours now, False if `path` exists."""
    try:
        os.link(private, path)
    except FileExistsError:
        # NFS: the link may have been made although the (retransmitted) call says EEXIST.
        return os.fstat(fd).st_nlink == 2
    return True


def _take_over_if_stale(path: Path, private: Path, warn: Callable[[str], None]) -> bool:
    """Replace the lock at `path` with our record if its holder is gone: True if we did.

    Raises LockHeld when the holder is alive or cannot be judged from here. False when the lock
    changed meanwhile (it was released or taken over by another): the caller tries again.
    """
    try:
        their_fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False  # released meanwhile
    try:
        holder = _holder_of(their_fd)
        if holder is None or holder.host != socket.gethostname():
            raise _held(path, holder)
        if not writer_is_gone(holder.pid, holder.host) and not _flock_is_free(their_fd):
            raise _held(path, holder)
        flocked = _flock_of_stale(their_fd, path, holder)
        if not flocked or not _still_names(path, their_fd):
            return False
        # We hold the flock of the stale inode and the path still names it: nobody else can
        # replace it now, since every takeover needs that flock.
        os.rename(private, path)
        warn(
            f"took over the stale lock {path}: its holder ({holder.describe()}) no longer runs "
            f"on this host"
        )
        return True
    finally:
        os.close(their_fd)


def _holder_of(fd: int) -> Holder | None:
    """The record in an open lock file (read through the descriptor: one inode throughout)."""
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return _parse_record(data)


def _flock_is_free(fd: int) -> bool:
    """Whether nobody holds the flock of this lock file: its pid is alive, but it is not ours
    (that pid was reused). Where flock is missing we cannot tell, and say it is held."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True  # kept: _flock_of_stale takes it again (a no-op for the same descriptor)


def _flock_of_stale(fd: int, path: Path, holder: Holder) -> bool:
    """Take the flock of a stale lock's inode: only one of several racers gets it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if not _still_names(path, fd):
            return False  # taken over or released meanwhile: look again
        raise LockHeld(
            f"the folder {path.parent} is locked by a process of {holder.describe()}: that pid "
            f"is gone, but a process it started (e.g. a worker it forked), or another command "
            f"taking the lock over right now, still holds it; wait for it to end (or stop it), "
            f"then run the command again",
            path,
            holder,
        )
    except OSError as e:
        if e.errno in _NO_FLOCK:
            raise LockHeld(
                f"the lock {path} was left by {holder.describe()}, which no longer runs, but this "
                f"file system cannot lock files, so it is not taken over automatically (two "
                f"commands could both do it); remove {path} and run the command again",
                path,
                holder,
            ) from e
        raise
    return True


def _still_names(path: Path, fd: int) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (mine.st_dev, mine.st_ino)


def _held(path: Path, holder: Holder | None) -> LockHeld:
    if holder is None:
        message = (
            f"{path} exists but does not hold a lock record; if no command is running on this "
            f"folder, remove {path} and run the command again"
        )
    elif holder.host != socket.gethostname():
        message = (
            f"the folder {path.parent} is locked by {holder.describe()}. That is another host, "
            f"so the lock is never taken over automatically: wait for that command to finish, or, "
            f"if host {holder.host} is gone or no longer runs it, remove {path} and run again"
        )
    else:
        message = (
            f"the folder {path.parent} is locked by {holder.describe()}; wait for it to finish "
            f"(or stop it), then run the command again"
        )
    return LockHeld(message, path, holder)


def _release(path: Path, fd: int) -> None:
    """Remove the lock file if it is still ours, then drop the flock (closing the descriptor)."""
    try:
        if _still_names(path, fd):
            path.unlink()
    finally:
        os.close(fd)
