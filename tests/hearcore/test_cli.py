"""The commands' shared ending: exit codes, messages without tracebacks, help layout."""

import io

import pytest

from hearcore.cli import FAILED, INTERRUPTED, NOT_FOUND, UserError, make_parser, run_command


def _main(argv):
    args = _parser().parse_args(argv)
    if args.what == "missing":
        raise UserError("no bundle in /x: point --tasks-dir at the folder holding them", NOT_FOUND)
    if args.what == "ctrl-c":
        raise KeyboardInterrupt
    if args.what == "bug":
        raise ZeroDivisionError("a bug")
    return FAILED


def _parser():
    parser = make_parser("hearcore.example", "An example.")
    parser.add_argument("what", help="what to do")
    parser.add_argument("--rate", type=int, default=16000, help="sample rate")
    parser.add_argument("--name", action="append", help="a name (repeat for more)")
    return parser


def test_a_user_error_is_one_line_and_its_code():
    err = io.StringIO()
    assert run_command(_main, ["missing"], err=err) == NOT_FOUND
    expected = "error: no bundle in /x: point --tasks-dir at the folder holding them\n"
    assert err.getvalue() == expected
    verbose = io.StringIO()
    assert run_command(_main, ["missing", "--verbose"], err=verbose) == NOT_FOUND
    assert "Traceback" in verbose.getvalue()


def test_interrupts_and_bugs():
    err = io.StringIO()
    assert run_command(_main, ["ctrl-c"], err=err) == INTERRUPTED and "resume" in err.getvalue()
    assert run_command(_main, ["other"], err=err) == FAILED
    with pytest.raises(ZeroDivisionError):
        run_command(_main, ["bug"], err=err)


def test_help_shows_the_module_form_defaults_and_exit_codes():
    text = _parser().format_help()
    assert text.startswith("usage: python -m hearcore.example")
    assert "sample rate (default: 16000)" in text
    assert "a name (repeat for more)\n" in text  # no "(default: None)"
    assert "exit codes: 0 done, 1 some work failed" in text
