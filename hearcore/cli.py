"""What every command of both stages shares: exit codes, the help layout, and how errors end.

Exit codes (the same table in every command, so cron and scripts can act on them):

    0  OK           the work asked for is done (or was already done)
    1  FAILED       some of the work failed (a step, a model, a task); the output says which
    2  USAGE        a bad argument, option value, config or override value, or unknown name
    3  NOT_FOUND    what was asked for does not exist or is not what the command reads
    4  UNREACHABLE  a server the command needs (luigid, a mirror, an API) cannot be reached
    5  LOCKED       another run holds the lock on the same output

A user error is raised as `UserError(message, code)` and ends the command with its message (one or
two lines saying what was wrong and what to do) and its code, without a traceback unless the
command was run with `--verbose`. Any other exception is a bug in our code and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import Callable, Sequence, TextIO

OK = 0
FAILED = 1
USAGE = 2
NOT_FOUND = 3
UNREACHABLE = 4
LOCKED = 5
INTERRUPTED = 130  # the shell's code for Ctrl-C (128 + SIGINT)

EXIT_CODES_EPILOG = (
    "exit codes: 0 done, 1 some work failed, 2 bad usage or config, 3 input not found, "
    "4 server unreachable, 5 lock held, 130 interrupted"
)


class UserError(Exception):
    """A mistake in what the user asked for: ends the command with `message` and `code`."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their line breaks; every option with a default shows it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or action.default in (None, False, argparse.SUPPRESS):
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


def make_parser(module: str, description: str | None) -> argparse.ArgumentParser:
    """An ArgumentParser whose usage line reads `python -m <module>`, with our help layout, the
    exit-code table at the end of --help, and a `--verbose` option (tracebacks of user errors)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=description,
        formatter_class=HelpFormatter,
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="on an error, show the full traceback too"
    )
    return parser


def run_command(
    main: Callable[[Sequence[str] | None], int],
    argv: Sequence[str] | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `main(argv)` and turn a `UserError` (or Ctrl-C) into a message and an exit code.

    `--verbose` (or `-v`) anywhere in argv also prints the traceback of a user error.
    """
    err = err or sys.stderr
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return main(args)
    except UserError as error:
        if "--verbose" in args or "-v" in args:
            traceback.print_exc(file=err)
        print(f"error: {error}", file=err)
        return error.code
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=err)
        return INTERRUPTED
