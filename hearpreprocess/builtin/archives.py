"""Deterministic building blocks for fake corpora: seeded noise, WAV bytes, zip and tar.gz.

Archives are written with fixed timestamps and no owner names, so a fake's md5 is the same on every
machine and run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import wave
import zipfile
from pathlib import Path

import numpy as np

from hearcore.atomic import atomic_write_bytes

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def seeded_rng(name: str) -> np.random.Generator:
    """A numpy generator seeded by a name, the same on every machine and run."""
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    """16-bit PCM WAV bytes of float samples in [-1, 1], shape (frames,) or (frames, channels)."""
    frames = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if frames.ndim == 1 else frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(frames.tobytes())
    return buf.getvalue()


def _folders(names: list[str]) -> list[str]:
    return sorted({str(p) + "/" for n in names for p in Path(n).parents if str(p) != "."})


def write_zip(
    path: Path,
    members: dict[str, bytes],
    with_dirs: bool = True,
    compression: int = zipfile.ZIP_DEFLATED,
) -> str:
    """Write a zip with fixed timestamps (directory entries first); return its md5."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for folder in _folders(list(members)) if with_dirs else []:
            info = zipfile.ZipInfo(folder, date_time=FIXED_DATE)
            info.external_attr = (0o40755 << 16) | 0x10
            zf.writestr(info, b"")
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compress_type=compression)
    return _write_atomic(path, buf.getvalue())


def write_tar_gz(path: Path, members: dict[str, bytes], with_dirs: bool = True) -> str:
    """Write a tar.gz with fixed mtimes and no owner names; return its md5."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for folder in _folders(list(members)) if with_dirs else []:
                info = tarfile.TarInfo(folder.rstrip("/"))
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return _write_atomic(path, buf.getvalue())


def _write_atomic(path: Path, data: bytes) -> str:
    atomic_write_bytes(path, data)
    return hashlib.md5(data).hexdigest()


def write_split_zip(
    path: Path,
    members: dict[str, bytes],
    part_size: int,
    compression: int = zipfile.ZIP_DEFLATED,
    with_dirs: bool = True,
    zip64: bool = False,
) -> dict[Path, str]:
    """Write a split zip laid out as Info-ZIP's `zip -s` writes one; return {part path: md5}.

    The parts are X.z01, X.z02, ..., and `path` (X.zip) last. As with Info-ZIP, the first part
    begins with the spanning signature PK\\x07\\x08, every part but the last is `part_size` bytes
    (less where a header would not fit: headers are never split, member data is), each
    central-directory entry names the part ("disk") of its local header and an offset from that
    part's start, and the end records lie in the last part. Fixed timestamps, so the md5s are
    stable. `zip64=True` writes zip64 extras and end records even for small data (more than
    `zip -fz` does: offsets and disk numbers move to the extras too), for readers' zip64 code.

    Args:
        path: the last part, named X.zip.
        members: member name -> bytes; folder entries are added first when `with_dirs`.
        part_size: bytes per part (Info-ZIP's smallest is 64 KiB; any size above the largest
            header works here).
        compression: zipfile.ZIP_DEFLATED or zipfile.ZIP_STORED.
        with_dirs: write an entry for each folder, as `zip -r` does.
        zip64: force zip64 structures.
    """
    import struct
    import zlib

    full, disks = 0xFFFFFFFF, [bytearray(b"PK\x07\x08")]

    def place(size: int) -> tuple[int, int]:
        """Start a new part unless `size` unsplittable bytes fit; return where they will go."""
        if len(disks[-1]) + size > part_size:
            if size > part_size:
                raise ValueError(f"part_size {part_size} cannot hold a {size}-byte header")
            disks.append(bytearray())
        return len(disks) - 1, len(disks[-1])

    def spill(data: bytes) -> None:
        """Append member data, continuing in a new part whenever one is full."""
        while data:
            if len(disks[-1]) >= part_size:
                disks.append(bytearray())
            room = part_size - len(disks[-1])
            disks[-1] += data[:room]
            data = data[room:]

    central = []
    folders = [(folder, None) for folder in _folders(list(members))] if with_dirs else []
    for name, raw in [*folders, *members.items()]:
        method = zipfile.ZIP_STORED if raw is None else compression
        raw = raw or b""
        data = raw
        if method == zipfile.ZIP_DEFLATED:
            packer = zlib.compressobj(6, zlib.DEFLATED, -15)
            data = packer.compress(raw) + packer.flush()
        encoded = name.encode("utf-8")
        flags = 0 if encoded.isascii() else 0x800  # bit 11: the name is UTF-8
        version = 45 if zip64 else 20 if method == zipfile.ZIP_DEFLATED else 10
        crc, csize, usize = zlib.crc32(raw), len(data), len(raw)
        local_extra = struct.pack("<HHQQ", 1, 16, usize, csize) if zip64 else b""
        disk, offset = place(30 + len(encoded) + len(local_extra))
        sizes = (full, full) if zip64 else (csize, usize)
        disks[-1] += struct.pack(
            "<4s2B4HL2L2H", b"PK\x03\x04", version, 0, flags, method, 0, 0x21, crc, *sizes,
            len(encoded), len(local_extra),
        )  # fmt: skip
        disks[-1] += encoded + local_extra
        spill(data)
        mode = (0o40755 << 16) | 0x10 if name.endswith("/") else 0o644 << 16
        extra = struct.pack("<HH3QL", 1, 28, usize, csize, offset, disk) if zip64 else b""
        where = (full, full, 0xFFFF, full) if zip64 else (csize, usize, disk, offset)
        central.append(
            struct.pack(
                "<4s4B4HL2L5H2L", b"PK\x01\x02", 30, 3, version, 0, flags, method, 0, 0x21, crc,
                where[0], where[1], len(encoded), len(extra), 0, where[2], 0, mode, where[3],
            )  # fmt: skip
            + encoded
            + extra
        )
    placed = []
    for record in central:
        placed.append(place(len(record)))
        disks[-1] += record
    cd_disk, cd_offset = placed[0] if placed else place(0)
    cd_size, count = sum(map(len, central)), len(central)
    end_disk, end_offset = place(22 + (76 if zip64 else 0))
    on_last = sum(1 for disk, _ in placed if disk == end_disk)
    if zip64:  # the zip64 end record, then its locator, as `zip -fz` writes them
        disks[-1] += struct.pack(
            "<4sQ2H2L4Q", b"PK\x06\x06", 44, 0x031E, 45, end_disk, cd_disk, on_last, count,
            cd_size, cd_offset,
        )  # fmt: skip
        disks[-1] += struct.pack("<4sLQL", b"PK\x06\x07", end_disk, end_offset, len(disks))
    disks[-1] += struct.pack(
        "<4s4H2LH", b"PK\x05\x06", end_disk, cd_disk, on_last, count, cd_size,
        full if zip64 else cd_offset, 0,
    )  # fmt: skip
    names = [path.with_suffix(f".z{i:02d}") for i in range(1, len(disks))] + [path]
    return {name: _write_atomic(name, bytes(disk)) for name, disk in zip(names, disks)}
