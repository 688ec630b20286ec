"""What a run of the runner did, as lines for a person and as a JSON summary for cron.

`RunReport` is filled by `hearpreprocess.build.build`; `print_report` writes the lines the
runner ends with; `summary` is the `--summary-json` document (docs/operations.md describes it).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from hearcore.atomic import atomic_write_text

_MAX_LISTED = 20
SUMMARY_VERSION = 1


@dataclass
class BundleOutcome:
    """One bundle asked for: `status` is built, up_to_date or failed."""

    task: str
    mode: str
    bundle: str
    status: str
    error: str | None = None
    failed_step: str | None = None
    failed_host: str | None = None


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
    # Steps this run needed that another worker (another host on the same luigid) ran.
    run_by_others: list[dict] = field(default_factory=list)
    bundles: list[BundleOutcome] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    scheduler: str = "local"
    # The tarball folder's index page (with SHA256SUMS and index.json beside it).
    index: Path | None = None
    # A user error that stopped the run before any step (lock held, scheduler unreachable).
    error: str | None = None


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
    if report.run_by_others:
        print(f"another worker ran: {_count_steps(report.run_by_others)}", file=out)
    for bundle, clips in sorted(report.left_out.items()):
        print(
            f"{bundle}: {len(clips)} clip(s) left out (undecodable), see its report.json:", file=out
        )
        for stem, info in sorted(clips.items())[:_MAX_LISTED]:
            print(f"  {stem}: {info['reason']}", file=out)
    for bundle, why in sorted(report.not_built.items()):
        print(f"NOT BUILT: {bundle}: {why}", file=out)
    if report.ok and not report.ran and not report.failures and not report.run_by_others:
        print("up to date: everything asked for was built before; nothing to do", file=out)
    for bundle, outputs in report.outputs.items():
        for what, path in outputs:
            print(f"{bundle}: {what} {path}", file=out)
    if report.index:
        print(f"tarball index: {report.index}", file=out)
    if report.ok:
        print("done: everything asked for is built", file=out)
    else:
        print(
            f"NOT DONE: {len(report.not_built) or 'some'} bundle(s) were not built (see above); "
            "fix the cause and rerun the same command: completed steps are kept "
            "(--verbose shows each failed step's traceback).",
            file=out,
        )


def _count_steps(records: list[dict]) -> str:
    counts: dict[str, int] = {}
    for record in records:
        counts[record["step"]] = counts.get(record["step"], 0) + 1
    return ", ".join(f"{n} {step}" for step, n in counts.items())


def summary(report: RunReport, exit_code: int) -> dict:
    """The --summary-json document: per bundle what happened, and every step's record."""
    outputs = {name: _outputs_json(found) for name, found in report.outputs.items()}
    bundles = [
        {
            **vars(outcome),
            "quarantined": {
                stem: info.get("reason", "")
                for stem, info in report.left_out.get(outcome.bundle, {}).items()
            },
            "outputs": outputs.get(outcome.bundle),
        }
        for outcome in report.bundles
    ]
    return {
        "summary_version": SUMMARY_VERSION,
        "ok": report.ok,
        "exit_code": exit_code,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": _iso(report.started),
        "finished": _iso(report.finished),
        "scheduler": report.scheduler,
        "error": report.error,
        "index": str(report.index) if report.index else None,
        "bundles": bundles,
        "skipped": report.skipped,
        "steps": {
            "ran": [_step_json(r) for r in report.ran],
            "run_by_other_workers": [_step_json(r) for r in report.run_by_others],
            "failed": [_step_json(r) for r in report.failures],
        },
    }


def write_summary(path: str | os.PathLike, report: RunReport, exit_code: int) -> None:
    text = json.dumps(summary(report, exit_code), indent=2, sort_keys=True) + "\n"
    atomic_write_text(Path(path), text)


def _outputs_json(found: list[tuple[str, Path]]) -> dict:
    paths: dict = {"tarballs": []}
    for what, path in found:
        if what == "tarball":
            paths["tarballs"].append(str(path))
        else:
            paths[what] = str(path)
    return paths


def _step_json(record: dict) -> dict:
    keys = ("step", "id", "task", "seconds", "error", "host")
    return {k: record[k] for k in keys if k in record}


def _iso(timestamp: float) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")
