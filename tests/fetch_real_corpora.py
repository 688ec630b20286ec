"""Fetch the real small archives that the real-data tests read, into the layout they read.

    python tests/fetch_real_corpora.py [--dest DIR] [--mirror URL] [--only TASK ...]

Which files: every remote file of every registered task's small mode (hearpreprocess.config;
built-in corpora aside, they are generated), and the reference files the tests read besides
(REFERENCE_FILES). Each is checked against the md5 or sha256 pinned for it and lands at
DEST/corpora/<host>/<path> of its URL, DEST being what HEARBENCH_SHARED names for the tests
(tests/shared_corpora.py; --dest overrides it). A file already there with the right checksum is
kept without a request; a download cut short resumes from its `.part` file and is retried
(hearcore.download). One line per file says what happened.

Some small archives were never published: a 404 is reported as "not published" and, with
--allow-missing, does not fail the command (the tests that need the file skip). A wrong checksum
always fails it, and the file is not kept.
"""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# Run as a script, Python puts tests/ first on sys.path, and a test folder there shares its name
# with a package (tests/hearcore): the repository root goes first, as conftest.py does for tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared_corpora import SHARED  # noqa: E402

from hearcore.cli import FAILED, OK, UserError, make_parser, run_command  # noqa: E402
from hearcore.download import DownloadError, download, mirror_url  # noqa: E402
from hearcore.hashing import file_checksum  # noqa: E402
from hearpreprocess.builtin import is_builtin  # noqa: E402
from hearpreprocess.config import (  # noqa: E402
    list_modes,
    list_tasks,
    load_task_config,
    unknown_task_message,
)

PROG = "python tests/fetch_real_corpora.py"
_HEAR2021 = "https://github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main"


@dataclass(frozen=True)
class Needed:
    """A file the tests read: its public URL, pinned checksum and the tasks that need it."""

    url: str
    checksum: str
    tasks: tuple[str, ...]


# Read by tests beside the task configs: a bundle written by HEAR 2021's own preprocessing, the
# reference for the output format and real input for the evaluation stage.
REFERENCE_FILES = (
    Needed(
        f"{_HEAR2021}/preprocessed/hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz",
        "a54f91fffed6ac916673148e5b1913a0",
        ("spoken_digit",),
    ),
)


@dataclass
class Outcome:
    needed: Needed
    path: Path
    status: str  # "present", "fetched", "not published" or "FAILED"
    detail: str = ""


def needed_files(only: Sequence[str] | None = None) -> list[Needed]:
    """Every file the real-data tests read, for the tasks in `only` (None: every task), in
    registry order, each URL once. Raises UserError for an unknown task, or when two tasks pin
    different checksums for one URL (one of the recipes is wrong)."""
    tasks = list_tasks()
    for name in only or []:
        if name not in tasks:
            raise UserError(f"{unknown_task_message(name)}; fix --only")
    wanted = set(only or tasks)
    found: dict[str, Needed] = {}
    for task in tasks:
        if task not in wanted or "small" not in list_modes(task):
            continue
        for source in load_task_config(task, "small").sources:
            for remote in source.remotes:
                if not is_builtin(remote.url):
                    _add(found, Needed(remote.url, remote.checksum, (task,)))
    for reference in REFERENCE_FILES:
        if wanted & set(reference.tasks):
            _add(found, reference)
    return list(found.values())


def _add(found: dict[str, Needed], needed: Needed) -> None:
    known = found.get(needed.url)
    if known is None:
        found[needed.url] = needed
    elif known.checksum != needed.checksum:
        raise UserError(
            f"{needed.url} is pinned as {known.checksum} by {', '.join(known.tasks)} but as "
            f"{needed.checksum} by {', '.join(needed.tasks)}: fix the recipe that is wrong"
        )
    else:
        found[needed.url] = Needed(known.url, known.checksum, known.tasks + needed.tasks)


def destination(dest: Path, url: str) -> Path:
    """DEST/corpora/<host>/<path>: where the tests look for the file of `url`."""
    parts = urllib.parse.urlsplit(url)
    return Path(dest) / "corpora" / parts.netloc / parts.path.lstrip("/")


def fetch(
    needed: Needed, dest: Path, mirror: str | None, retries: int = 5, backoff: float = 2.0
) -> Outcome:
    """Put one file in place (or find it there) and say how it went; never raises for a file
    that cannot be fetched."""
    path = destination(dest, needed.url)
    replaced = ""
    if path.is_file():
        if file_checksum(path, needed.checksum) == needed.checksum:
            return Outcome(needed, path, "present")
        path.unlink()  # a test reading it would fail on it: fetch it again
        replaced = " (the file there had a wrong checksum)"
    source = mirror_url(needed.url, mirror)
    try:
        download(source, path, needed.checksum, retries=retries, backoff=backoff, progress=False)
    except DownloadError as e:
        if e.reason.startswith("HTTP 404"):
            return Outcome(needed, path, "not published", f"{e.reason} from {source}{replaced}")
        return Outcome(needed, path, "FAILED", f"{e}{replaced}")
    detail = f"{path.stat().st_size} bytes from {source}{replaced}"
    return Outcome(needed, path, "fetched", detail)


def fetch_all(files: Sequence[Needed], dest: Path, mirror: str | None, **retry) -> list[Outcome]:
    """Fetch `files` one after the other (a few MB each), printing a line as each is done."""
    outcomes = []
    for needed in files:
        outcomes.append(fetch(needed, dest, mirror, **retry))
        print(report_line(outcomes[-1]), flush=True)
    return outcomes


def report_line(outcome: Outcome) -> str:
    tasks = ", ".join(outcome.needed.tasks)
    line = f"{outcome.status}: {outcome.needed.url} -> {outcome.path} (for {tasks})"
    return f"{line}: {outcome.detail}" if outcome.detail else line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser("fetch_real_corpora", __doc__)
    p.prog = PROG
    p.add_argument(
        "--dest",
        type=Path,
        default=SHARED,
        metavar="DIR",
        help="the folder the tests read (their HEARBENCH_SHARED); files go under DIR/corpora/",
    )
    p.add_argument(
        "--mirror",
        metavar="URL",
        help="fetch https://HOST/PATH from URL/HOST/PATH instead of the public hosts",
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="TASK",
        help="only the files of this task; repeat for several (default: every task)",
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="a file its host does not have (HTTP 404) does not fail the command",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    outcomes = fetch_all(needed_files(args.only), args.dest, args.mirror)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("present", "fetched")}
    missing = sum(o.status == "not published" for o in outcomes)
    failed = sum(o.status == "FAILED" for o in outcomes)
    print(
        f"{counts['present']} present, {counts['fetched']} fetched, {missing} not published, "
        f"{failed} failed, under {Path(args.dest) / 'corpora'}"
    )
    if failed or (missing and not args.allow_missing):
        print(
            "NOT DONE: see the lines above; rerun to resume (files in place are kept)"
            + ("" if args.allow_missing else "; --allow-missing accepts unpublished files"),
            file=sys.stderr,
        )
        return FAILED
    return OK


if __name__ == "__main__":
    sys.exit(run_command(main))
