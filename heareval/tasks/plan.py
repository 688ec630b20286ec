"""Decide what a fetch will do before it downloads anything.

The asked tasks are resolved against the record, bundles fetched earlier (same record, tarball
and md5, folder present) are left alone, folders that this command did not write are never
replaced, and the free disk space is checked against what the rest will take.
"""

from __future__ import annotations

import difflib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hearcore.bundle import is_bundle
from heareval.tasks.fetch import tarball_path
from heareval.tasks.zenodo import Record, RecordFile

# Unpacked size per byte of tarball, in tenths (1.1), kept integral so that sizes stay exact.
# The bundles are 16-bit PCM WAVs, which gzip barely shrinks (a few per cent); 1.1 leaves room
# for that and for the file system's per-file overhead.
UNPACKED_TENTHS_PER_TARBALL_BYTE = 11


class SelectionError(Exception):
    """What was asked cannot be fetched as asked (unknown task, a folder in the way)."""


class DiskSpaceError(Exception):
    """The destination's file system has too little free space for the fetch."""


@dataclass
class Plan:
    """The tarballs to fetch now, and those whose bundles are already complete."""

    to_fetch: list[RecordFile] = field(default_factory=list)
    done: list[RecordFile] = field(default_factory=list)


def resolve(record: Record, names: list[str]) -> list[RecordFile]:
    """The tarballs of the asked tasks, in record order, each once.

    Args:
        record: the record read from Zenodo.
        names: `all`, task names (`esc50`: every mode of it) or bundle names
            (`speech_commands-v0.0.2-5h`).

    Raises:
        SelectionError: a name matches no tarball of the record; the message lists the tasks the
            record has and the nearest match.
    """
    tarballs = record.tarballs
    if "all" in names:
        return tarballs
    chosen: list[RecordFile] = []
    unknown: list[str] = []
    for name in names:
        matches = [f for f in tarballs if name in (f.task, f.bundle)]
        if not matches:
            unknown.append(name)
        chosen.extend(f for f in matches if f not in chosen)
    if unknown:
        # `task` is set on every task tarball (Record.tarballs holds no other file)
        tasks = sorted({f.task for f in tarballs if f.task is not None})
        known = tasks + [f.bundle for f in tarballs]
        hints = []
        for name in unknown:
            nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hints.append(f"{name!r}" + (f" (did you mean {nearest[0]!r}?)" if nearest else ""))
        raise SelectionError(
            f"not in Zenodo record {record.id}: {', '.join(hints)}. The record has "
            f"{len(tasks)} tasks: {', '.join(tasks) or 'none'}. Run `python -m heareval.tasks "
            f"list --record {record.id}` for every bundle, or pass another --record"
        )
    return chosen


def make_plan(record: Record, files: list[RecordFile], dest: Path, fetched: dict) -> Plan:
    """Split `files` into those to fetch and those already fetched and complete.

    A bundle is complete when `fetched.json` records it from the same record, tarball and md5
    and its folder (with task_metadata.json) is there: bundle folders are only ever renamed into
    place whole, so one that exists is not half-extracted.

    Args:
        record: the record the files come from.
        files: the resolved tarballs.
        dest: the destination folder.
        fetched: `fetched.json`'s bundles (see `fetch.read_fetched`).

    Raises:
        SelectionError: a tarball has no size or md5 to verify it against, or a bundle folder
            exists in `dest` that this command did not fetch (it is never replaced).
    """
    plan = Plan()
    for file in files:
        if file.md5 is None or file.size is None:
            raise SelectionError(
                f"{file.bundle}: record {record.id} gives no md5 or size for {file.key}, so the "
                "download could not be verified; it is not fetched: pick another --record"
            )
        mine = {name: e for name, e in fetched.items() if e.get("key") == file.key}
        if mine and all(
            str(e.get("record")) == record.id and e.get("md5") == file.md5 and is_bundle(dest / n)
            for n, e in mine.items()
        ):
            plan.done.append(file)
            continue
        folder = dest / file.bundle
        if folder.exists() and file.bundle not in fetched:
            raise SelectionError(
                f"{file.bundle}: {folder} exists and was not fetched by this command (built by "
                "hearpreprocess, or copied in?); it is never replaced: move it away or pass "
                "another --dest"
            )
        plan.to_fetch.append(file)
    return plan


def tarball_size(file: RecordFile) -> int:
    """`file.size` of a tarball that `make_plan` accepted: it refuses those without a size."""
    assert file.size is not None, f"{file.key}: the record gives no size (see make_plan)"
    return file.size


def space_needed(files: list[RecordFile], dest: Path) -> tuple[int, int, int]:
    """Bytes the fetch of `files` needs on `dest`'s file system, as (total, download, unpacked).

    Tarballs are fetched one at a time and deleted once unpacked, so at the peak the disk holds
    every bundle unpacked (1.1 x its tarball's size) plus the largest tarball still to
    download; bytes of it already downloaded by an earlier run are already taken, not needed.
    """
    sizes = [tarball_size(f) for f in files]
    unpacked = sum(-(-size * UNPACKED_TENTHS_PER_TARBALL_BYTE // 10) for size in sizes)
    download = max(
        (size - _bytes_on_disk(tarball_path(dest, f)) for f, size in zip(files, sizes)), default=0
    )
    download = max(download, 0)
    return unpacked + download, download, unpacked


def check_space(files: list[RecordFile], dest: Path) -> None:
    """Refuse to start a fetch the disk cannot hold.

    Raises:
        DiskSpaceError: the message gives the sizes needed, how they are estimated, and what is
            available.
    """
    total, download, unpacked = space_needed(files, dest)
    free = shutil.disk_usage(_existing_ancestor(dest)).free
    if total > free:
        raise DiskSpaceError(
            f"not enough disk space for {len(files)} bundle(s) in {dest}: need about "
            f"{human_size(total)} (the largest tarball still to download, {human_size(download)}, "
            f"plus every bundle unpacked, {human_size(unpacked)} = 1.1 x the tarball sizes, as WAV "
            f"audio hardly compresses), but only {human_size(free)} is free there: free some "
            "space, fetch fewer tasks, or pass another --dest"
        )


def human_size(n: int) -> str:
    """Bytes in binary units, e.g. `1.2 GiB`."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _bytes_on_disk(tarball: Path) -> int:
    part = tarball.with_name(tarball.name + ".part")
    for path in (tarball, part):
        if path.is_file():
            return path.stat().st_size
    return 0


def _existing_ancestor(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path
