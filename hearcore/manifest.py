"""`manifest.json`: the sha256 and size of every file of a bundle, written last and checkable.

The manifest lists every file of the bundle but itself, by path relative to the bundle folder, in
sorted order: `{"files": {path: {"sha256": ..., "size": ...}}}`. Preprocessing adds a `build`
record (what the bundle was built from); readers ignore keys they do not know.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

from hearcore.bundle import write_json
from hearcore.format import MANIFEST_FILE
from hearcore.hashing import file_sha256


class ManifestError(ValueError):
    """A bundle's manifest is missing or unreadable."""


def bundle_files(bundle_dir: str | os.PathLike) -> list[str]:
    """Every file under `bundle_dir`, relative and sorted; a bundle never holds links."""
    bundle_dir = Path(bundle_dir)
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
        The manifest written.
    """
    bundle_dir = Path(bundle_dir)
    known_sha256 = known_sha256 or {}
    files = {}
    for relpath in bundle_files(bundle_dir):
        if relpath == MANIFEST_FILE:
            continue
        path = bundle_dir / relpath
        sha256 = known_sha256.get(relpath) or file_sha256(path)
        files[relpath] = {"sha256": sha256, "size": path.stat().st_size}
    manifest = {"files": files}
    write_json(bundle_dir / MANIFEST_FILE, manifest)
    return manifest


def read_manifest(bundle_dir: str | os.PathLike) -> dict:
    """The parsed manifest of a bundle.

    Raises:
        ManifestError: there is none (HEAR 2021's bundles have none) or it is not valid JSON.
    """
    path = Path(bundle_dir) / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path} is missing: this bundle cannot be verified") from None
    except (OSError, ValueError) as e:
        raise ManifestError(f"{path} is unreadable ({e}); re-extract the bundle") from None
    if not isinstance(manifest.get("files"), dict):
        raise ManifestError(f"{path} has no `files` table; re-extract the bundle")
    return manifest


def verify_manifest(bundle_dir: str | os.PathLike, hash_files: bool = True) -> list[str]:
    """Check a bundle against its manifest.

    Args:
        bundle_dir: the bundle folder.
        hash_files: also compare every file's sha256 (reads the whole bundle); sizes and the
            list of files are always compared.

    Returns:
        One line per problem (a missing, extra, resized or changed file), empty when the bundle
        is exactly what its manifest says.

    Raises:
        ManifestError: the manifest itself is missing or unreadable.
    """
    bundle_dir = Path(bundle_dir)
    listed = read_manifest(bundle_dir)["files"]
    present = set(bundle_files(bundle_dir)) - {MANIFEST_FILE}
    problems = [f"{bundle_dir.name}: {p} is missing" for p in sorted(set(listed) - present)]
    problems += [
        f"{bundle_dir.name}: {p} is not in the manifest" for p in sorted(present - set(listed))
    ]
    for relpath in sorted(present & set(listed)):
        entry, path = listed[relpath], bundle_dir / relpath
        if path.stat().st_size != entry.get("size"):
            problems.append(f"{bundle_dir.name}: {relpath} has the wrong size")
        elif hash_files and file_sha256(path) != entry.get("sha256"):
            problems.append(f"{bundle_dir.name}: {relpath} has the wrong sha256")
    return problems
