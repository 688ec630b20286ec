"""Run the Luigi graph of a runner invocation and say what it did (a RunReport).

The runner (hearpreprocess.runner) parses the command line; this module builds the graph's root
(pipeline.AllTasks), runs it on Luigi's local scheduler or against a luigid, and then checks every
requested output itself: Luigi's own verdict only covers the steps this worker ran, while on a
shared luigid another host may have run some of them (then the run still succeeds, and the
report names those steps), or failed one (then the report names the step, the host and the
error, from the failure record that host left in the shared work dir).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import luigi
import luigi.configuration

from hearcore.atomic import remove_stale_temporaries, temporary_sibling
from hearcore.cli import NOT_FOUND, UserError
from hearcore.format import REPORT_FILE, SAMPLE_RATES, tarball_name
from hearcore.lock import hold_lock
from hearpreprocess import builtin
from hearpreprocess.config import TaskConfig
from hearpreprocess.pipeline import AllSplits, AllTasks, DownloadedFile, TaskBundle
from hearpreprocess.pipeline.base import (
    FAILURE_LOG_ENV,
    TIMING_LOG_ENV,
    read_shared_failure,
    record_failure,
)
from hearpreprocess.preflight import configure_luigi_logging
from hearpreprocess.report import BundleOutcome, RunReport

# The settings shipped with the package (configs/luigi.cfg in a checkout links to it).
LUIGI_CFG = Path(__file__).resolve().parent / "luigi.cfg"


def build(args: argparse.Namespace, resolved: tuple[list[TaskConfig], list[str]]) -> RunReport:
    """Build what `args` asks for (`resolved`: what runner.resolve_configs(args) returned);
    never raises for a failed step (see RunReport)."""
    configs, skipped = resolved
    work_dir = Path(args.work_dir).resolve()
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create the work dir {work_dir} ({e}); choose another --work-dir")
    if args.scheduler_url:  # hosts share the work dir on purpose; luigid keeps them apart
        return _build(args, configs, skipped, work_dir)
    with hold_lock(work_dir, "python -m hearpreprocess.runner " + " ".join(sys.argv[1:])):
        return _build(args, configs, skipped, work_dir)


def _build(
    args: argparse.Namespace, configs: list[TaskConfig], skipped: list[str], work_dir: Path
) -> RunReport:
    rates = run_rates(args)
    report = RunReport(ok=False, skipped=skipped, started=time.time())
    report.scheduler = args.scheduler_url or "local"
    # The logs every worker process of this host appends to; outside the work dir, so a run
    # with nothing to do writes nothing there.
    failure_log = _run_log("hearpreprocess-failures.jsonl")
    own_timing = TIMING_LOG_ENV not in os.environ
    timing_log = Path(os.environ.get(TIMING_LOG_ENV) or _run_log("hearpreprocess-steps.jsonl"))
    timing_start = timing_log.stat().st_size if timing_log.exists() else 0
    saved_env = {k: os.environ.get(k) for k in (FAILURE_LOG_ENV, TIMING_LOG_ENV)}
    os.environ.update({FAILURE_LOG_ENV: str(failure_log), TIMING_LOG_ENV: str(timing_log)})
    try:
        to_generate = [c for c in configs if not _builtin_downloads_done(c, work_dir)]
        with builtin.serve_builtin_corpora(to_generate, work_dir / "builtin") as builtin_url:
            root = make_root(configs, args, builtin_url or "")
            scheduled = _run_luigi(root, args)
            steps = root.steps_per_config()
            done = [all(x.complete() for x in s) for s in steps]
        report.ok = all(done)
        report.failures = _read_jsonl(failure_log, 0)
        report.ran = _read_jsonl(timing_log, timing_start)
        report.run_by_others = _run_by_others(scheduled, report.ran)
        step_ids = [_step_ids(s) for s in steps]
        for c, ids, ok in zip(configs, step_ids, done):
            if not ok and not _failure_for(c, ids, report.failures):
                report.failures += _shared_failures(ids, work_dir)
        report.not_built = {
            c.bundle_name: _mirror_advice(_why_not_built(c, ids, report.failures), args.mirror)
            for c, ids, ok in zip(configs, step_ids, done)
            if not ok
        }
        report.outputs = {
            c.bundle_name: _outputs(c, rates, args) for c, ok in zip(configs, done) if ok
        }
        report.bundles = [
            _outcome(c, ids, ok, report) for c, ids, ok in zip(configs, step_ids, done)
        ]
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
    report.finished = time.time()
    return report


def _run_log(name: str) -> Path:
    """A new empty log in the system's temporary folder, named as hearcore.atomic names
    temporaries (pid and host), so that the logs of killed runs are removed by the next run."""
    path = Path(tempfile.gettempdir()) / name
    remove_stale_temporaries(path)
    log = temporary_sibling(path)
    log.touch()
    return log


def make_root(configs: list[TaskConfig], args: argparse.Namespace, builtin_mirror: str = ""):
    """The graph's root step for `configs` and the run's options. `builtin_mirror`: where the
    built-in corpora are served this run (never part of a step's identity)."""
    return AllTasks(
        configs=[c.to_dict() for c in configs],
        sample_rates=run_rates(args),
        work_dir=str(Path(args.work_dir).resolve()),
        tasks_dir=str(Path(args.tasks_dir).resolve()),
        tar_dir=str(Path(args.tar_dir).resolve()),
        resampler=args.resampler,
        tarballs=not args.no_tarballs,
        mirror=args.mirror or "",
        builtin_mirror=builtin_mirror,
    )


def run_rates(args: argparse.Namespace) -> list[int]:
    """The sample rates a run writes: --sample-rate, or all of them."""
    return sorted(set(args.sample_rate or SAMPLE_RATES))


def _run_by_others(scheduled: list[luigi.Task], ran: list[dict]) -> list[dict]:
    """Steps this worker found to do that it did not run and that are done now: another worker
    of the same luigid ran them."""
    ours = {record["id"] for record in ran}
    return [
        {"step": type(t).__name__, "id": t.task_id, "task": _bundle_of(t)}
        for t in scheduled
        if t.task_id not in ours and not isinstance(t, AllTasks) and t.complete()
    ]


def _bundle_of(step: luigi.Task) -> str:
    return getattr(step, "bundle_name", "") or getattr(step, "task_name", "")


def _outcome(config: TaskConfig, ids: set[str], ok: bool, report: RunReport) -> BundleOutcome:
    outcome = BundleOutcome(
        task=config.task_name, mode=config.mode, bundle=config.bundle_name, status="failed"
    )
    if ok:
        worked = {r["id"] for r in report.ran + report.run_by_others}
        outcome.status = "built" if ids & worked else "up_to_date"
        return outcome
    outcome.error = report.not_built.get(config.bundle_name)
    failure = _failure_for(config, ids, report.failures)
    if failure:
        outcome.failed_step, outcome.failed_host = failure["step"], failure.get("host")
    return outcome


def _why_not_built(config: TaskConfig, ids: set[str], failures: list[dict]) -> str:
    """The failure that stopped a bundle: that of a step it needs, its own or one it shares with
    other bundles (a download, the corpus metadata of two modes), run here or on another host."""
    failure = _failure_for(config, ids, failures)
    if failure:
        where = f" on {failure['host']}" if failure.get("host") else ""
        return f"{failure['step']} failed{where}: {failure['error']}"
    return "a step it needs did not run (rerun with --verbose to see Luigi's log)"


def _failure_for(config: TaskConfig, ids: set[str], failures: list[dict]) -> dict | None:
    checksums = {r.checksum for s in config.sources for r in s.remotes}
    for failure in failures:
        if (
            failure.get("id") in ids
            or failure["task"] == config.bundle_name
            or failure.get("checksum") in checksums
        ):
            return failure
    return None


def _shared_failures(ids: set[str], work_dir: Path) -> list[dict]:
    """The last failure recorded in the shared work dir for each of `ids` (by any host)."""
    records = [read_shared_failure(work_dir, step_id) for step_id in sorted(ids)]
    return [r for r in records if r]


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
            if isinstance(step, TaskBundle) and step.split_step().complete():
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


def _run_luigi(root: AllTasks, args: argparse.Namespace) -> list[luigi.Task]:
    """Run the graph; returns the steps this worker found to do (Luigi's pending ones).

    On a shared luigid the splits are built first, in a round of their own; the second round
    asks for the bundles' audio shards too, so every host schedules them and luigid spreads them
    over all hosts. (Shards only yielded by a running bundle step could run on its host alone.)
    Bundles whose splits failed are left out of the second round.
    """
    load_luigi_config(args.luigi_config)
    configure_luigi_logging(args.verbose)
    if not args.scheduler_url:
        return _luigi_round([root], args)
    # Wait for steps another host is running instead of ending "not done" while they run;
    # luigid's retry_count bounds the wait for a step that keeps failing.
    luigi.configuration.get_config().set("worker", "keep_alive", "true")
    splits = AllSplits(**root.param_kwargs)
    scheduled = _luigi_round([splits], args)
    bundles = root.bundles()
    planned = [(c, b) for c, b in zip(root.configs, bundles) if b.split_step().complete()]
    if planned:
        shards = [s for _, b in planned for split in b.audio_shards().values() for s in split]
        second = root.clone(configs=[c for c, _ in planned])
        scheduled += _luigi_round([second, *shards], args)
    return scheduled


def _luigi_round(roots: list[luigi.Task], args: argparse.Namespace) -> list[luigi.Task]:
    scheduler = {"scheduler_url": args.scheduler_url} if args.scheduler_url else {}
    result = luigi.build(
        roots,
        workers=max(1, args.workers),
        local_scheduler=not args.scheduler_url,
        detailed_summary=True,
        **scheduler,
    )
    history = result.worker._add_task_history  # (task, status, runnable) as scheduled
    return list({t.task_id: t for t, status, _ in history if status == "PENDING"}.values())


def load_luigi_config(path: str | None = None) -> Path:
    """Read the Luigi settings: `path` (--luigi-config) if given, else LUIGI_CONFIG_PATH if set,
    else the copy shipped with the package. Returns the file read last."""
    if path:
        if not Path(path).is_file():
            raise UserError(
                f"Luigi settings file {path} does not exist; fix --luigi-config", NOT_FOUND
            )
        luigi.configuration.add_config_path(str(path))
        return Path(path)
    if "LUIGI_CONFIG_PATH" in os.environ:
        return Path(os.environ["LUIGI_CONFIG_PATH"])
    luigi.configuration.add_config_path(str(LUIGI_CFG))
    return LUIGI_CFG


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
