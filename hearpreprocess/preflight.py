"""What the runner checks and sets up before it schedules anything.

The servers a run needs must answer within seconds: without the check, Luigi's remote scheduler
retries a luigid that is down for a minute before failing with its own tracebacks, and each
download retries a mirror that is down before giving up. And Luigi's log is ours to configure:
without --verbose a failed step ends in the runner's NOT BUILT line, not in Luigi's traceback.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import urllib.parse
from pathlib import Path

import luigi
import luigi.configuration
import requests

from hearcore.cli import UNREACHABLE, USAGE, UserError
from hearcore.download import make_session
from hearcore.format import SAMPLE_RATES
from hearpreprocess import builtin
from hearpreprocess.config import TaskConfig
from hearpreprocess.pipeline import TaskBundle
from hearpreprocess.pipeline.download import source_folder

# Seconds a server has to answer the check: a luigid or mirror that is up answers in
# milliseconds, one that is down should not keep the user waiting.
CHECK_TIMEOUT_S = 3.0
_HANDLER_NAME = "hearpreprocess.runner"
_ERRNO_RE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def check_servers(args: argparse.Namespace, configs: list[TaskConfig]) -> None:
    """Raise UserError (UNREACHABLE) when --scheduler-url, or --mirror where a download is still
    to be made, does not answer; USAGE when either is not an http(s) URL."""
    if args.scheduler_url:
        port = urllib.parse.urlsplit(args.scheduler_url).port or 8082
        check_answers(
            args.scheduler_url,
            "--scheduler-url",
            "luigid",
            f"start it (luigid --port {port}) or fix --scheduler-url",
        )
    if args.mirror:
        if needs_downloads(configs, args):
            check_answers(args.mirror, "--mirror", "the mirror", "start it or fix --mirror")
        else:
            _check_is_url(args.mirror, "--mirror")


def check_answers(url: str, option: str, what: str, todo: str) -> None:
    """Any HTTP answer (even an error status) means the server is up."""
    _check_is_url(url, option)
    session = make_session(url)
    try:
        session.head(url, timeout=CHECK_TIMEOUT_S, allow_redirects=False)
    except requests.RequestException as e:
        raise UserError(
            f"{what} at {url} does not answer ({_reason(e)}); {todo}. Nothing was built.",
            UNREACHABLE,
        ) from e
    finally:
        session.close()


def _check_is_url(url: str, option: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(
            f"{option} {url!r} is not an http(s) URL; write it as http://HOST:PORT", USAGE
        )


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    match = _ERRNO_RE.search(str(error))
    return match.group(1).strip().lower() if match else type(error).__name__


def needs_downloads(configs: list[TaskConfig], args: argparse.Namespace) -> bool:
    """Whether a bundle still to build lacks the folder of a source fetched from the mirror
    (the built-in corpora are served by the runner itself)."""
    work_dir = str(Path(args.work_dir).resolve())
    rates = sorted(set(args.sample_rate or SAMPLE_RATES))
    for config in configs:
        sources = [s for s in config.sources if not builtin.is_builtin(s.url)]
        missing = [s for s in sources if not source_folder(s, work_dir).output().exists()]
        if missing and not _bundle_done(config, rates, args, work_dir):
            return True
    return False


def _bundle_done(
    config: TaskConfig, rates: list[int], args: argparse.Namespace, work_dir: str
) -> bool:
    bundle = TaskBundle(
        config=config.to_dict(),
        sample_rates=rates,
        resampler=args.resampler,
        tasks_dir=str(Path(args.tasks_dir).resolve()),
        work_dir=work_dir,
    )
    return bundle.output().exists()


def configure_luigi_logging(verbose: bool) -> None:
    """Luigi's log on stderr: all of it (INFO) with `verbose`, else only what is critical, so a
    failed step's traceback stays out of the console. Set for every run, not once per process
    (Luigi's own setup happens once), so two runs in one process log as each asks."""
    config = luigi.configuration.get_config()
    if not config.has_section("core"):
        config.add_section("core")
    config.set("core", "no_configure_logging", "true")
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    for name in ("luigi-interface", "luigi"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):  # ours from an earlier run, or Luigi's own
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if verbose else logging.CRITICAL)
        logger.propagate = False
