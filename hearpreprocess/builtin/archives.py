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

from hearpreprocess.atomic import atomic_write_bytes

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
