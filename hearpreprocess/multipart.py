"""Read a split zip (Info-ZIP `zip -s`: X.z01, X.z02, ..., X.zip) without Info-ZIP.

In a split zip every central-directory entry names the part ("disk") its local header is on and
an offset relative to the start of that part, and the first part begins with the spanning
signature PK\\x07\\x08. Python's zipfile refuses split zip64 archives and misplaces the members of
the others, even when the parts are concatenated; `zip -s 0`, the usual way to re-join them, needs
Info-ZIP at run time (and Info-ZIP 3.0 writes a broken join when a member spans three parts).

We present the parts as ONE read-only seekable stream: their bytes end to end, followed by a new
central directory (offsets translated to the joined stream, disk numbers zeroed, zip64 records
where the joined size needs them), so the standard library's zipfile does the real work
(decompression, CRC checks, zip64) on the unmodified member data. No library on PyPI does this
through the central directory: stream-unzip walks local headers only, so a truncated or
reordered part would surface as a late error we could not pin to a part. Checking every entry
against its part up front lets each error name the part to delete.
"""

from __future__ import annotations

import bisect
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from hearcore.archive import ArchiveError, check_zip_members

_EOCD = struct.Struct("<4s4H2LH")
_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")
_SPAN_SIGNATURES = (b"PK\x07\x08", b"PK00", b"PK\x03\x04")
_ZIP64_EXTRA = 0x0001
# Above this a field no longer fits in 32 bits and moves to a zip64 record. A module constant so
# that tests can lower it and exercise the zip64 records on small data.
_ZIP64_LIMIT = 0xFFFFFFFF


@dataclass
class _Entry:
    """One central-directory entry, with its sizes and place resolved from any zip64 extra."""

    fields: list  # the 19 fields of the fixed central header, as unpacked
    name: bytes
    extras: list[tuple[int, bytes]]
    comment: bytes
    file_size: int
    compress_size: int
    disk: int
    offset: int  # relative to the start of its part

    @property
    def label(self) -> str:
        return self.name.decode("utf-8" if self.fields[5] & 0x800 else "cp437", "replace")


class _JoinedParts(io.RawIOBase):
    """The parts end to end, then `tail`, as one read-only seekable file."""

    def __init__(self, parts: list[Path], tail: bytes = b""):
        self._files = []
        try:
            for part in parts:
                self._files.append(open(part, "rb"))
        except BaseException:
            self.close()
            raise
        sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self.starts = [sum(sizes[:i]) for i in range(len(sizes) + 1)]  # last one: the tail
        self._tail = tail
        self._size = self.starts[-1] + len(tail)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self._pos < self._size:
            index = bisect.bisect_right(self.starts, self._pos) - 1
            local = self._pos - self.starts[index]
            if index == len(self._files):
                chunk = self._tail[local : local + len(view) - done]
                view[done : done + len(chunk)] = chunk
                n = len(chunk)
            else:
                want = min(len(view) - done, self.starts[index + 1] - self._pos)
                self._files[index].seek(local)
                n = self._files[index].readinto(view[done : done + want]) or 0
                if n == 0:
                    break  # the part shrank while open
            done += n
            self._pos += n
        return done

    def read_at(self, position: int, size: int) -> bytes:
        self.seek(position)
        return self.read(size)

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()


def extract_multipart_zip(parts: Sequence[str | os.PathLike], dest: str | os.PathLike) -> None:
    """Extract the split zip (Info-ZIP `zip -s`) whose parts are `parts` into `dest`, without
    Info-ZIP.

    Args:
        parts: every part, in order (X.z01, ..., X.zip); the last holds the central directory.
        dest: folder to unpack into (created if missing); the caller makes it atomic.

    Raises:
        UnsafeArchiveError: a member would be written outside `dest`; nothing was written.
        ArchiveError: a part is missing, truncated, corrupt or out of place; the message names it.
    """
    part_paths = [Path(p) for p in parts]
    dest_path = Path(dest)
    if not part_paths:
        raise ArchiveError("a split zip needs at least one part (X.z01, ..., X.zip)")
    for part in part_paths:
        if not part.is_file():
            raise ArchiveError(f"part {part} of a split zip does not exist: download it first")
    _check_part_names(part_paths)
    with _JoinedParts(part_paths) as joined:
        entries = _read_central_directory(part_paths, joined)
        spans = _check_entries(part_paths, joined, entries)
        tail = _joined_central_directory(entries, joined.starts)
    with _JoinedParts(part_paths, tail) as stream:
        try:
            zf = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, NotImplementedError) as error:
            raise _bad(part_paths[-1:], f"the joined archive cannot be read ({error})") from error
        with zf:
            members = zf.infolist()
            check_zip_members(part_paths[-1], members)
            dest_path.mkdir(parents=True, exist_ok=True)
            for info, span in zip(members, spans):
                try:
                    zf.extract(info, dest_path)
                except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as error:
                    problem = f"member {info.filename!r} is corrupt ({error})"
                    raise _bad([part_paths[i] for i in span], problem) from error


def _bad(parts: list[Path], problem: str) -> ArchiveError:
    if len(parts) == 1:
        where, fix = f"part {parts[0]} of a split zip", "delete it so that it is"
    else:
        where, fix = "parts " + ", ".join(map(str, parts)) + " of a split zip", "delete them"
        fix += " so that they are"
    return ArchiveError(
        f"{where}: {problem}; a part is truncated or corrupt, or the parts are out of order "
        f"(.z01, .z02, ..., .zip): {fix} downloaded again"
    )


def _check_part_names(parts: list[Path]) -> None:
    """Where the parts carry Info-ZIP's names (X.z01, ..., X.zip), check their order by name."""
    stem = parts[-1].stem
    expected = [f"{stem}.z{i:02d}" for i in range(1, len(parts))] + [f"{stem}.zip"]
    given = [p.name for p in parts]
    if sorted(given) == sorted(expected) and given != expected:
        raise ArchiveError(
            f"the parts of split zip {stem}.zip are not in order ({', '.join(given)}): pass "
            f"them as {', '.join(expected)}"
        )


def _read_central_directory(parts: list[Path], joined: _JoinedParts) -> list[_Entry]:
    last_start, last_size = joined.starts[-2], joined.starts[-1] - joined.starts[-2]
    window = min(last_size, _EOCD.size + 0xFFFF)  # the record, then at most a 64 KiB comment
    tail = joined.read_at(last_start + last_size - window, window)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise _bad(parts[-1:], "no end-of-central-directory record (the .zip part comes last)")
    _, disk, cd_disk, _, count, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, at)
    if at >= _LOCATOR.size and tail[at - _LOCATOR.size : at - _LOCATOR.size + 4] == b"PK\x06\x07":
        _, disk64, offset64, _ = _LOCATOR.unpack_from(tail, at - _LOCATOR.size)
        if disk64 >= len(parts):
            raise _bad(parts[-1:], f"the zip64 locator points to part {disk64 + 1}")
        record = joined.read_at(joined.starts[disk64] + offset64, _EOCD64.size)
        if len(record) < _EOCD64.size or record[:4] != b"PK\x06\x06":
            raise _bad(
                parts[disk64 : disk64 + 1],
                "no zip64 end-of-central-directory record where the locator points",
            )
        _, _, _, _, disk, cd_disk, _, count, cd_size, cd_offset = _EOCD64.unpack(record)
    if disk + 1 != len(parts):
        _wrong_count(parts, disk + 1)
    if joined.read_at(0, 4) not in _SPAN_SIGNATURES:
        raise _bad(parts[:1], "it does not begin like the first part of a split zip")
    if cd_disk >= len(parts) or joined.starts[cd_disk] + cd_offset + cd_size > joined.starts[-1]:
        raise _bad(parts[-1:], "the central directory lies outside the parts")
    data = joined.read_at(joined.starts[cd_disk] + cd_offset, cd_size)
    entries, pos = [], 0
    for _ in range(count):
        if data[pos : pos + 4] != b"PK\x01\x02" or pos + _CENTRAL.size > len(data):
            raise _bad(parts[cd_disk:], "the central directory is corrupt")
        fields = list(_CENTRAL.unpack_from(data, pos))
        n_name, n_extra, n_comment = fields[12:15]
        name = data[pos + _CENTRAL.size : pos + _CENTRAL.size + n_name]
        extra = data[pos + _CENTRAL.size + n_name : pos + _CENTRAL.size + n_name + n_extra]
        pos += _CENTRAL.size + n_name + n_extra
        comment = data[pos : pos + n_comment]
        pos += n_comment
        entries.append(_entry(parts, fields, name, extra, comment))
    return entries


def _wrong_count(parts: list[Path], count: int) -> None:
    expected = [f"{parts[-1].stem}.z{i:02d}" for i in range(1, count)] + [parts[-1].name]
    missing = [name for name in expected if name not in {p.name for p in parts}]
    if missing and len(parts) < count:
        what = f"part {missing[0]} is" if len(missing) == 1 else f"parts {', '.join(missing)} are"
        what += " missing"
        fix = "download it and pass every part, in order"
    else:
        what = f"{len(parts)} parts were given ({', '.join(p.name for p in parts)})"
        fix = "pass every part once, in order; if they are, the .zip part is the wrong file"
        fix += ": delete it so that it is downloaded again"
    raise ArchiveError(
        f"split zip {parts[-1]} has {count} parts ({', '.join(expected)}) but {what}: {fix}"
    )


def _entry(parts: list[Path], fields: list, name: bytes, extra: bytes, comment: bytes) -> _Entry:
    extras, pos = [], 0
    while pos + 4 <= len(extra):
        kind, size = struct.unpack_from("<HH", extra, pos)
        extras.append((kind, extra[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    compress_size, file_size, disk, offset = fields[10], fields[11], fields[15], fields[18]
    zip64 = next((data for kind, data in extras if kind == _ZIP64_EXTRA), b"")
    # A zip64 extra holds, in this order, only the fields whose 32-bit slot is saturated.
    values, pos = [], 0
    for slot, width in ((file_size, 8), (compress_size, 8), (offset, 8), (disk, 4)):
        saturated = slot == (0xFFFF if width == 4 else 0xFFFFFFFF)
        if saturated and pos + width <= len(zip64):
            values.append(int.from_bytes(zip64[pos : pos + width], "little"))
            pos += width
        else:
            values.append(slot)
    file_size, compress_size, offset, disk = values
    entry = _Entry(fields, name, extras, comment, file_size, compress_size, disk, offset)
    if disk >= len(parts):
        raise _bad(parts[-1:], f"the central directory places {entry.label!r} on part {disk + 1}")
    return entry


def _check_entries(parts: list[Path], joined: _JoinedParts, entries: list[_Entry]) -> list:
    """Check each local header against its entry; return the parts each member's data spans."""
    spans, ranges = [], []
    for index, entry in enumerate(entries):
        part = [parts[entry.disk]]
        if entry.offset >= joined.starts[entry.disk + 1] - joined.starts[entry.disk]:
            raise _bad(part, f"it is too short to hold member {entry.label!r}")
        start = joined.starts[entry.disk] + entry.offset
        fields = _LOCAL.unpack(joined.read_at(start, _LOCAL.size))
        n_name, n_extra = fields[10], fields[11]
        if fields[0] != b"PK\x03\x04" or joined.read_at(start + _LOCAL.size, n_name) != entry.name:
            raise _bad(part, f"member {entry.label!r} is not where the central directory says")
        end = start + _LOCAL.size + n_name + n_extra + entry.compress_size
        last = min(bisect.bisect_left(joined.starts, end) - 1, len(parts) - 1)
        spans.append(range(entry.disk, max(entry.disk, last) + 1))
        ranges.append((start, end, index))
    ranges.sort()
    for (_, end, index), (start, _, _) in zip(ranges, ranges[1:] + [(joined.starts[-1], 0, 0)]):
        if end > start:  # the parts' lengths do not add up: one of them lost or gained bytes
            problem = f"member {entries[index].label!r} runs into the next one"
            raise _bad([parts[i] for i in spans[index]], problem)
    return spans


def _joined_central_directory(entries: list[_Entry], starts: list[int]) -> bytes:
    """A central directory and end records for the parts read as one stream starting at 0."""
    records = []
    for entry in entries:
        offset = starts[entry.disk] + entry.offset
        sizes = [entry.file_size, entry.compress_size, offset]
        extras = [(kind, data) for kind, data in entry.extras if kind != _ZIP64_EXTRA]
        fields = list(entry.fields)
        fields[15] = 0  # one disk now
        if max(sizes) >= _ZIP64_LIMIT:
            extras.insert(0, (_ZIP64_EXTRA, struct.pack("<3Q", *sizes)))
            fields[11], fields[10], fields[18] = 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF
            fields[3] = max(fields[3], 45)  # version needed to extract: zip64
        else:
            fields[11], fields[10], fields[18] = sizes
        extra = b"".join(struct.pack("<HH", kind, len(data)) + data for kind, data in extras)
        fields[12:15] = len(entry.name), len(extra), len(entry.comment)
        records.append(_CENTRAL.pack(*fields) + entry.name + extra + entry.comment)
    directory = b"".join(records)
    cd_offset, count = starts[-1], len(entries)
    if max(cd_offset, len(directory)) < _ZIP64_LIMIT and count < 0xFFFF:
        return directory + _EOCD.pack(
            b"PK\x05\x06", 0, 0, count, count, len(directory), cd_offset, 0
        )
    record = _EOCD64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(directory), cd_offset)
    locator = _LOCATOR.pack(b"PK\x06\x07", 0, cd_offset + len(directory), 1)
    small = min(count, 0xFFFF)
    end = _EOCD.pack(b"PK\x05\x06", 0, 0, small, small, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return directory + record + locator + end
