"""The catalogue in miniature: every registered task built from a scaled fake corpus.

For each task (`--tasks`, default all registered ones, extras included) the benchmark picks the
mode `full` where the task has one, else its default mode (shown as `mode`). It writes the
task's fake corpus (tests/fakes/<recipe>.py) in the real layout and archive format, with about
`--scale` of the mode's full clips per split (the TOML card's `full_clips`, capped by the mode's
max_task_duration caps), each as long as the mode's sample_duration (or the real mean length
where none is set), and at most `--max-seconds-per-task` of audio. A fake without a scale is
built at its fixed size (`fixed` in the table). Each task is then built by the real runner, as
a subprocess with `--workers N`, against a loopback MirrorServer, with the fake's config and
md5 overrides (as the contract test builds every task), from an empty output folder.

Measured per task: wall time of the runner; audio-seconds built (the bundle's WAVs at one rate)
per wall second; per-core throughput, audio-seconds per busy second of all steps (the step
timings every worker logs); peak disk of its work, tasks and tarball folders (st_blocks summed
every 0.5 s).

Projection of the full catalogue on a 16-core machine, from the measured busy seconds:

    f_t      = full audio-s of task t (its mode) / audio-s built here
    W_t      = sum over step kinds k of busy_t,k * f_t           (core-seconds at full size)
    C_t      = sum over k of busy_t,k * f_t / min(16, par_t,k)   (the task's critical path)
    par_t,k  = AudioShard: the task's shards at full size (SHARD_SECONDS of audio each);
               TaskTarball: one per sample rate; DownloadedFile: one per file downloaded;
               every other step kind (unpack, metadata, bundle): 1
    T_16     = max(sum_t W_t / 16, max_t C_t)

Assumed: every step's busy time grows linearly with audio-seconds (download and unpacking too,
as corpus bytes grow with audio; the runner's start-up is left out); a core of the 16-core
machine is as fast as one here, with no disk or memory-bandwidth contention; downloads run at
loopback speed, so real network time (the corpus's GB / your bandwidth) comes on top; Luigi puts
all tasks in one graph, so 16 workers overlap tasks. Busy times measured on a shared 2-core
machine with 2 workers include contention, and a step's fixed cost (imports, pandas, reading
small files) is scaled up with the audio as well: both make the projection pessimistic, the more
so the smaller the scale (the `most of C_t` column names the step kind that dominates a task).

    python benchmarks/catalogue_miniature.py [--scale 0.01] [--workers 2] [--tasks a,b]
        [--max-seconds-per-task 600] [--out DIR]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import soundfile as sf  # noqa: E402
from fakes import Scale, is_scalable, make_fake_corpus  # noqa: E402

from hearcore.format import SAMPLE_RATES  # noqa: E402
from hearpreprocess.config import (  # noqa: E402
    TaskConfig,
    list_modes,
    list_tasks,
    load_task_config,
    read_card,
    read_recipe,
)
from hearpreprocess.mirror import MirrorServer  # noqa: E402
from hearpreprocess.pipeline.base import TIMING_LOG_ENV  # noqa: E402
from hearpreprocess.pipeline.shards import SHARD_MAX_CLIPS, SHARD_SECONDS  # noqa: E402

TARGET_CORES = 16
DISK_SAMPLE_S = 0.5
RUN_TIMEOUT_S = 1800
# Mean clip length of tasks whose config keeps clips at their own length (no sample_duration):
# FSD50K's 51,197 clips last 108.3 h in all (its paper), 7.6 s on average.
REAL_CLIP_SECONDS = {"fsd50k": 7.6}
OUTPUT_DIRS = ("work", "tasks", "tar")


@dataclass
class Plan:
    """What the benchmark builds for one task, and the full size it projects to."""

    task: str
    mode: str
    config: TaskConfig
    clip_seconds: float
    full_audio_s: float
    full_clips_by_split: dict[str, float]
    scale: Scale | None  # None: the fake's fixed size


@dataclass
class Result:
    plan: Plan
    wall: float
    audio_s: float
    clips: int
    peak_disk: int
    input_bytes: int
    busy: dict[str, float] = field(default_factory=dict)
    downloads: int = 1


def choose_mode(task: str) -> str:
    """`full` where the task has it, else its default mode."""
    modes = list_modes(task)
    return "full" if "full" in modes else read_recipe(task).get("default_mode", modes[0])


def full_clips(task: str, config: TaskConfig, clip_seconds: float) -> dict[str, float]:
    """Clips per split at full size in this mode: the card's full_clips, less what the mode's
    duration caps drop."""
    counts = {s: float(n) for s, n in read_card(task).get("full_clips", {}).items()}
    for split, n in counts.items():
        cap = config.max_task_duration_by_fold
        if config.max_task_duration_by_split:
            cap = config.max_task_duration_by_split.get(split)
        if cap is not None:
            counts[split] = min(n, cap / clip_seconds)
    return counts


def plan_task(task: str, scale: float, max_seconds: float) -> Plan:
    mode = choose_mode(task)
    config = load_task_config(task, mode)
    clip_s = config.sample_duration or REAL_CLIP_SECONDS.get(task)
    if clip_s is None:
        raise SystemExit(
            f"{task}: no sample_duration; add its mean clip length to REAL_CLIP_SECONDS"
        )
    by_split = full_clips(task, config, clip_s)
    n_splits = max(1, len(by_split))
    full_audio = sum(by_split.values()) * clip_s
    per_split = max(1, round(scale * full_audio / clip_s / n_splits))
    per_split = max(1, min(per_split, math.floor(max_seconds / (clip_s * n_splits))))
    probe = Scale(per_split, clip_s)
    return Plan(task, mode, config, clip_s, full_audio, by_split,
                probe if is_scalable(config) else None)  # fmt: skip


def folder_bytes(folders: list[Path]) -> int:
    """Bytes allocated on disk under `folders` (st_blocks, so sparse or hard-linked files count
    as the disk sees them)."""
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_blocks * 512
                except OSError:
                    pass  # a temporary renamed or removed while walking
    return total


class DiskSampler(threading.Thread):
    """Samples folder_bytes of some folders every DISK_SAMPLE_S until stopped; keeps the peak."""

    def __init__(self, folders: list[Path]):
        super().__init__(daemon=True)
        self.folders, self.peak, self._stop_event = folders, 0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, folder_bytes(self.folders))
            self._stop_event.wait(DISK_SAMPLE_S)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, folder_bytes(self.folders))
        return self.peak


def built_audio(bundle: Path) -> tuple[float, int]:
    """(audio-seconds, clips) of a bundle's WAVs at its first sample rate."""
    rate_dirs = [bundle / str(sr) for sr in SAMPLE_RATES if (bundle / str(sr)).is_dir()]
    seconds, clips = 0.0, 0
    for wav in rate_dirs[0].rglob("*.wav") if rate_dirs else ():
        info = sf.info(wav)
        seconds += info.frames / info.samplerate
        clips += 1
    return seconds, clips


def build_task(plan: Plan, out: Path, workers: int) -> Result:
    """Write the task's fake, build it with the runner against a loopback mirror, measure it."""
    shutil.rmtree(out, ignore_errors=True)
    mirror_root = out / "mirror"
    fake = make_fake_corpus(mirror_root, plan.config, plan.scale)
    input_bytes = sum(p.stat().st_size for p in mirror_root.rglob("*") if p.is_file())
    overrides = out / "overrides.toml"
    overrides.write_text(fake.overrides_toml(plan.task))
    timing = out / "steps.jsonl"
    folders = [out / name for name in OUTPUT_DIRS]
    with MirrorServer(mirror_root) as mirror:
        argv = [sys.executable, "-m", "hearpreprocess.runner", plan.task, f"--mode={plan.mode}"]
        argv += [f"--mirror={mirror.url}", f"--config-overrides={overrides}"]
        argv += [f"--{name}-dir={folder}" for name, folder in zip(OUTPUT_DIRS, folders)]
        argv += [f"--workers={workers}"]
        env = {**os.environ, TIMING_LOG_ENV: str(timing)}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        sampler = DiskSampler(folders)
        sampler.start()
        start = time.perf_counter()
        proc = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)  # fmt: skip
        wall = time.perf_counter() - start
        peak = sampler.stop()
    if proc.returncode != 0:
        raise RuntimeError(
            f"{plan.task} ({plan.mode}) failed with exit code {proc.returncode}; its output:\n"
            f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    built = load_task_config(plan.task, plan.mode, fake.overrides())
    audio_s, clips = built_audio(out / "tasks" / built.bundle_name)
    busy: dict[str, float] = collections.defaultdict(float)
    downloads = 0
    for line in timing.read_text().splitlines() if timing.exists() else ():
        record = json.loads(line)
        busy[record["step"]] += record["seconds"]
        downloads += record["step"] == "DownloadedFile"
    return Result(plan, wall, audio_s, clips, peak, input_bytes, dict(busy), max(1, downloads))


def full_shards(plan: Plan) -> int:
    """AudioShards of the task at full size: each split cut every SHARD_SECONDS of audio (or
    SHARD_MAX_CLIPS clips, whichever comes first)."""
    per_shard = min(SHARD_SECONDS / plan.clip_seconds, SHARD_MAX_CLIPS)
    return sum(max(1, math.ceil(n / per_shard)) for n in plan.full_clips_by_split.values())


def parallelism(result: Result, step: str) -> int:
    """How many steps of one kind the task can run side by side at full size."""
    if step == "AudioShard":
        return full_shards(result.plan)
    if step == "TaskTarball":
        return len(SAMPLE_RATES)
    if step == "DownloadedFile":
        return result.downloads
    return 1


def projection(result: Result) -> tuple[float, dict[str, float]]:
    """(W_t, {step kind: its part of C_t}) of the module docstring's model: full-size
    core-seconds, and the critical path's seconds by step kind."""
    factor = result.plan.full_audio_s / result.audio_s if result.audio_s else 0.0
    work = sum(s * factor for s in result.busy.values())
    path = {
        step: s * factor / min(TARGET_CORES, parallelism(result, step))
        for step, s in result.busy.items()
    }
    return work, path


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def print_table(results: list[Result], workers: int, scale: float) -> None:
    print(f"\nCatalogue in miniature: scale {scale:g}, {workers} workers, {os.cpu_count()} CPUs")
    header = (
        f"{'task':<24} {'mode':<5} {'fake':<6} {'clips':>6} {'audio s':>8} {'wall s':>7} "
        f"{'a-s/s':>7} {'a-s/core-s':>10} {'peak MB':>8} {'full audio':>10} {'full C_t':>9} "
        "most of C_t"
    )
    print(header + "\n" + "-" * len(header))
    total_work, longest = 0.0, 0.0
    for r in results:
        work, parts = projection(r)
        path = sum(parts.values())
        total_work, longest = total_work + work, max(longest, path)
        top = max(parts, key=parts.__getitem__) if parts else "-"
        busy = sum(r.busy.values())
        print(
            f"{r.plan.task:<24} {r.plan.mode:<5} {'scaled' if r.plan.scale else 'fixed':<6} "
            f"{r.clips:>6} {r.audio_s:>8.0f} {r.wall:>7.1f} {r.audio_s / r.wall:>7.1f} "
            f"{(r.audio_s / busy if busy else 0):>10.1f} {r.peak_disk / 1e6:>8.1f} "
            f"{hours(r.plan.full_audio_s):>10} {hours(path):>9} {top}"
        )
    audio, wall = sum(r.audio_s for r in results), sum(r.wall for r in results)
    busy = sum(sum(r.busy.values()) for r in results)
    print("-" * len(header))
    print(
        f"{'total':<38} {sum(r.clips for r in results):>6} {audio:>8.0f} {wall:>7.1f} "
        f"{audio / wall:>7.1f} {audio / busy:>10.1f} "
        f"{max(r.peak_disk for r in results) / 1e6:>8.1f} "
        f"{hours(sum(r.plan.full_audio_s for r in results)):>10}"
    )
    t16 = max(total_work / TARGET_CORES, longest)
    print(
        f"\nProjection, full catalogue on {TARGET_CORES} cores: {hours(t16)} "
        f"= max(sum W_t / {TARGET_CORES} = {hours(total_work / TARGET_CORES)}, "
        f"max C_t = {hours(longest)})"
    )
    print(
        "  W_t = each step kind's busy s x (full audio-s / audio-s built); C_t = the same, each\n"
        f"  kind divided by min({TARGET_CORES}, its parallelism: AudioShard = shards at full size,"
        " TaskTarball = rates,\n  DownloadedFile = files, others 1). Linear in audio-seconds; "
        "loopback downloads (add real network\n  time); a core there as fast as one here; "
        "each step's fixed cost is scaled too, so small\n  scales overstate it. peak MB: work + "
        "tasks + tarballs; fake: scaled or fixed size. mode: full, else default."
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=0.01, help="fraction of full-mode audio-hours")
    p.add_argument("--workers", type=int, default=2, help="Luigi workers per build")
    p.add_argument("--tasks", default="", help="comma-separated task names (default: all)")
    p.add_argument("--max-seconds-per-task", type=float, default=600.0,
                   help="cap on the audio-seconds of one task's fake")  # fmt: skip
    p.add_argument("--out", help="scratch folder, kept (default: a temporary one, removed)")
    args = p.parse_args()
    tasks = [t for t in args.tasks.split(",") if t] or list_tasks()
    unknown = sorted(set(tasks) - set(list_tasks()))
    if unknown:
        raise SystemExit(f"unknown task(s) {', '.join(unknown)}; see `runner list`")
    plans = [plan_task(t, args.scale, args.max_seconds_per_task) for t in tasks]
    with tempfile.TemporaryDirectory(prefix="hear-miniature-") as tmp:
        out = Path(args.out or tmp)
        results: list[Result] = []
        failed: dict[str, str] = {}
        for plan in plans:
            n = plan.scale.clips_per_split if plan.scale else "fixed"
            print(f"{plan.task} ({plan.mode}, clips per split: {n}) ...", flush=True)
            try:
                results.append(build_task(plan, out / plan.task, args.workers))
            except (RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
                failed[plan.task] = str(e)
                print(f"FAILED: {e}", flush=True)
            if not args.out:
                shutil.rmtree(out / plan.task, ignore_errors=True)
    if results:
        print_table(results, args.workers, args.scale)
    if failed:
        print(f"\nNOT BUILT ({len(failed)}): {', '.join(failed)}; their errors are above")
        sys.exit(1)


if __name__ == "__main__":
    main()
