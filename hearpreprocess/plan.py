"""What a run would do, without doing any of it: `python -m hearpreprocess.runner TASK --dry-run`.

`make_plan` builds the very Luigi graph the runner builds and walks it as Luigi's scheduler does,
asking each step `complete()` and going on to a step's requirements only when it is not: the
steps it lists to run are the steps a run would run. It writes nothing (no folder is created) and
downloads nothing: a file left to download gets one HEAD request, to learn its size.

How many audio shards a split has is decided by the split step: until it has run, the shards
are unknown, and the plan says so. The time estimate divides the audio left to write by the
throughput measured at the end of earlier runs in the same work dir (`record_throughput`, kept
in work_dir/throughput.json), or by a conservative default when nothing was measured yet.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import luigi
import requests

from hearcore.download import make_session
from hearpreprocess import builtin
from hearpreprocess.build import make_root, run_rates
from hearpreprocess.config import TaskConfig
from hearpreprocess.pipeline import AudioShard, DownloadedFile, TaskBundle
from hearpreprocess.pipeline.shards import PLAN_FILE
from hearpreprocess.throughput import audio_throughput, read_json, shard_seconds

HEAD_TIMEOUT_SECONDS = 3.0
# Download speeds vary too much between hosts and runs for one measurement to tell the next.
DOWNLOAD_RATE = 5e6
# Bundle audio is 16-bit mono; a gzipped tarball of PCM is barely smaller than the PCM itself.
BYTES_PER_SAMPLE = 2
# Without a shard plan, a corpus's size is guessed from its archives, taken to hold about as much
# audio as 16-bit mono at this rate would (a guess, and the plan says so).
ARCHIVE_BYTES_PER_AUDIO_SECOND = 44100 * BYTES_PER_SAMPLE
# Pipeline order, for listing steps the way a run goes through them.
STEP_ORDER = (
    "DownloadedFile SourceFolder CorpusMetadata SplitMetadata KeptAudio AudioShard TaskBundle "
    "TaskTarball"
).split()


@dataclass
class Step:
    """One step of the graph: its class, Luigi task id, output path and whether it is done."""

    kind: str
    task_id: str
    path: str
    done: bool
    audio_seconds: float | None = None  # an AudioShard's planned audio


@dataclass
class Download:
    """A file left to download: its size from a HEAD request (None: unknown, see `note`)."""

    url: str
    fetch_from: str
    path: str
    total_bytes: int | None
    fetched_bytes: int  # already in its .part file, resumed by the run
    note: str = ""

    @property
    def bytes_to_fetch(self) -> int | None:
        return None if self.total_bytes is None else max(0, self.total_bytes - self.fetched_bytes)


@dataclass
class Estimate:
    """A number (bytes or seconds) or None for unknown, and how it was arrived at."""

    value: float | None
    basis: str


@dataclass
class TaskPlan:
    """What a run would do for one task and mode (bundle)."""

    bundle: str
    steps: list[Step]
    shards_known: bool
    downloads: list[Download]
    audio: Estimate  # audio seconds left to write
    disk: Estimate
    time: Estimate

    @property
    def to_run(self) -> list[Step]:
        return [s for s in self.steps if not s.done]

    @property
    def up_to_date(self) -> list[Step]:
        return [s for s in self.steps if s.done]


@dataclass
class Plan:
    tasks: list[TaskPlan]
    sample_rates: list[int]
    workers: int
    audio_rate: float  # audio seconds written per second, all workers together
    throughput: str  # where the rates come from

    @property
    def nothing_to_do(self) -> bool:
        return all(not t.to_run for t in self.tasks)


def make_plan(configs: list[TaskConfig], args: argparse.Namespace) -> Plan:
    """What `python -m hearpreprocess.runner` with `args` would do for `configs`; writes nothing."""
    root = make_root(configs, args)
    rates = run_rates(args)
    workers = max(1, getattr(args, "workers", 1) or 1)
    audio_rate, audio_basis = audio_throughput(Path(args.work_dir), rates)
    done: dict[str, bool] = {}
    heads: dict[str, Download] = {}
    tasks = []
    for config, roots in zip(configs, root.steps_per_config()):
        walked, shards_known = walk(roots, done)
        steps = [_step(s, done[s.task_id], args) for s in walked]
        downloads = [
            _download(s, args.mirror, heads)
            for s in walked
            if isinstance(s, DownloadedFile) and not done[s.task_id]
        ]
        corpus = _corpus_seconds(walked, shards_known, downloads)
        audio = corpus
        if shards_known:
            left = [s.audio_seconds for s in steps if s.kind == "AudioShard" and not s.done]
            audio = Estimate(None if None in left else sum(x or 0.0 for x in left), corpus.basis)
        disk = _disk_needed(corpus, audio, walked, done, rates)
        needed = _time(audio, downloads, audio_rate * workers)
        plan = TaskPlan(config.bundle_name, steps, shards_known, downloads, audio, disk, needed)
        tasks.append(plan)
    basis = f"{audio_basis}, {workers} worker(s); downloads at {format_bytes(DOWNLOAD_RATE)}/s"
    return Plan(tasks, rates, workers, audio_rate * workers, basis)


def walk(roots: list[luigi.Task], done: dict[str, bool]) -> tuple[list[luigi.Task], bool]:
    """The steps a run would visit from `roots`, as Luigi does: a step's requirements only when it
    is not complete, and a bundle's audio shards once its split step is complete (before that
    their number is unknown: the second value is then False). `done` caches complete()."""
    seen: dict[str, luigi.Task] = {}
    shards_known = True
    todo = list(roots)
    while todo:
        step = todo.pop()
        if step.task_id in seen:
            continue
        seen[step.task_id] = step
        if _is_complete(step, done):
            continue
        todo += luigi.task.flatten(step.requires())
        if isinstance(step, TaskBundle):
            if _is_complete(step.split_step(), done):
                todo += [s for shards in step.audio_shards().values() for s in shards]
            else:
                shards_known = False
    order = {kind: i for i, kind in enumerate(STEP_ORDER)}
    steps = sorted(seen.values(), key=lambda s: (order.get(type(s).__name__, 99), s.output().path))
    return steps, shards_known


def _is_complete(step: luigi.Task, done: dict[str, bool]) -> bool:
    if step.task_id not in done:
        done[step.task_id] = bool(step.complete())
    return done[step.task_id]


def _step(step: luigi.Task, done: bool, args: argparse.Namespace) -> Step:
    seconds = shard_seconds(step) if isinstance(step, AudioShard) else None
    return Step(type(step).__name__, step.task_id, _shown_path(step, args), done, seconds)


def _shown_path(step: luigi.Task, args: argparse.Namespace) -> str:
    """The output path, relative to the folder it lies in (work, tasks or tar dir)."""
    path = Path(step.output().path)
    for name in ("work_dir", "tasks_dir", "tar_dir"):
        folder = Path(getattr(args, name)).resolve()
        if folder in path.parents:
            return f"{name.removesuffix('_dir')}/{path.relative_to(folder)}"
    return str(path)


def _download(step: DownloadedFile, mirror: str | None, heads: dict[str, Download]) -> Download:
    """The size left to fetch: a HEAD request (once per file, however many tasks need it), less
    what a `.part` file from an interrupted run already holds."""
    dest = Path(step.output().path)
    if str(dest) in heads:
        return heads[str(dest)]
    part = dest.with_name(dest.name + ".part")
    fetched = part.stat().st_size if part.is_file() else 0
    if builtin.is_builtin(step.url):
        found = Download(step.url, "", str(dest), 0, 0, "generated on this machine by the run")
    else:
        source = builtin.resolve_url(step.url, mirror or None, None)
        total, note = head_size(source)
        found = Download(step.url, source, str(dest), total, fetched, note)
    heads[str(dest)] = found
    return found


def head_size(url: str, timeout: float = HEAD_TIMEOUT_SECONDS) -> tuple[int | None, str]:
    """The Content-Length a HEAD request for `url` announces, or None and why not."""
    session = make_session(url)
    try:
        response = session.head(url, timeout=timeout, allow_redirects=True)
    except requests.RequestException as e:
        return None, f"size unknown: HEAD failed ({type(e).__name__})"
    finally:
        session.close()
    length = response.headers.get("Content-Length")
    if response.status_code != 200 or not (length or "").isdigit():
        return None, f"size unknown: HEAD answered HTTP {response.status_code}"
    return int(length or 0), ""


def _corpus_seconds(steps, shards_known: bool, downloads: list[Download]) -> Estimate:
    """Seconds of audio the bundle holds: from the shard plan when known, else guessed from the
    download sizes, else unknown."""
    bundles = [s for s in steps if isinstance(s, TaskBundle)]
    if not bundles:  # the tarballs are up to date: nothing is written
        return Estimate(0.0, "up to date")
    if shards_known:
        plan = read_json(Path(bundles[0].split_step().output().path) / PLAN_FILE)
        total = sum(s["seconds"] for shards in plan.get("splits", {}).values() for s in shards)
        return Estimate(total, "from the shard plan")
    sizes = [d.total_bytes for d in downloads if d.fetch_from]
    if sizes and None not in sizes:
        total = sum(s or 0 for s in sizes) / ARCHIVE_BYTES_PER_AUDIO_SECOND
        return Estimate(total, "a guess from the download sizes (the splits are not made yet)")
    return Estimate(None, "unknown until the split step has run")


def _disk_needed(corpus: Estimate, audio: Estimate, walked, done, rates) -> Estimate:
    """Bytes left to write, 16-bit mono at every rate: the `audio` seconds of the shards to run
    (the bundle hard-links them, taking no more space), and each tarball to write, which holds
    the whole `corpus` at its rate."""
    if corpus.value is None or audio.value is None:
        return Estimate(None, corpus.basis if corpus.value is None else audio.basis)
    tarballs = [s for s in walked if type(s).__name__ == "TaskTarball" and not done[s.task_id]]
    shards = audio.value * sum(rates)
    whole = corpus.value * sum(int(s.sample_rate) for s in tarballs)
    return Estimate((shards + whole) * BYTES_PER_SAMPLE, corpus.basis)


def _time(audio: Estimate, downloads: list[Download], audio_rate: float) -> Estimate:
    """Seconds to write `audio` seconds of audio and fetch the downloads."""
    if audio.value is None:
        return audio
    fetch = [d.bytes_to_fetch for d in downloads]
    if None in fetch:
        return Estimate(None, "unknown: a download's size is unknown")
    seconds = audio.value / audio_rate + sum(b or 0 for b in fetch) / DOWNLOAD_RATE
    return Estimate(seconds, audio.basis)


def format_bytes(n: float | None) -> str:
    units = ("B", "kB", "MB", "GB", "TB")
    power = 0 if n is None else min(len(units) - 1, max(0, (len(str(int(n))) - 1) // 3))
    return "unknown" if n is None else f"{n / 1000**power:.{min(power, 1)}f} {units[power]}"


def format_seconds(s: float | None) -> str:
    if s is None:
        return "unknown"
    return f"about {max(s, 1):.0f} s" if s < 60 else f"about {s / 60:.0f} min"


def _totals(plan: Plan) -> dict[str, Any]:
    """Over every task, each shared step and download counted once."""
    downloads = {d.path: d.bytes_to_fetch for t in plan.tasks for d in t.downloads}
    fetch = None if None in downloads.values() else sum(b or 0 for b in downloads.values())
    disk = [t.disk.value for t in plan.tasks]
    audio = [t.audio.value for t in plan.tasks]
    seconds = None
    if None not in audio and fetch is not None:
        seconds = sum(a or 0 for a in audio) / plan.audio_rate + fetch / DOWNLOAD_RATE
    return {
        "steps_to_run": len({s.task_id for t in plan.tasks for s in t.to_run}),
        "bytes_to_fetch": fetch,
        "disk_bytes": None if None in disk else sum(d or 0 for d in disk),
        "seconds": seconds,
    }


def plan_json(plan: Plan) -> dict:
    """The plan as JSON-safe data: every field of Plan, with the totals over its tasks."""
    data = asdict(plan)
    for task, out in zip(plan.tasks, data["tasks"]):
        for download, record in zip(task.downloads, out["downloads"]):
            record["bytes_to_fetch"] = download.bytes_to_fetch
    return {**data, "nothing_to_do": plan.nothing_to_do, "totals": _totals(plan)}


def print_plan(plan: Plan, out: IO[str] | None = None) -> None:
    """The plan for a person: per bundle the steps to run, those up to date, and estimates."""
    out = out or sys.stdout
    rates = ", ".join(map(str, plan.sample_rates))
    print(f"dry run (nothing written, nothing downloaded); sample rates {rates}", file=out)
    for t in plan.tasks:
        print(f"{t.bundle}:", file=out)
        for s in t.to_run:
            if s.kind != "AudioShard":
                print(f"  to run: {s.kind} {s.path}", file=out)
        shards = [s for s in t.steps if s.kind == "AudioShard"]
        if not t.shards_known:
            print("  audio shards: unknown until SplitMetadata has run", file=out)
        elif shards:
            left = sum(not s.done for s in shards)
            print(f"  audio shards: {left} to run, {len(shards) - left} up to date", file=out)
        done = Counter(s.kind for s in t.up_to_date if s.kind != "AudioShard")
        done_text = ", ".join(f"{n} {kind}" for kind, n in done.items())
        print(f"  up to date: {done_text or 'nothing'}", file=out)
        for d in t.downloads:
            resumed = f" ({format_bytes(d.fetched_bytes)} already fetched)" * bool(d.fetched_bytes)
            size = d.note or f"{format_bytes(d.bytes_to_fetch)} to fetch{resumed}"
            where = f" (from {d.fetch_from})" if d.fetch_from not in ("", d.url) else ""
            print(f"  download: {d.url}{where}: {size}", file=out)
        print(f"  disk: {format_bytes(t.disk.value)} ({t.disk.basis})", file=out)
        print(f"  time: {format_seconds(t.time.value)} ({t.time.basis})", file=out)
    totals = _totals(plan)
    print(
        f"total: {totals['steps_to_run']} step(s) to run, "
        f"{format_bytes(totals['bytes_to_fetch'])} to download, "
        f"{format_bytes(totals['disk_bytes'])} of disk, {format_seconds(totals['seconds'])}",
        file=out,
    )
    print(f"estimates: {plan.throughput}", file=out)
    if plan.nothing_to_do:
        print("up to date: everything asked for is built; a run would do nothing", file=out)
