"""Cache keys and atomic task outputs for the embedding stage.

A task's output folder is complete exactly when it holds `KEY_FILE`: the whole folder is written
under a temporary name beside it (`hearcore.atomic`) and renamed into place at the end, so an
interrupted run leaves only a temporary (removed by the next run on the same host once its writer
is gone) and never a folder that looks done.

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
from pathlib import Path
from types import ModuleType

from hearcore.format import MANIFEST_FILE
from hearcore.hashing import digest, file_sha256

# Bump when the layout or content of the output files changes.
FORMAT_VERSION = 1
KEY_FILE = "embeddings-key.json"


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
    if MANIFEST_FILE not in parts:
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
