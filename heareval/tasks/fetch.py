"""Download one task tarball, verify it, unpack it safely and move its bundles into place.

Layout under the destination `DEST`:
- `DEST/.downloads/<key>` (and `<key>.part` while downloading; an interrupted download resumes
  from it), deleted once the tarball is unpacked;
- `DEST/.extract-<key>/`, scratch for unpacking, on the same file system so that moving a bundle
  out of it is a rename;
- `DEST/<bundle>/`, renamed into place whole: a bundle folder that exists is complete;
- `DEST/fetched.json`, what was fetched from where (written atomically, merged across runs).

Hidden folders are ignored by `heareval.embeddings.runner --task all`.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from hearcore.archive import ArchiveError, UnsafeArchiveError, extract_archive
from hearcore.atomic import atomic_path, atomic_write_text
from hearcore.bundle import BundleError, read_bundle
from hearcore.download import DownloadError, download, mirror_url
from hearcore.format import METADATA_FILE
from heareval.tasks.zenodo import RecordFile

FETCHED_FILE = "fetched.json"
DOWNLOADS_DIR = ".downloads"


class FetchError(Exception):
    """One tarball could not be fetched; the message names the bundle, the file and what to do."""


class FetchedFileError(ValueError):
    """`fetched.json` cannot be read."""


def tarball_path(dest: Path, file: RecordFile) -> Path:
    """Where the tarball of `file` is downloaded to."""
    return dest / DOWNLOADS_DIR / file.key


def read_fetched(dest: Path) -> dict[str, dict]:
    """The bundles recorded in `DEST/fetched.json`: bundle name -> entry; {} when absent.

    Raises:
        FetchedFileError: the file is not the JSON this module writes.
    """
    path = dest / FETCHED_FILE
    if not path.is_file():
        return {}
    try:
        bundles = json.loads(path.read_text(encoding="utf-8"))["bundles"]
        if not isinstance(bundles, dict):
            raise TypeError("'bundles' is not an object")
    except (ValueError, KeyError, TypeError) as error:
        raise FetchedFileError(
            f"{path} cannot be read ({type(error).__name__}: {error}): fix it, or delete it and "
            "move away the bundle folders it listed, then fetch them again"
        ) from None
    return bundles


def record_fetched(dest: Path, entries: dict[str, dict]) -> None:
    """Add or replace `entries` (bundle name -> entry) in `DEST/fetched.json`, atomically."""
    bundles = read_fetched(dest)
    bundles.update(entries)
    text = json.dumps({"bundles": dict(sorted(bundles.items()))}, indent=2) + "\n"
    atomic_write_text(dest / FETCHED_FILE, text)


def fetch_file(
    file: RecordFile,
    record_id: str,
    dest: Path,
    *,
    session,
    mirror: str | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    progress: bool = True,
) -> list[str]:
    """Download, verify, unpack and record one tarball; returns the bundle names it held.

    Args:
        file: the tarball, with its size and md5 from the record.
        record_id: the record it comes from (recorded in fetched.json).
        dest: the destination folder.
        session: a requests.Session for the download.
        mirror: base URL of a mirror, or None.
        retries: how many times a failed download attempt is retried.
        backoff: seconds before the first retry; doubles with each.
        progress: show a progress bar while downloading.

    Raises:
        FetchError: the download failed or does not match the record, the tarball is unsafe or
            corrupt, it holds no bundle, or a bundle folder is in the way. No bundle folder is
            written in that case.
    """
    tarball = tarball_path(dest, file)
    url = mirror_url(file.url, mirror)
    # plan.plan_fetch refuses tarballs whose record gives no md5, so only checked files get here.
    assert file.md5 is not None
    try:
        download(
            url, tarball, file.md5, size=file.size, session=session,
            retries=retries, backoff=backoff, progress=progress,
        )  # fmt: skip
    except DownloadError as error:
        raise FetchError(_download_problem(file, url, tarball, error)) from None
    except OSError as error:  # e.g. the disk filled up after the space check
        raise FetchError(
            f"{file.bundle}: cannot write {tarball} ({error}): free some space or pass another "
            "--dest, then run the same command again to resume"
        ) from None
    scratch = dest / f".extract-{file.key}"
    # One fetch at a time per destination: scratch left here is from a run that was killed.
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        names = _unpack(file, record_id, tarball, scratch, dest)
    except OSError as error:
        raise FetchError(
            f"{file.bundle}: unpacking {tarball} failed ({error}); no bundle folder was written "
            "and the tarball is kept: free some space, then run the same command again"
        ) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    tarball.unlink()
    return names


def find_bundles(folder: Path) -> list[Path]:
    """Every folder under `folder` holding task_metadata.json (not looking inside bundles).

    Tolerates any layout above the bundles: `tasks/<bundle>/`, `./tasks/<bundle>/`, or the
    `hear-2021.0.x/tasks/<bundle>/` of older tarballs.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        if METADATA_FILE in files and Path(root) != folder:
            found.append(Path(root))
            dirs.clear()
        dirs.sort()
    return found


def _unpack(
    file: RecordFile, record_id: str, tarball: Path, scratch: Path, dest: Path
) -> list[str]:
    what = f"{file.bundle}: {tarball}"
    try:
        extract_archive(tarball, scratch)
    except UnsafeArchiveError as error:
        tarball.unlink()
        raise FetchError(
            f"{what} was refused: {error}. Nothing was extracted and the tarball was deleted; "
            "report this to the record's authors"
        ) from None
    except ArchiveError as error:
        tarball.unlink()
        raise FetchError(
            f"{what} cannot be unpacked although its md5 matches the record ({error}); nothing "
            "was extracted and the tarball was deleted: try another --record"
        ) from None
    bundles = find_bundles(scratch)
    if not bundles:
        raise FetchError(
            f"{what} holds no task bundle (no folder with {METADATA_FILE}); nothing was "
            "extracted: this is not a HEAR task tarball, try another --record"
        )
    names = [b.name for b in bundles]
    if len(set(names)) != len(names):
        raise FetchError(f"{what} holds two bundle folders of one name ({names}); nothing moved")
    fetched = read_fetched(dest)
    for bundle in bundles:
        try:
            read_bundle(bundle)
        except BundleError as error:
            raise FetchError(f"{what} holds a broken bundle ({error}); nothing moved") from None
        target = dest / bundle.name
        if target.exists() and bundle.name not in fetched:
            raise FetchError(
                f"{what}: {target} exists and was not fetched by this command; it is never "
                "replaced: move it away or pass another --dest"
            )
    fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    entries = {}
    for bundle in bundles:
        with atomic_path(dest / bundle.name) as tmp:
            os.replace(bundle, tmp)
        entries[bundle.name] = {
            "bundle": bundle.name, "record": record_id, "key": file.key,
            "md5": file.md5, "size": file.size, "url": file.url, "fetched_at": fetched_at,
        }  # fmt: skip
    record_fetched(dest, entries)
    return names


def _download_problem(file: RecordFile, url: str, tarball: Path, error: DownloadError) -> str:
    """Our own advice: download()'s messages speak of recipes, which this command has none of."""
    what = f"{file.bundle}: downloading {file.key} from {url} failed: {error.reason}"
    part = tarball.with_name(tarball.name + ".part")
    if "mismatch" in error.reason:
        return (
            f"{what}: the download does not match the record and was deleted (nothing was "
            "extracted): run the same command again to download it afresh; if it fails again, "
            "the mirror (--mirror) or the record is wrong"
        )
    if part.is_file() and part.stat().st_size:
        return (
            f"{what}; the {part.stat().st_size} bytes downloaded so far are kept in {part}: run "
            "the same command again to resume, or pass --mirror URL"
        )
    return f"{what}; check the network, --record and --mirror, then run the same command again"
