"""Write the label files, manifest and tarballs of a HEAR task bundle (FORMAT.md §2).

The JSON and CSV files are byte-compatible with what hear-preprocess 2021 wrote (1-space indent,
sorted `<stem>.wav` keys, numeric-looking labels as JSON numbers). Unlike HEAR 2021's tarballs,
ours are byte-reproducible: members are sorted and carry fixed times, owners and modes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tarfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
from isal import igzip

from hearpreprocess import __version__
from hearpreprocess.atomic import atomic_path, atomic_write_text

MANIFEST_NAME = "manifest.json"
LABEL_VOCABULARY_NAME = "labelvocabulary.csv"
DEFAULT_TAR_ROOT = f"hear-{__version__}/tasks"
# Tarballs are gzip written by ISA-L (isal), which compresses PCM audio as well as zlib level 1
# and 5-15x faster. Measured here: on the real spoken_digit bundle isal level 1 writes 640 MB/s at
# 16.7 % of the size (zlib: level 1 132 MB/s at 16.4 %, level 6 24 MB/s at 11.8 %); on noisy audio
# 720 MB/s at 87 % (zlib level 1: 49 MB/s at 85 %). With zlib, tarballs took 40 % of a run.
GZIP_LEVEL = 1
_COPY_BUFFER = 4 << 20
_INT_PATTERN = re.compile(r"^[+-]?\d+$")
_CHUNK = 1 << 20


def _is_missing(value: Any) -> bool:
    # "" is how a missing label comes back from the pipeline's CSV files (read as strings).
    if isinstance(value, str):
        return not value.strip()
    return value is None or bool(pd.isna(value))


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars that json can write; whole floats -> int.

    Labels are never genuinely floats (recipes give strings); a whole float is pandas' upcast
    of int labels in a column that also holds a missing value, and HEAR 2021 wrote ints.
    """
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def coerce_labels(values: Iterable[Any]) -> list[Any]:
    """Turn labels into ints when every label of the task looks like an integer.

    HEAR 2021 passed metadata through a CSV file, so pandas read digits back as ints and the
    bundle holds JSON numbers (spoken_digit, nsynth pitch, libricount). Mixed label sets stay as
    they are, so "1" and "one" never end up as different types in one task. Missing values
    (None, NaN, blank strings) become None.

    Args:
        values: every label of the task (all splits).

    Returns:
        A list of the same length.
    """
    values = [None if _is_missing(v) else _plain(v) for v in values]
    present = [v for v in values if v is not None]
    is_int_like = all(
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, str) and _INT_PATTERN.match(v.strip()))
        for v in present
    )
    if not present or not is_int_like:
        return values
    return [None if v is None else int(v) for v in values]


def split_json(rows: pd.DataFrame, embedding_type: str) -> dict[str, list]:
    """The `<split>.json` content for one split, labels used as given (see `split_jsons`).

    Args:
        rows: the split's metadata rows (`unique_filestem`, `label`[, `start`, `end`]), in
            metadata order; a row with a missing label stands for a clip without events.
        embedding_type: "scene" (value = list of labels) or "event" (value = list of
            `{"label", "start", "end"}` records in row order, times in ms).

    Returns:
        Dict keyed by `<stem>.wav` in ascending order.
    """
    if embedding_type not in ("scene", "event"):
        raise ValueError(f"embedding_type must be 'scene' or 'event', got {embedding_type!r}")
    by_file: dict[str, list] = {}
    columns = ["unique_filestem", "label"] + (["start", "end"] if embedding_type == "event" else [])
    for record in rows[columns].itertuples(index=False):
        entries = by_file.setdefault(f"{record.unique_filestem}.wav", [])
        if _is_missing(record.label):
            continue
        label = _plain(record.label)
        if embedding_type == "scene":
            entries.append(label)
        else:
            entries.append({"label": label, "start": float(record.start), "end": float(record.end)})
    return {key: by_file[key] for key in sorted(by_file)}


def split_jsons(df: pd.DataFrame, embedding_type: str) -> dict[str, dict[str, list]]:
    """`split_json` for every split, after coercing the labels over the whole task."""
    df = df.assign(label=coerce_labels(df["label"]))
    return {
        split: split_json(df[df["split"] == split], embedding_type)
        for split in sorted(pd.unique(df["split"]))
    }


def label_vocabulary(df: pd.DataFrame) -> pd.DataFrame:
    """The `labelvocabulary.csv` table: columns `idx`, `label`, the sorted union of the labels.

    Labels are coerced with `coerce_labels` first, so integer labels sort numerically; missing
    labels (None, NaN, "") are left out. `df.to_csv(index=False)` gives HEAR 2021's file.
    """
    labels = sorted({v for v in coerce_labels(df["label"]) if v is not None})
    return pd.DataFrame({"idx": range(len(labels)), "label": pd.Series(labels, dtype=object)})


def label_vocabulary_text(df: pd.DataFrame) -> str:
    """`label_vocabulary(df)` as CSV text: `idx,label` header, one line per label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["idx", "label"])
    writer.writerows(label_vocabulary(df).itertuples(index=False))
    return buffer.getvalue()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON like HEAR 2021 (`indent=1`, ASCII escapes, no final newline), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=1))


def write_label_vocabulary(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write `labelvocabulary.csv` for the task's rows `df` to `path` atomically."""
    atomic_write_text(path, label_vocabulary_text(df))


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _bundle_files(bundle_dir: Path) -> list[str]:
    relpaths = []
    for folder, dirs, files in os.walk(bundle_dir):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                raise ValueError(f"bundle {bundle_dir} must hold real files, found a link: {path}")
        relpaths += [(Path(folder) / name).relative_to(bundle_dir).as_posix() for name in files]
    return sorted(relpaths)


def write_manifest(
    bundle_dir: str | os.PathLike, known_sha256: Mapping[str, str] | None = None
) -> dict:
    """Write `manifest.json`: sha256 and size of every file of the bundle but the manifest.

    Args:
        bundle_dir: the bundle folder.
        known_sha256: digests already computed, by relative path (the audio shards hash the
            files they write, in parallel); every other file is read and hashed here.

    Returns:
        The manifest: `{"files": {relative_path: {"sha256": ..., "size": ...}}}`, paths sorted.
    """
    bundle_dir = Path(bundle_dir)
    known_sha256 = known_sha256 or {}
    files = {}
    for relpath in _bundle_files(bundle_dir):
        if relpath == MANIFEST_NAME:
            continue
        path = bundle_dir / relpath
        sha256 = known_sha256.get(relpath) or file_sha256(path)
        files[relpath] = {"sha256": sha256, "size": path.stat().st_size}
    manifest = {"files": files}
    write_json(bundle_dir / MANIFEST_NAME, manifest)
    return manifest


def _tar_info(name: str, is_dir: bool, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    info.size = 0 if is_dir else size
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tar_members(bundle_dir: Path, sample_rate: int) -> list[Path]:
    rate_dir = bundle_dir / str(sample_rate)
    if not rate_dir.is_dir():
        raise FileNotFoundError(f"bundle {bundle_dir} has no {sample_rate} Hz folder {rate_dir}")
    top = sorted(p for p in bundle_dir.iterdir() if p.is_file() and not p.is_symlink())
    subtree = [rate_dir] + [p for p in rate_dir.rglob("*") if p.is_dir() or p.is_file()]
    if any(p.is_symlink() for p in subtree):
        raise ValueError(f"bundle {bundle_dir} must hold real files, found links under {rate_dir}")
    return top + sorted(subtree, key=lambda p: p.relative_to(bundle_dir).parts)


def write_tarball(
    bundle_dir: str | os.PathLike,
    sample_rate: int,
    dest: str | os.PathLike,
    root: str = DEFAULT_TAR_ROOT,
) -> None:
    """Write the bundle's tarball for one sample rate, byte-identical across runs and machines.

    Members (the top-level files, then the `<sr>/` subtree with its folders) are rooted at
    `<root>/<bundle name>/`, in sorted order, with mtime 0, owner 0/0 without names and modes
    0o644/0o755; the gzip header has mtime 0 and no file name. Written atomically to `dest`.
    """
    bundle_dir = Path(bundle_dir)
    prefix = f"{root.strip('/')}/{bundle_dir.name}"
    members = _tar_members(bundle_dir, sample_rate)
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as raw:
            with igzip.IGzipFile(
                filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL
            ) as gz:
                # Large copy buffers: tarfile's default 16 KiB writes cost more than compressing.
                with tarfile.open(
                    fileobj=gz, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_COPY_BUFFER
                ) as tar:
                    for path in members:
                        name = f"{prefix}/{path.relative_to(bundle_dir).as_posix()}"
                        if path.is_dir():
                            tar.addfile(_tar_info(name, is_dir=True))
                            continue
                        with open(path, "rb") as f:
                            size = os.fstat(f.fileno()).st_size
                            tar.addfile(_tar_info(name, is_dir=False, size=size), f)
            raw.flush()
            os.fsync(raw.fileno())
