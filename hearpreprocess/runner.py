"""Build HEAR task bundles and their tarballs with the generic Luigi graph.

    python -m hearpreprocess.runner TASK [TASK ...] | all [--mode M] [--sample-rate SR ...]
    python -m hearpreprocess.runner list     (every registered task, its version and modes)

Runs on Luigi's local scheduler, or against a `luigid` with --scheduler-url (start the same
command on several machines sharing the work, tasks and tarball folders to spread the work).
A rerun of the same command keeps every completed step and does only what is left. The last
lines name each bundle, its report.json and its tarballs. Exit code 0 only when everything
asked for was built.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import luigi
import luigi.configuration

from hearcore.allocator import reuse_freed_memory
from hearcore.cli import FAILED, NOT_FOUND, OK, USAGE, UserError, make_parser, run_command
from hearcore.format import REPORT_FILE, SAMPLE_RATES, tarball_name
from hearpreprocess import builtin
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
from hearpreprocess.pipeline import AllTasks, DownloadedFile, TaskBundle
from hearpreprocess.pipeline.base import FAILURE_LOG_ENV, TIMING_LOG_ENV, record_failure
from hearpreprocess.preflight import check_servers, configure_luigi_logging

LUIGI_CFG = Path(__file__).resolve().parent.parent / "configs" / "luigi.cfg"
_MAX_LISTED = 20


@dataclass
class RunReport:
    """What a run did: steps it ran, failures (task, step, error), clips left out."""

    ok: bool
    ran: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    left_out: dict[str, dict] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    not_built: dict[str, str] = field(default_factory=dict)
    # Bundle name -> (what, absolute path) of each output built: bundle, report, tarballs.
    outputs: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = make_parser("hearpreprocess.runner", __doc__)
    p.add_argument(
        "tasks",
        nargs="+",
        metavar="TASK",
        help="one or more task names, 'all' (the HEAR 2021 tasks), or 'list' to print every "
        f"task with its version and modes; tasks: {', '.join(list_tasks())}",
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
    """Build what `args` asks for (`resolved`: what resolve_configs(args) returned); never raises
    for a failed step (see RunReport)."""
    configs, skipped = resolved or resolve_configs(args)
    rates = sorted(set(args.sample_rate or SAMPLE_RATES))
    work_dir = Path(args.work_dir).resolve()
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the work dir {work_dir} ({e}); choose another --work-dir")
    failure_log = Path(tempfile.mkstemp(prefix="failures-", suffix=".jsonl", dir=work_dir)[1])
    own_timing = TIMING_LOG_ENV not in os.environ
    timing_log = Path(os.environ.get(TIMING_LOG_ENV) or failure_log.with_suffix(".steps"))
    timing_start = timing_log.stat().st_size if timing_log.exists() else 0
    saved_env = {k: os.environ.get(k) for k in (FAILURE_LOG_ENV, TIMING_LOG_ENV)}
    os.environ.update({FAILURE_LOG_ENV: str(failure_log), TIMING_LOG_ENV: str(timing_log)})
    try:
        to_generate = [c for c in configs if not _builtin_downloads_done(c, work_dir)]
        with builtin.serve_builtin_corpora(to_generate, work_dir / "builtin") as builtin_url:
            root = AllTasks(
                configs=[c.to_dict() for c in configs],
                sample_rates=rates,
                work_dir=str(work_dir),
                tasks_dir=str(Path(args.tasks_dir).resolve()),
                tar_dir=str(Path(args.tar_dir).resolve()),
                resampler=args.resampler,
                tarballs=not args.no_tarballs,
                mirror=args.mirror or "",
                builtin_mirror=builtin_url or "",
            )
            _run_luigi(root, args)
            steps = root.steps_per_config()
            done = [all(x.complete() for x in s) for s in steps]
        report = RunReport(ok=all(done), skipped=skipped)
        report.failures = _read_jsonl(failure_log, 0)
        report.not_built = {
            c.bundle_name: _mirror_advice(_why_not_built(c, s, report.failures), args.mirror)
            for c, s, ok in zip(configs, steps, done)
            if not ok
        }
        report.outputs = {
            c.bundle_name: _outputs(c, rates, args) for c, ok in zip(configs, done) if ok
        }
        report.ran = _read_jsonl(timing_log, timing_start)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        failure_log.unlink(missing_ok=True)
        if own_timing:
            timing_log.unlink(missing_ok=True)
    for c in configs:
        left_out = _left_out(Path(args.tasks_dir) / c.bundle_name)
        if left_out:
            report.left_out[c.bundle_name] = left_out
    return report


def _why_not_built(config: TaskConfig, steps: list[luigi.Task], failures: list[dict]) -> str:
    """The failure that stopped a bundle: that of a step it needs, its own or one it shares with
    other bundles (a download, the corpus metadata of two modes)."""
    needed = _step_ids(steps)
    checksums = {r.checksum for s in config.sources for r in s.remotes}
    for failure in failures:
        if (
            failure.get("id") in needed
            or failure["task"] == config.bundle_name
            or failure.get("checksum") in checksums
        ):
            return f"{failure['step']} failed: {failure['error']}"
    return "a step it needs did not run (rerun with --verbose to see Luigi's log)"


def _mirror_advice(why: str, mirror: str | None) -> str:
    """A download error advises passing --mirror; when one was passed, point at it instead."""
    if not mirror or "pass --mirror" not in why:
        return why
    fitting = f"check that the mirror {mirror} is up and serves MIRROR/HOST/PATH"
    return why.replace("check the network or pass --mirror", fitting).replace(
        "pass --mirror", fitting
    )


def _outputs(config: TaskConfig, rates: list[int], args: argparse.Namespace):
    """What a built bundle is made of, where: the bundle, its report and its tarballs."""
    bundle = Path(args.tasks_dir).resolve() / config.bundle_name
    found = [("bundle", bundle), ("report", bundle / REPORT_FILE)]
    if not args.no_tarballs:
        tar_dir = Path(args.tar_dir).resolve()
        found += [("tarball", tar_dir / tarball_name(config.bundle_name, sr)) for sr in rates]
    return found


def _step_ids(steps: list[luigi.Task]) -> set[str]:
    """The Luigi task ids of `steps` and of every step they need, the audio shards included
    where their split step has planned them."""
    seen: set[str] = set()
    todo = list(steps)
    while todo:
        step = todo.pop()
        if step.task_id in seen:
            continue
        seen.add(step.task_id)
        try:
            todo += luigi.task.flatten(step.requires())
            if isinstance(step, TaskBundle) and step.requires().complete():
                todo += [s for shards in step.audio_shards().values() for s in shards]
        except Exception:  # a broken step (e.g. its recipe does not import) has its own record
            continue
    return seen


def _builtin_downloads_done(config: TaskConfig, work_dir: Path) -> bool:
    """Generating a builtin corpus takes time; skip it when its archives are already in place."""
    return all(
        not builtin.is_builtin(s.url)
        or DownloadedFile(
            checksum=s.checksum, filename=s.filename, work_dir=str(work_dir), url=s.url
        )
        .output()
        .exists()
        for s in config.sources
    )


def _run_luigi(root: luigi.Task, args: argparse.Namespace) -> None:
    load_luigi_config()
    configure_luigi_logging(args.verbose)
    scheduler = {"scheduler_url": args.scheduler_url} if args.scheduler_url else {}
    luigi.build(
        [root],
        workers=max(1, args.workers),
        local_scheduler=not args.scheduler_url,
        **scheduler,
    )


def load_luigi_config() -> None:
    """configs/luigi.cfg, unless LUIGI_CONFIG_PATH points at another file."""
    if LUIGI_CFG.exists() and "LUIGI_CONFIG_PATH" not in os.environ:
        luigi.configuration.add_config_path(str(LUIGI_CFG))


@luigi.Task.event_handler(luigi.Event.BROKEN_TASK)
def _record_broken(task: luigi.Task, exception: BaseException) -> None:
    """A step whose requirements or outputs cannot even be computed (e.g. a missing recipe)."""
    name = getattr(task, "bundle_name", "") or getattr(task, "task_name", "")
    record_failure(task, name, exception)


def _read_jsonl(path: Path, offset: int) -> list[dict]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        f.seek(offset)
        return [json.loads(line) for line in f if line.strip()]


def _left_out(bundle_dir: Path) -> dict:
    try:
        report = json.loads((bundle_dir / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return report.get("undecodable", {})


def print_report(report: RunReport, out=None) -> None:
    out = out or sys.stdout
    for line in report.skipped:
        print(f"skipped {line}", file=out)
    steps: dict[str, int] = {}
    for record in report.ran:
        steps[record["step"]] = steps.get(record["step"], 0) + 1
    up_to_date = "nothing" if report.failures else "nothing (all up to date)"
    ran = ", ".join(f"{n} {step}" for step, n in steps.items()) or up_to_date
    print(f"ran: {ran}", file=out)
    for bundle, clips in sorted(report.left_out.items()):
        print(
            f"{bundle}: {len(clips)} clip(s) left out (undecodable), see its report.json:", file=out
        )
        for stem, info in sorted(clips.items())[:_MAX_LISTED]:
            print(f"  {stem}: {info['reason']}", file=out)
    for bundle, why in sorted(report.not_built.items()):
        print(f"NOT BUILT: {bundle}: {why}", file=out)
    if report.ok and not report.ran and not report.failures:
        print("up to date: everything asked for was built before; nothing to do", file=out)
    for bundle, outputs in report.outputs.items():
        for what, path in outputs:
            print(f"{bundle}: {what} {path}", file=out)
    if report.ok:
        print("done: everything asked for is built", file=out)
    else:
        print(
            f"NOT DONE: {len(report.not_built) or 'some'} bundle(s) were not built (see above); "
            "fix the cause and rerun the same command: completed steps are kept "
            "(--verbose shows each failed step's traceback).",
            file=out,
        )


def main(argv: Sequence[str] | None = None) -> int:
    """The command; a user error raises UserError (run_command turns it into its exit code)."""
    args = parse_args(argv)
    if args.tasks == ["list"]:
        print("\n".join(task_lines()))
        return OK
    resolved = resolve_configs(args)
    load_luigi_config()
    check_servers(args, resolved[0])
    reuse_freed_memory()  # before Luigi forks its workers, which inherit the setting
    report = build(args, resolved)
    print_report(report)
    return OK if report.ok else FAILED


if __name__ == "__main__":
    sys.exit(run_command(main))
