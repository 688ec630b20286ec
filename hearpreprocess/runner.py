"""Build HEAR task bundles and their tarballs with the generic Luigi graph.

    python -m hearpreprocess.runner TASK [TASK ...] | all [--mode M] [--sample-rate SR ...]
    python -m hearpreprocess.runner list              every registered task, its version and modes
    python -m hearpreprocess.runner validate PATH...  check bundles or tarballs against manifests
    python -m hearpreprocess.runner gc [--delete]     list (or remove) superseded work-dir folders
    python -m hearpreprocess.runner luigi-config      print the path of the shipped luigi.cfg

Runs on Luigi's local scheduler, or against a `luigid` with --scheduler-url (start the same
command on several machines sharing the work, tasks and tarball folders to spread the work).
A rerun of the same command keeps every completed step and does only what is left. The last
lines name each bundle, its report.json and its tarballs. Exit code 0 when everything asked for
is built (also when it was all up to date); see docs/exit-codes.md for the others.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path
from typing import Sequence

from hearcore.allocator import reuse_freed_memory
from hearcore.cli import FAILED, NOT_FOUND, OK, USAGE, UserError, make_parser, run_command
from hearcore.format import SAMPLE_RATES
from hearpreprocess import gc, validate
from hearpreprocess.build import LUIGI_CFG
from hearpreprocess.build import build as build_graph
from hearpreprocess.build import load_luigi_config
from hearpreprocess.catalogue import task_lines
from hearpreprocess.config import (
    ConfigError,
    TaskConfig,
    is_extra_task,
    list_modes,
    list_tasks,
    load_task_config,
    read_overrides,
    unknown_task_message,
)
from hearpreprocess.plan import make_plan, print_plan
from hearpreprocess.preflight import check_servers
from hearpreprocess.publish import INDEX_HTML, publish_index
from hearpreprocess.report import RunReport, print_report, write_summary
from hearpreprocess.throughput import record_throughput

__all__ = ["RunReport", "build", "main", "parse_args", "resolve_configs"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser("hearpreprocess.runner", __doc__)
    p.add_argument(
        "tasks",
        nargs="+",
        metavar="TASK",
        help="one or more task names, 'all' (the HEAR 2021 tasks), or 'list' to print every "
        f"task with its version and modes; tasks: {', '.join(list_tasks())}. Other commands: "
        "'validate PATH...', 'gc', 'luigi-config' (each with its own --help)",
    )
    p.add_argument(
        "--include-extra",
        action="store_true",
        help="with 'all', also build the extra tasks outside the HEAR 2021 set "
        f"({', '.join(t for t in list_tasks() if is_extra_task(t))})",
    )
    p.add_argument(
        "--mode",
        action="append",
        help="a mode to build; repeat for several (default: each task's default mode; with "
        "'all', tasks without that mode are skipped; 'list' shows each task's modes)",
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        action="append",
        choices=SAMPLE_RATES,
        metavar="SR",
        help=f"a sample rate to write; repeat for several (default: all of "
        f"{', '.join(map(str, SAMPLE_RATES))})",
    )
    p.add_argument(
        "--tasks-dir", default="tasks", metavar="DIR", help="where the task bundles are written"
    )
    p.add_argument(
        "--tar-dir", default="tarballs", metavar="DIR", help="where the tarballs are written"
    )
    p.add_argument(
        "--work-dir",
        default="_workdir",
        metavar="DIR",
        help="where downloads and intermediate steps are kept (reruns reuse them)",
    )
    p.add_argument(
        "--mirror",
        metavar="URL",
        help="fetch https://HOST/PATH from URL/HOST/PATH instead; it must answer within 3 s "
        "when a download is left to do (default: the original hosts)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="steps run in parallel (Luigi workers); the default is this machine's CPU count",
    )
    p.add_argument(
        "--scheduler-url",
        metavar="URL",
        help="URL of a running luigid, e.g. http://127.0.0.1:8082, which must answer within "
        "3 s (default: Luigi's local scheduler, in this process)",
    )
    p.add_argument(
        "--resampler", choices=("soxr", "resampy"), default="soxr", help="resampling library"
    )
    p.add_argument(
        "--config-overrides",
        metavar="FILE",
        help="TOML file: a table of overrides per task, e.g. [esc50] sample_duration = 4.0",
    )
    p.add_argument("--no-tarballs", action="store_true", help="build bundles only")
    p.add_argument(
        "--summary-json",
        metavar="FILE",
        help="also write what the run did as JSON (per task and mode: built, up to date or "
        "failed with the step, host and error; clips quarantined; every step run), for cron "
        "and monitoring; written atomically, also when the run stops on an error",
    )
    p.add_argument(
        "--luigi-config",
        metavar="FILE",
        help="Luigi settings file (default: LUIGI_CONFIG_PATH if set, else the luigi.cfg "
        "shipped with this package, see `luigi-config`)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan without doing any work or writing anything: per task and mode "
        "the steps to run and those up to date, bytes to download, disk needed, estimated time",
    )
    verbose = next(a for a in p._actions if a.dest == "verbose")
    verbose.help = "show Luigi's log (each failed step's traceback) and an error's traceback"
    return p.parse_args(argv)


def resolve_configs(args: argparse.Namespace) -> tuple[list[TaskConfig], list[str]]:
    """The configs to build, and a line for each task skipped because it lacks --mode.

    Raises UserError (USAGE) for an unknown task or mode and for a bad override file, naming it.
    """
    is_all = args.tasks == ["all"]
    tasks = list_tasks()
    for name in [] if is_all else args.tasks:
        if name not in tasks:
            raise UserError(
                f"{unknown_task_message(name)} (`python -m hearpreprocess.runner list` shows them)"
            )
    if args.config_overrides and not Path(args.config_overrides).is_file():
        raise UserError(
            f"override file {args.config_overrides} does not exist; fix --config-overrides",
            NOT_FOUND,
        )
    names = list_tasks(include_extra=args.include_extra) if is_all else args.tasks
    configs, skipped = [], []
    try:
        overrides = read_overrides(args.config_overrides)
        for name in names:
            for mode in args.mode or [None]:
                if is_all and mode is not None and mode not in list_modes(name):
                    skipped.append(f"{name} (no mode {mode!r})")
                    continue
                configs.append(load_task_config(name, mode, overrides.get(name)))
    except ConfigError as e:
        raise UserError(str(e), USAGE) from e
    if not configs:
        modes = sorted({m for name in names for m in list_modes(name)})
        asked = args.mode or []
        near = [m for a in asked for m in difflib.get_close_matches(a, modes, n=1)]
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise UserError(f"no task has mode(s) {', '.join(asked)}; {hint}modes: {', '.join(modes)}")
    return configs, skipped


def build(
    args: argparse.Namespace, resolved: tuple[list[TaskConfig], list[str]] | None = None
) -> RunReport:
    """Build what `args` asks for; never raises for a failed step (see RunReport)."""
    return build_graph(args, resolved or resolve_configs(args))


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a user error raises UserError (run_command turns it into its exit code)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in SUBCOMMANDS:
        return SUBCOMMANDS[argv[0]](argv[1:])
    args = parse_args(argv)
    if args.tasks == ["list"]:
        print("\n".join(task_lines()))
        return OK
    try:
        return _build_and_report(args)
    except UserError as e:
        if args.summary_json:
            write_summary(args.summary_json, RunReport(ok=False, error=str(e)), e.code)
        raise


def _build_and_report(args: argparse.Namespace) -> int:
    resolved = resolve_configs(args)
    load_luigi_config(args.luigi_config)
    if args.dry_run:  # before the server checks: an unreachable mirror shows as sizes unknown
        return _print_plan(args, resolved)
    check_servers(args, resolved[0])
    reuse_freed_memory()  # before Luigi forks its workers, which inherit the setting
    report = build(args, resolved)
    try:
        record_throughput(resolved[0], args, report.ran)
    except OSError as e:  # only the next dry run's estimate is lost
        print(f"warning: could not record the throughput in {args.work_dir}: {e}")
    if not args.no_tarballs and Path(args.tar_dir).is_dir():
        try:
            publish_index(Path(args.tar_dir))
            report.index = Path(args.tar_dir).resolve() / INDEX_HTML
        except OSError as e:  # the old index stays whole (atomic writes); the run failed
            report.ok = False
            report.not_built["tarball index"] = f"could not be rewritten in {args.tar_dir}: {e}"
    print_report(report)
    code = OK if report.ok else FAILED
    if args.summary_json:
        write_summary(args.summary_json, report, code)
    return code


def _print_plan(args: argparse.Namespace, resolved: tuple[list[TaskConfig], list[str]]) -> int:
    for line in resolved[1]:
        print(f"skipped {line}")
    print_plan(make_plan(resolved[0], args))
    return OK


def _print_luigi_config(argv: list[str]) -> int:
    make_parser(
        "hearpreprocess.runner luigi-config",
        "Print the path of the luigi.cfg shipped with this package (start luigid with it: "
        "LUIGI_CONFIG_PATH=$(python -m hearpreprocess.runner luigi-config) luigid).",
    ).parse_args(argv)
    print(LUIGI_CFG)
    return OK


SUBCOMMANDS = {"luigi-config": _print_luigi_config, "validate": validate.main, "gc": gc.main}


if __name__ == "__main__":
    sys.exit(run_command(main))
