"""The index of a tarball folder: SHA256SUMS, index.json and index.html, so it can be served as is.

    python -m hearpreprocess.publish TAR_DIR     (the runner does this after building tarballs)

One entry per tarball (hear-<version>-<bundle>-<rate>.tar.gz): its task, task version, mode and
rate (from the task_metadata.json and rate folder inside it), file name, size, sha256, build date
(the file's mtime: members carry time 0, so the bytes hold none) and the version of the code that
built it (the tarball's root folder, hear-<version>/). Entries are sorted by file name. A tarball
whose size and mtime match its entry in the previous index.json is not read again (tarballs are
GBs). Each file is written atomically, and only when its content changes: a rerun with nothing new
leaves every mtime as it was.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import jinja2
from isal import igzip

from hearcore.atomic import atomic_write_text
from hearcore.cli import NOT_FOUND, OK, UserError, make_parser, run_command
from hearcore.format import METADATA_FILE
from hearpreprocess.validate import TAR_READ_ERRORS, bundle_prefix, member_problem, rate_folder

SUMS_FILE = "SHA256SUMS"
INDEX_JSON = "index.json"
INDEX_HTML = "index.html"
_TEMPLATES = Path(__file__).resolve().parent / "templates"
_CHUNK = 4 << 20
_ROOT_PREFIX = "hear-"
# Every entry holds these; an older entry that lacks one is computed again.
ENTRY_KEYS = frozenset(
    ("file", "task", "task_version", "mode", "sample_rate", "bundle", "code_version")
    + ("size", "sha256", "built", "mtime_ns")
)


class UnreadableTarball(ValueError):
    """A .tar.gz in the folder is not one of ours, or is damaged."""


def tarball_files(tar_dir: Path) -> list[Path]:
    """The tarballs of the folder, by name: no temporaries (.tmp-...), hidden or other files."""
    return sorted(
        p
        for p in tar_dir.iterdir()
        if p.name.endswith(".tar.gz") and not p.name.startswith(".") and p.is_file()
    )


def read_tarball_facts(path: Path) -> dict:
    """Task, task version, mode, rate, bundle and code version of one tarball.

    Reads only up to the first audio file: the top-level files come first in our tarballs.

    Raises:
        UnreadableTarball: it is damaged, or is not laid out as hear-<version>/tasks/<bundle>/.
    """
    metadata, rate = None, None
    prefix: tuple[str, ...] = ()
    try:
        with igzip.open(path, "rb") as gz, tarfile.open(fileobj=gz, mode="r|") as tar:
            for member in tar:
                if member_problem(member):
                    raise UnreadableTarball(f"member {member.name}: {member_problem(member)}")
                if member.isfile():
                    prefix = prefix or bundle_prefix(member.name)
                if not prefix:
                    continue  # the folders above the first file
                relpath = "/".join(member.name.split("/")[len(prefix) :])
                # The first member under a rate folder (its folder, or a file) names the rate.
                rate = rate if rate is not None else rate_folder(f"{relpath}/.")
                if member.isfile() and relpath == METADATA_FILE:
                    stream = tar.extractfile(member)
                    metadata = json.loads(stream.read() if stream else b"")
                if metadata is not None and rate is not None:
                    break
    except UnreadableTarball:
        raise
    except TAR_READ_ERRORS + (ValueError,) as e:  # ValueError: task_metadata.json is no JSON
        raise UnreadableTarball(f"{type(e).__name__}: {e}") from None
    if not isinstance(metadata, dict) or rate is None or len(prefix) != 3:
        raise UnreadableTarball(f"no {METADATA_FILE} or no audio folder under hear-<v>/tasks/<b>/")
    if not prefix[0].startswith(_ROOT_PREFIX):
        raise UnreadableTarball(f"its root folder {prefix[0]} is not hear-<version>")
    return {
        "task": metadata.get("task_name"),
        "task_version": metadata.get("version"),
        "mode": metadata.get("mode"),
        "sample_rate": rate,
        "bundle": prefix[2],
        "code_version": prefix[0][len(_ROOT_PREFIX) :],
    }


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def build_date(mtime_ns: int) -> str:
    """ISO 8601 in UTC, to the second: when the tarball was written."""
    moment = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def tarball_entry(path: Path, previous: dict) -> dict:
    """The index entry of one tarball: `previous` as it is when size and mtime still match."""
    stat = path.stat()
    unchanged = (stat.st_size, stat.st_mtime_ns) == (previous.get("size"), previous.get("mtime_ns"))
    if unchanged and ENTRY_KEYS <= set(previous):
        return previous
    entry = {"file": path.name, **read_tarball_facts(path)}
    entry.update(size=stat.st_size, sha256=sha256_of(path))
    entry.update(built=build_date(stat.st_mtime_ns), mtime_ns=stat.st_mtime_ns)
    return entry


def previous_entries(tar_dir: Path) -> dict[str, dict]:
    """The entries of the index.json already there, by file name ({} when none or unreadable:
    then every tarball is read again)."""
    try:
        tarballs = json.loads((tar_dir / INDEX_JSON).read_text(encoding="utf-8"))["tarballs"]
        return {e["file"]: e for e in tarballs if isinstance(e, dict) and "file" in e}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def sums_text(entries: list[dict]) -> str:
    """The lines `sha256sum -c` reads: digest, two spaces, file name."""
    return "".join(f"{e['sha256']}  {e['file']}\n" for e in entries)


def index_json_text(entries: list[dict]) -> str:
    return json.dumps({"tarballs": entries}, indent=1, sort_keys=True) + "\n"


def index_html_text(entries: list[dict]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    page = environment.get_template(INDEX_HTML)
    return page.render(entries=entries, sums_file=SUMS_FILE, index_file=INDEX_JSON)


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it; True when written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    return True


def publish_index(tar_dir: Path) -> None:
    """Write SHA256SUMS, index.json and index.html into `tar_dir` for the tarballs it holds.

    A .tar.gz that cannot be read (damaged, or not laid out as ours) is left out, with a warning
    on stderr naming it.

    Raises:
        UserError (NOT_FOUND): `tar_dir` is not a folder.
    """
    tar_dir = Path(tar_dir)
    if not tar_dir.is_dir():
        raise UserError(f"tarball folder {tar_dir} does not exist; pass --tar-dir", NOT_FOUND)
    previous = previous_entries(tar_dir)
    entries = []
    for path in tarball_files(tar_dir):
        try:
            entries.append(tarball_entry(path, previous.get(path.name, {})))
        except UnreadableTarball as e:
            print(
                f"warning: {path} is left out of {INDEX_JSON}: it is not a readable HEAR tarball "
                f"({e}); delete it or rebuild it",
                file=sys.stderr,
            )
    write_if_changed(tar_dir / SUMS_FILE, sums_text(entries))
    write_if_changed(tar_dir / INDEX_JSON, index_json_text(entries))
    write_if_changed(tar_dir / INDEX_HTML, index_html_text(entries))


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser("hearpreprocess.publish", __doc__)
    parser.add_argument("tar_dir", metavar="TAR_DIR", type=Path, help="the tarball folder")
    args: argparse.Namespace = parser.parse_args(argv)
    publish_index(args.tar_dir)
    print(f"indexed {args.tar_dir}: {SUMS_FILE}, {INDEX_JSON}, {INDEX_HTML}")
    return OK


if __name__ == "__main__":
    sys.exit(run_command(main))
