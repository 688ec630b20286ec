"""work_dir/throughput.json: the audio seconds per second each rate set was measured at, kept at
the end of every run that wrote audio, for the time estimates of `--dry-run`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hearcore.atomic import atomic_write_text
from hearpreprocess.build import make_root, run_rates
from hearpreprocess.config import TaskConfig
from hearpreprocess.pipeline import AudioShard
from hearpreprocess.pipeline.shards import PLAN_FILE

THROUGHPUT_FILE = "throughput.json"
# The default when this work dir has no measurement yet, on the slow side of what a laptop core
# does (decode, resample to every rate, write 16-bit WAVs), so that the estimate errs long.
DEFAULT_AUDIO_SECONDS_PER_SECOND = 20.0


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def audio_throughput(work_dir: Path, rates: list[int]) -> tuple[float, str]:
    """Audio seconds written per second per worker at `rates`: measured, or the default."""
    key = ",".join(map(str, sorted(rates)))
    measured = read_json(work_dir / THROUGHPUT_FILE).get("audio", {}).get(key)
    if measured:
        rate = measured["audio_seconds_per_second"]
        return rate, f"{rate:.0f} audio seconds per second per worker, measured at these rates"
    return DEFAULT_AUDIO_SECONDS_PER_SECOND, (
        f"no measurement yet, assuming {DEFAULT_AUDIO_SECONDS_PER_SECOND:g} audio seconds per "
        "second per worker"
    )


def record_throughput(
    configs: list[TaskConfig], args: argparse.Namespace, ran: list[dict]
) -> dict | None:
    """At the end of a run, keep in work_dir/throughput.json (per rate set) the audio seconds its
    AudioShard steps wrote per second of their time, for the next dry run's estimates. `ran`:
    the run's timing records (RunReport.ran). Returns what was recorded, or None when the run
    wrote no audio (the file is then left as it was). Atomic: a concurrent dry run reads the
    old record or the new one."""
    shards: dict[str, AudioShard] = {}
    for bundle in make_root(configs, args).bundles():
        if bundle.split_step().complete():
            shards.update({s.task_id: s for ss in bundle.audio_shards().values() for s in ss})
    audio = busy = 0.0
    for record in ran:
        seconds = shard_seconds(shards[record["id"]]) if record.get("id") in shards else None
        if seconds:
            audio, busy = audio + seconds, busy + record["seconds"]
    if audio <= 0 or busy <= 0:
        return None
    path = Path(args.work_dir).resolve() / THROUGHPUT_FILE
    kept = read_json(path)
    measured = {"audio_seconds_per_second": audio / busy, "audio_seconds": audio, "seconds": busy}
    kept.setdefault("audio", {})[",".join(map(str, run_rates(args)))] = measured
    atomic_write_text(path, json.dumps(kept, indent=1) + "\n")
    return measured


def shard_seconds(step: AudioShard) -> float | None:
    """The audio seconds the shard plan gives one shard (its split step must be complete)."""
    plan = read_json(Path(step.requires()[0].output().path) / PLAN_FILE)
    try:
        return float(plan["splits"][step.split][step.shard]["seconds"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
