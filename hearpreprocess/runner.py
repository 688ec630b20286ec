"""Command line: build HEAR task bundles and tarballs with the generic Luigi graph.

    python -m hearpreprocess.runner TASK [TASK ...] | all [--mode M] [--sample-rate SR ...]
    python -m hearpreprocess.runner list     (every registered task, its version and modes)

Runs on Luigi's local scheduler, or against a `luigid` with --scheduler-url (start the same
command on several machines sharing the work, tasks and tarball folders to spread the work).
Exit code 0 only when everything asked for was built.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import luigi
import luigi.configuration

from hearcore.allocator import reuse_freed_memory
from hearcore.format import REPORT_FILE, SAMPLE_RATES
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
)
from hearpreprocess.pipeline import AllTasks, DownloadedFile, TaskBundle
from hearpreprocess.pipeline.base import FAILURE_LOG_ENV, TIMING_LOG_ENV, record_failure

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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m hearpreprocess.runner",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "tasks",
        nargs="+",
        help="task names, 'all' (the HEAR 2021 tasks), or 'list' to print the catalogue; "
        f"tasks: {', '.join(list_tasks())}",
    )
    p.add_argument(
        "--include-extra",
        action="store_true",
        help="with 'all', also build the extra tasks outside the HEAR 2021 set "
        f"({', '.join(t for t in list_tasks() if is_extra_task(t))})",
    )
    p.add_argument("--mode", action="append", help="mode(s) to build (default: each task's)")
    p.add_argument("--sample-rate", type=int, action="append", choices=SAMPLE_RATES)
    p.add_argument("--tasks-dir", default="tasks")
    p.add_argument("--tar-dir", default="tarballs")
    p.add_argument("--work-dir", default="_workdir")
    p.add_argument("--mirror", help="fetch https://HOST/PATH from MIRROR/HOST/PATH")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--scheduler-url", help="luigid URL, e.g. http://127.0.0.1:8082")
    p.add_argument("--resampler", choices=("soxr", "resampy"), default="soxr")
    p.add_argument("--config-overrides", help="TOML file: a table of overrides per task")
    p.add_argument("--no-tarballs", action="store_true", help="build bundles only")
    p.add_argument("--verbose", action="store_true", help="show Luigi's log")
    return p.parse_args(argv)


def resolve_configs(args: argparse.Namespace) -> tuple[list[TaskConfig], list[str]]:
    """The configs to build, and a line for each task skipped because it lacks --mode."""
    overrides = read_overrides(args.config_overrides)
    is_all = args.tasks == ["all"]
    names = list_tasks(include_extra=args.include_extra) if is_all else args.tasks
    configs, skipped = [], []
    for name in names:
        modes = args.mode or [None]
        for mode in modes:
            if is_all and mode is not None and mode not in list_modes(name):
                skipped.append(f"{name} (no mode {mode!r})")
                continue
            configs.append(load_task_config(name, mode, overrides.get(name)))
    return configs, skipped


def build(args: argparse.Namespace) -> RunReport:
    """Build what `args` asks for; never raises for a failed step (see RunReport)."""
    configs, skipped = resolve_configs(args)
    rates = sorted(set(args.sample_rate or SAMPLE_RATES))
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
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
            c.bundle_name: _why_not_built(c, s, report.failures)
            for c, s, ok in zip(configs, steps, done)
            if not ok
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
    if LUIGI_CFG.exists() and "LUIGI_CONFIG_PATH" not in os.environ:
        luigi.configuration.add_config_path(str(LUIGI_CFG))
    scheduler = {"scheduler_url": args.scheduler_url} if args.scheduler_url else {}
    luigi.build(
        [root],
        workers=max(1, args.workers),
        local_scheduler=not args.scheduler_url,
        log_level="INFO" if args.verbose else "WARNING",
        **scheduler,
    )


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
    if report.ok:
        print("done: everything asked for is built", file=out)
    else:
        print(
            f"NOT DONE: {len(report.not_built) or 'some'} bundle(s) were not built (see above); "
            "fix the cause and rerun the same command: completed steps are kept.",
            file=out,
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.tasks == ["list"]:
        print("\n".join(task_lines()))
        return 0
    reuse_freed_memory()  # before Luigi forks its workers, which inherit the setting
    try:
        report = build(args)
    except (ConfigError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
