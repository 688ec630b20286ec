"""CLI: `python -m heareval.tasks list | fetch TASK... | fetch all`.

Fetches HEAR 2021's published 48 kHz task bundles from Zenodo, so that models can be evaluated on
the real benchmark without preprocessing. Exit code 0: everything asked for is there; 1: a fetch
failed (network, checksum, archive, disk space); 2: a usage error (unknown task, a folder in the
way); 3: the Zenodo record does not exist.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import urllib.parse
from pathlib import Path

from hearcore.cli import (
    FAILED,
    NOT_FOUND,
    OK,
    UNREACHABLE,
    USAGE,
    HelpFormatter,
    UserError,
    make_parser,
    run_command,
)
from hearcore.download import make_session, mirror_url
from heareval.tasks import DEFAULT_RECORD, OLDER_RECORDS
from heareval.tasks.fetch import FetchedFileError, FetchError, fetch_file, read_fetched
from heareval.tasks.plan import (
    DiskSpaceError,
    SelectionError,
    check_space,
    human_size,
    make_plan,
    resolve,
    tarball_size,
)
from heareval.tasks.zenodo import (
    RecordNotFound,
    ZenodoError,
    ZenodoUnreachable,
    fetch_record,
    record_url,
)

USAGE_ERROR, FETCH_FAILED = USAGE, FAILED  # the names older code and tests import


def list_record(args: argparse.Namespace, session) -> int:
    """Print one line per task tarball of the record; downloads nothing."""
    record = _read_record(args, session)
    tarballs = record.tarballs
    print(f"Zenodo record {record.id}: {_describe(record)}, {len(tarballs)} task tarball(s)")
    rows = [("task", "version", "mode", "size", "key")]
    rows += [(f.task, f.version, f.mode, _size(f.size), f.key) for f in tarballs]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])
    if record.others:
        print(f"also in the record (not fetched): {', '.join(f.key for f in record.others)}")
    return 0


def fetch(args: argparse.Namespace, session) -> int:
    """Resolve, check, then fetch every asked bundle; one failure does not stop the others."""
    record = _read_record(args, session)
    dest: Path = args.dest
    files = resolve(record, args.tasks)
    plan = make_plan(record, files, dest, read_fetched(dest))
    check_space(plan.to_fetch, dest)
    total = sum(tarball_size(f) for f in plan.to_fetch)
    print(
        f"Zenodo record {record.id} ({_describe(record)}): {len(files)} bundle(s) asked, "
        f"{len(plan.to_fetch)} to fetch ({human_size(total)}), {len(plan.done)} already fetched"
    )
    fetched, failures = [], []
    for i, file in enumerate(plan.to_fetch, 1):
        print(f"[{i}/{len(plan.to_fetch)}] {file.bundle}: {file.key} ({_size(file.size)})")
        try:
            names = fetch_file(
                file, record.id, dest, session=session, mirror=args.mirror,
                retries=args.retries, backoff=args.backoff, progress=not args.quiet,
            )  # fmt: skip
        except FetchError as error:
            failures.append(str(error))
            print(f"    failed: {error}", file=sys.stderr)
            continue
        fetched += names
        print(f"    verified (md5), unpacked into {', '.join(str(dest / n) for n in names)}")
    _summary(dest, fetched, [f.bundle for f in plan.done], failures)
    return FETCH_FAILED if failures else OK


def _summary(dest: Path, fetched: list[str], done: list[str], failures: list[str]) -> None:
    for problem in failures:
        print(f"NOT FETCHED: {problem}", file=sys.stderr)
    if not fetched and not done:
        return
    print(f"Bundles in {dest.resolve()}:")
    for name in sorted(fetched + done):
        print(f"  {name}{' (fetched now)' if name in fetched else ' (already fetched)'}")
    print("Next: compute embeddings on them with")
    tasks_dir = shlex.quote(str(dest))
    print(f"  python -m heareval.embeddings.runner MODULE --tasks-dir {tasks_dir} --task all")


def _read_record(args: argparse.Namespace, session):
    return fetch_record(
        args.record, mirror=args.mirror, session=session, retries=args.retries, backoff=args.backoff
    )


def _describe(record) -> str:
    parts = [record.title or "untitled"]
    if record.version:
        parts.append(f"version {record.version}")
    return ", ".join(parts)


def _size(size: int | None) -> str:
    return "?" if size is None else human_size(size)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (a user error ends with its message, see run_command)."""
    return run_command(_run, argv)


def _run(argv) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.record.isdigit():
        parser.error(f"--record must be a Zenodo record number, e.g. {DEFAULT_RECORD}")
    if args.mirror and urllib.parse.urlsplit(args.mirror).scheme not in ("http", "https"):
        parser.error(
            f"--mirror must be an http(s) URL, e.g. http://127.0.0.1:8000, not {args.mirror!r}"
        )
    if args.command == "fetch" and not args.tasks:
        parser.error("fetch needs TASK names, bundle names or all")
    session = make_session(mirror_url(record_url(args.record), args.mirror))
    try:
        return (list_record if args.command == "list" else fetch)(args, session)
    except RecordNotFound as error:
        raise UserError(str(error), NOT_FOUND) from error
    except ZenodoUnreachable as error:
        raise UserError(str(error), UNREACHABLE) from error
    except (SelectionError, FetchedFileError) as error:
        raise UserError(str(error), USAGE) from error
    except (ZenodoError, DiskSpaceError) as error:
        raise UserError(str(error), FAILED) from error
    finally:
        session.close()


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(  # also here, so that it may follow the command name
        "-v", "--verbose", action="store_true", help="on an error, show the full traceback too"
    )
    common.add_argument(
        "--record", default=DEFAULT_RECORD, metavar="ID",
        help=f"Zenodo record to read; the default, HEAR 2021.3, has every task (earlier "
        f"revisions: {', '.join(OLDER_RECORDS)})",
    )  # fmt: skip
    common.add_argument(
        "--mirror", metavar="URL",
        help="fetch https://HOST/PATH from URL/HOST/PATH instead, the API too (query strings "
        "dropped), e.g. a folder holding zenodo.org/api/records/<id> (or <id>/index.json) and "
        "zenodo.org/api/records/<id>/files/<key>/content (default: none, fetch from Zenodo)",
    )  # fmt: skip
    common.add_argument(
        "--retries", type=int, default=5, metavar="N",
        help="retries of a failed request, waiting --backoff seconds, doubled each time",
    )  # fmt: skip
    common.add_argument(
        "--backoff", type=float, default=1.0, metavar="S",
        help="seconds before the first retry",
    )  # fmt: skip
    parser = make_parser("heareval.tasks", __doc__.split("\n\n")[1])
    parser.epilog = (
        "example: python -m heareval.tasks fetch speech_commands esc50 --dest tasks\n"
        + (parser.epilog or "")
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "list", parents=[common], formatter_class=HelpFormatter, epilog=parser.epilog,
        help="print the record's task tarballs; downloads nothing",
        description="Print one line per task tarball of the record (task, version, mode, size, "
        "file name); nothing is downloaded.",
    )  # fmt: skip
    fetch_parser = commands.add_parser(
        "fetch", parents=[common], formatter_class=HelpFormatter, epilog=parser.epilog,
        help="download and unpack task bundles",
        description="Download the tarballs of the asked tasks into DEST/.downloads/ (resumable, "
        "retried, checked against the record's size and md5), unpack them safely and move each "
        "bundle into DEST/<bundle>/ whole; DEST/fetched.json records what came from where. "
        "Bundles already fetched from the same record are skipped.",
    )  # fmt: skip
    fetch_parser.add_argument(
        "tasks", nargs="*", metavar="TASK",
        help="one or more (repeat it): a task name (esc50: every mode of it in the record), a "
        "bundle name (speech_commands-v0.0.2-5h), or all; `list` shows them",
    )  # fmt: skip
    fetch_parser.add_argument(
        "--dest", type=Path, default=Path("tasks"), metavar="DIR",
        help="folder for the bundles, what --tasks-dir of heareval.embeddings.runner reads",
    )  # fmt: skip
    fetch_parser.add_argument(
        "--quiet", action="store_true", help="no progress bars (default: show them)"
    )
    return parser


if __name__ == "__main__":
    sys.exit(main())
