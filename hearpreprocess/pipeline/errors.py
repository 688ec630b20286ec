"""Why a step failed, in words a user can act on.

Most errors already say what to do (a PipelineError names the task, the file and the fix). A full
disk does not: Python reports "[Errno 28] No space left on device", often with no file name (a
write() to an open file names nothing), and a step may wrap it in an error of its own ("could not
be unpacked ..."). `describe_error` finds it anywhere in the exception's chain and names the
folder that was being written, so the user knows which disk to free.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import FrameType, TracebackType

from hearcore.atomic import temporary_writer

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_ADVICE = "free space or choose another --work-dir/--tasks-dir/--tar-dir"


def describe_error(exception: BaseException) -> str:
    """What to tell the user about `exception`: for a full disk or quota (ENOSPC, EDQUOT, also
    when it caused another error) "no space left on the device holding FOLDER; free space or
    choose another --work-dir/--tasks-dir/--tar-dir"; for anything else str(exception)."""
    chain = _chain(exception)
    full = next((e for e in chain if isinstance(e, OSError) and e.errno in _NO_SPACE), None)
    if full is None:
        return str(exception)
    # The failed write's own frames first, then those of the errors it caused (the step's).
    folder = _folder_written(full, [full] + [e for e in chain if e is not full])
    where = f"the device holding {folder}" if folder else "the device being written"
    return f"no space left on {where}; {_ADVICE}"


def _chain(exception: BaseException) -> list[BaseException]:
    """The exception, then its causes and contexts, each once."""
    seen: list[BaseException] = []
    todo = [exception]
    while todo:
        error = todo.pop(0)
        if any(error is e for e in seen):
            continue
        seen.append(error)
        todo += [e for e in (error.__cause__, error.__context__) if e is not None]
    return seen


def _folder_written(error: OSError, chain: list[BaseException]) -> Path | None:
    """The output folder being written when `error` happened: from its file name, or else (a
    write() to an open file names none) from the innermost frame that holds a file opened for
    writing, or else a path through a temporary, or else any absolute path. A temporary of
    hearcore.atomic stands for the folder it will be renamed into."""
    for name in (error.filename, error.filename2):
        if isinstance(name, (str, bytes, os.PathLike)):
            return _output_folder(Path(os.fsdecode(name)))
    frames = [frame for e in chain for frame in _frames_innermost_first(e.__traceback__)]
    for pick in (_writable_file_name, _temporary_path, _absolute_path):
        for frame in frames:
            for value in frame.f_locals.values():
                name = pick(value)
                if name:
                    return _output_folder(Path(name))
    return None


def _frames_innermost_first(tb: TracebackType | None) -> list[FrameType]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames[::-1]


def _writable_file_name(value: object) -> str | None:
    """The name of a file object opened for writing (a Python file, a soundfile.SoundFile...);
    closed or not: the `with` block that wrote it has closed it by the time we look."""
    mode = getattr(value, "mode", None)
    name = getattr(value, "name", None)
    if isinstance(name, str) and isinstance(mode, str) and any(c in mode for c in "wax+"):
        return name if os.path.isabs(name) else os.path.abspath(name)
    return None


def _temporary_path(value: object) -> str | None:
    """A path through a temporary of hearcore.atomic: certainly an output being written."""
    path = _absolute_path(value)
    return path if path and any(temporary_writer(p) for p in Path(path).parts) else None


def _absolute_path(value: object) -> str | None:
    return str(value) if isinstance(value, Path) and value.is_absolute() else None


def _output_folder(path: Path) -> Path:
    """The folder holding `path`, above any temporary (`.tmp-...~name`) on the way."""
    parts = path.parts
    for i, part in enumerate(parts):
        if temporary_writer(part) is not None:
            return Path(*parts[:i]) if i else path
    return path.parent
