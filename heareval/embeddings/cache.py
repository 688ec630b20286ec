"""Cache keys and atomic task outputs for the embedding stage.

A task's output folder is complete exactly when it holds `KEY_FILE`: the whole folder is written
under a private temporary name beside it and renamed into place at the end, so an interrupted run
leaves only a `.partial-*` folder (removed by the next run on the same host once its writer is
gone) and never a folder that looks done.

The key is a digest of what decides the embeddings: the model (module name, options, sha256 of the
weights file, sha256 of the module's source file) and the bundle. Bundle digest trade-off: the
JSON/CSV files are hashed by content (small), the audio is covered by `manifest.json` when the
bundle has one (it holds a sha256 per file) and otherwise by path and size of every audio file of
the rate we read. Hashing every wav would cost as much as reading the corpus; mtimes are left out
because re-extracting the same tarball changes them without changing the audio. An in-place edit
of a wav that keeps its size is therefore only seen through a manifest.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import socket
import uuid
from pathlib import Path
from types import ModuleType

from hearpreprocess.bundle import file_sha256
from hearpreprocess.config import digest

# Bump when the layout or content of the output files changes.
FORMAT_VERSION = 1
KEY_FILE = "embeddings-key.json"
_PARTIAL = ".partial-"


def model_identity(module: ModuleType, options: dict, weights_sha256: str | None) -> dict:
    """What identifies a model's embeddings: name, options, weights and module source digests."""
    try:
        source = inspect.getsourcefile(module)
    except TypeError:
        source = None
    return {
        "module": module.__name__,
        "options": options,
        "weights_sha256": weights_sha256,
        "source_sha256": file_sha256(Path(source)) if source else None,
    }


def bundle_digest(bundle_dir: Path, audio_rate: int) -> str:
    """Digest of a bundle's metadata files and of the audio folder for `audio_rate`."""
    parts = {}
    for path in sorted(bundle_dir.iterdir()):
        if path.is_file() and path.suffix in (".json", ".csv"):
            parts[path.name] = file_sha256(path)
    if "manifest.json" not in parts:
        rate_dir = bundle_dir / str(audio_rate)
        sizes = {
            str(p.relative_to(rate_dir)): p.stat().st_size
            for p in sorted(rate_dir.rglob("*"))
            if p.is_file()
        }
        parts["audio_sizes"] = digest(sizes)
    return digest(parts)


def read_key(out_dir: Path) -> dict | None:
    """The key of a finished output folder, None when there is none (or it is unreadable)."""
    try:
        with open(out_dir / KEY_FILE, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_done(out_dir: Path, key: dict) -> bool:
    return read_key(out_dir) == key


def new_partial_dir(out_dir: Path) -> Path:
    """Create the private folder a run writes `out_dir` into."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = _partial_name(out_dir)
    tmp.mkdir()
    return tmp


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Delete leftovers of interrupted runs of `out_dir` whose process on this host is gone."""
    removed = []
    if not out_dir.parent.is_dir():
        return removed
    host = socket.gethostname()
    for path in out_dir.parent.glob(f"{_PARTIAL}{out_dir.name}.*"):
        tag = path.name[len(f"{_PARTIAL}{out_dir.name}.") :]
        parts = tag.rsplit(".", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
            continue
        if not _is_alive(int(parts[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def commit_partial(tmp: Path, out_dir: Path) -> None:
    """Rename the finished `tmp` to `out_dir`, replacing an older output there."""
    if out_dir.exists():
        trash = _partial_name(out_dir)
        os.replace(out_dir, trash)
        os.replace(tmp, out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def _partial_name(out_dir: Path) -> Path:
    tag = f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    return out_dir.parent / f"{_PARTIAL}{out_dir.name}.{tag}"


def _is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
