"""Remove the work-dir folders that no current task identity names any more.

    python -m hearpreprocess.runner gc [--work-dir DIR] [--delete] [--min-age AGE]
                                       [--config-overrides FILE ...]

Every step writes under a folder keyed by the digest of what shapes it (pipeline/base.py), so a
config edit, a code version bump or a new release leaves the old folders behind. Without --delete
this lists each one with its size and the total (a dry run); with --delete it removes them.

What is current: every registered task (extra tasks included) in every mode, with its recipe as it
is now and, for each --config-overrides file, with those overrides too, built at any subset of
the sample rates with either resampler (62 audio identities per config: cheap digests). A
download is current when a current config names its checksum. Everything a current identity
names is kept; so is
- anything modified less than --min-age ago, anywhere under it (a step of another version, or
  another host sharing the work dir through luigid, may be writing it),
- a temporary (hearcore.atomic) whose writer still runs, or ran on another host, or any folder
  holding one: only temporaries of dead writers on this host are garbage,
- anything outside the known layout, listed as "unknown, kept".

gc holds the work-dir lock (hearcore.lock) throughout, so no local run starts meanwhile. A folder
is first renamed to a temporary name of this process, then deleted: an interrupted gc leaves a
dead writer's temporary, which the next gc (or the step that writes that output) removes.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlsplit

from hearcore.atomic import temporary_sibling, temporary_writer, writer_is_gone
from hearcore.cli import FAILED, NOT_FOUND, OK, USAGE, UserError, make_parser
from hearcore.format import MANIFEST_FILE, SAMPLE_RATES
from hearcore.lock import LOCK_FILE, hold_lock
from hearcore.signal import RESAMPLE_METHODS
from hearpreprocess import builtin
from hearpreprocess import config as registry
from hearpreprocess import pipeline
from hearpreprocess.pipeline import base
from hearpreprocess.pipeline.download import source_folder
from hearpreprocess.throughput import THROUGHPUT_FILE

DEFAULT_MIN_AGE = "1h"
# The folders of the work dir whose children are step outputs keyed by an identity, and the
# name every such child has (anything else there is unknown, and kept).
_KEYED = {
    "downloads": re.compile(r"^([0-9a-f]{32}|[0-9a-f]{64})$"),
    "sources": re.compile(r"^(archive|multipart_zip|file|file_list)-[0-9a-f]+(-first-[0-9a-f]+)?$"),
    **{kind: re.compile(r"^.+-[0-9a-f]{12}$") for kind in ("corpus", "splits", "kept", "audio")},
}
BUILTIN_DIR = "builtin"
# The runner's per-run logs (tempfile names: failures-XXXXXXXX.jsonl and .steps), removed by the
# run that made them unless it was killed.
_RUN_LOG = re.compile(r"^failures-[A-Za-z0-9_]+\.(jsonl|steps)$")
# What the runs keep beside the steps' outputs: the lock, the last failure of each step (for the
# runners of other hosts), the measured throughput (for --dry-run).
_RUN_STATE = {LOCK_FILE, base.FAILURES_DIR, THROUGHPUT_FILE}
# An older layout assembled bundles under work_dir/tasks/<bundle>/.
OLD_TASKS_DIR = "tasks"
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


@dataclass(frozen=True)
class Garbage:
    """A file or folder gc removes: its path, its size in bytes and why it is garbage."""

    path: Path
    size: int
    reason: str


@dataclass
class Survey:
    """What gc found in a work dir: the garbage, and what it keeps that looked like garbage or
    lies outside the known layout (path, why)."""

    garbage: list[Garbage] = field(default_factory=list)
    kept: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class CurrentNames:
    """The names, in each keyed folder, that a current identity names; builtin archives as paths
    relative to work_dir/builtin."""

    by_folder: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in _KEYED})
    builtin: set[str] = field(default_factory=set)


def current_configs(override_files: Sequence[Path] = ()) -> list[registry.TaskConfig]:
    """Every registered task in every mode, as recipes say and with each override file."""
    try:
        overrides = [registry.read_overrides(path) for path in override_files]
        configs = []
        for task in registry.list_tasks(include_extra=True):
            for mode in registry.list_modes(task):
                configs.append(registry.load_task_config(task, mode))
                for tables in overrides:
                    if task in tables:
                        configs.append(registry.load_task_config(task, mode, tables[task]))
    except registry.ConfigError as e:
        raise UserError(
            f"{e}. gc keeps what the current configs name, so it cannot run while one does not "
            "load: fix it (or the --config-overrides file) and run gc again",
            USAGE,
        ) from e
    return configs


def rate_subsets() -> list[list[int]]:
    """Every non-empty subset of the sample rates a run may be asked for."""
    rates = sorted(SAMPLE_RATES)
    return [list(c) for n in range(1, len(rates) + 1) for c in itertools.combinations(rates, n)]


def current_names(work_dir: Path, configs: Iterable[registry.TaskConfig]) -> CurrentNames:
    """What the steps of `configs` would write under `work_dir`, asked of the steps themselves
    (their output()), so gc follows any change of the layout or of an identity."""
    names = CurrentNames()
    wd = str(work_dir)
    subsets = rate_subsets()
    for cfg in configs:
        for source in cfg.sources:
            names.by_folder["sources"].add(Path(source_folder(source, wd).output().path).name)
            for remote in source.remotes:
                step = pipeline.DownloadedFile(
                    checksum=remote.checksum, filename=remote.filename, url=remote.url, work_dir=wd
                )
                names.by_folder["downloads"].add(Path(step.output().path).parent.name)
            if builtin.is_builtin(source.url):
                parts = urlsplit(source.url)
                names.builtin.add(f"{parts.netloc}/{parts.path.lstrip('/')}")
        corpus = base.config_view(cfg, base.CORPUS_FIELDS)
        names.by_folder["corpus"].add(_name(pipeline.CorpusMetadata(config=corpus, work_dir=wd)))
        view = base.config_view(cfg, base.SPLIT_FIELDS)
        names.by_folder["splits"].add(_name(pipeline.SplitMetadata(config=view, work_dir=wd)))
        names.by_folder["kept"].add(_name(pipeline.KeptAudio(config=view, work_dir=wd)))
        names.by_folder["audio"].update(_audio_names(view, subsets, wd))
    return names


def _audio_names(view: dict, subsets: list[list[int]], wd: str) -> set[str]:
    """The audio folders of one split view at every rate subset and resampler.

    Asking AudioShard itself 62 times per config costs seconds (a Luigi task each), so the key is
    computed as AudioShard.output() does, and checked against one real AudioShard: if the two
    ever disagree, gc stops rather than delete current audio."""
    cfg = base.view_config(view)
    names = {
        f"{cfg.task_name}-{base.layout_key(base.audio_identity(cfg, rates, resampler))}"
        for rates, resampler in itertools.product(subsets, RESAMPLE_METHODS)
    }
    shard = pipeline.AudioShard(
        config=view, sample_rates=subsets[-1], split="s", shard=0, work_dir=wd
    )
    # audio/<task>-<key>/<split>/shard-<NNNN>: the key folder is two levels up.
    real = Path(shard.output().path).parents[1].name
    if real not in names:
        raise RuntimeError(
            f"gc names audio folders unlike AudioShard.output() ({real} is not among them): "
            "update hearpreprocess/gc.py to the new layout before collecting garbage"
        )
    return names


def _name(step) -> str:
    return Path(step.output().path).name


def find_garbage(
    work_dir: Path, min_age_s: float, override_files: Sequence[Path] = ()
) -> list[Garbage]:
    """What gc --delete would remove from `work_dir` (see the module docstring for the rules)."""
    return survey(work_dir, min_age_s, override_files).garbage


def survey(work_dir: Path, min_age_s: float, override_files: Sequence[Path] = ()) -> Survey:
    """Sort every entry of the known layout of `work_dir` into garbage and kept."""
    work_dir = Path(work_dir)
    current = current_names(work_dir.resolve(), current_configs(override_files))
    found = Survey()
    judge = _Judge(found, time.time() - min_age_s)
    for entry in sorted(work_dir.iterdir()):
        name = entry.name
        if name == LOCK_FILE:
            continue
        if temporary_writer(entry) is not None:
            judge.temporary(entry)
        elif entry.is_symlink():
            # e.g. downloads/ linked to a folder that other work dirs share, whose configs
            # (their override files) gc cannot know.
            found.kept.append((entry, "a link to another folder, maybe shared: not cleaned"))
        elif name in _KEYED and entry.is_dir():
            _survey_keyed(entry, current.by_folder[name], judge)
        elif name == BUILTIN_DIR and entry.is_dir():
            _survey_builtin(entry, current.builtin, judge)
        elif _RUN_LOG.match(name) and entry.is_file():
            judge.candidate(entry, "the log of a run that was stopped before it could remove it")
        elif name == OLD_TASKS_DIR and entry.is_dir():
            _survey_old_bundles(entry, judge)
        elif name in _RUN_STATE:
            found.kept.append((entry, "the runs' own state, kept"))
        else:
            found.kept.append((entry, "unknown, kept"))
    return found


def _survey_keyed(folder: Path, current: set[str], judge: "_Judge") -> None:
    pattern = _KEYED[folder.name]
    for entry in sorted(folder.iterdir()):
        if temporary_writer(entry) is not None:
            judge.temporary(entry)
        elif entry.name in current:
            _survey_inside_current(entry, judge)
        elif pattern.match(entry.name):
            judge.candidate(entry, "superseded: no current task identity names it")
        else:
            judge.found.kept.append((entry, "unknown, kept"))


def _survey_inside_current(entry: Path, judge: "_Judge") -> None:
    """A current output stays; dead writers' temporaries beside its parts do not (a download's
    folder, a split of an audio folder: where atomic outputs are written)."""
    if not entry.is_dir() or entry.is_symlink():
        return
    places = [entry] + (
        [p for p in entry.iterdir() if p.is_dir()] if entry.parent.name == "audio" else []
    )
    for place in places:
        for child in sorted(place.iterdir()):
            if temporary_writer(child) is not None:
                judge.temporary(child)


def _survey_old_bundles(folder: Path, judge: "_Judge") -> None:
    """Bundles of the older layout go; a bundle this version built stays: its manifest records a
    build identity, so someone points --tasks-dir into the work dir."""
    for entry in sorted(folder.iterdir()):
        try:
            build = json.loads((entry / MANIFEST_FILE).read_text(encoding="utf-8")).get("build")
        except (OSError, ValueError, AttributeError):
            build = None
        if build:
            judge.found.kept.append((entry, "a bundle of this version (--tasks-dir in here?)"))
        else:
            judge.candidate(entry, "an older work-dir layout (bundles now live in --tasks-dir)")


def _survey_builtin(folder: Path, current: set[str], judge: "_Judge") -> None:
    """Generated archives under builtin/<host>/<path>: those no current config names go."""
    for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
        if temporary_writer(path) is not None:
            judge.temporary(path)
        elif path.relative_to(folder).as_posix() not in current:
            judge.candidate(path, "a built-in archive no current config names")


class _Judge:
    """Applies the rules that keep a candidate: too young, or holding a live temporary."""

    def __init__(self, found: Survey, young_after: float):
        self.found = found
        self.young_after = young_after

    def temporary(self, path: Path) -> None:
        pid, host, _ = temporary_writer(path) or (0, "", "")
        if host != socket.gethostname():
            self.found.kept.append((path, f"a temporary of host {host}: run gc there"))
        elif not writer_is_gone(pid, host):
            self.found.kept.append((path, f"a temporary of pid {pid}, which still runs"))
        else:
            self.candidate(path, f"a temporary of pid {pid}, which is gone")

    def candidate(self, path: Path, reason: str) -> None:
        size, newest, live = _measure(path)
        if live is not None:
            inside = live.relative_to(path)
            self.found.kept.append((path, f"holds {inside}, a temporary whose writer still runs"))
        elif newest > self.young_after:
            ago = max(0.0, time.time() - newest)
            self.found.kept.append((path, f"modified {_human_age(ago)} ago (under --min-age)"))
        else:
            self.found.garbage.append(Garbage(path, size, reason))


def _measure(path: Path) -> tuple[int, float, Path | None]:
    """(bytes, newest mtime, a temporary of a writer not known to be gone, or None) of a tree;
    hard links are counted once."""
    seen: set[tuple[int, int]] = set()
    size, newest, live = 0, 0.0, None
    tree = path.is_dir() and not path.is_symlink()
    below = (Path(r) / n for r, ds, fs in os.walk(path) for n in ds + fs) if tree else ()
    for entry in itertools.chain([path], below):
        try:
            st = entry.lstat()
        except FileNotFoundError:
            continue
        newest = max(newest, st.st_mtime)
        writer = temporary_writer(entry)
        if entry != path and writer is not None and not writer_is_gone(writer[0], writer[1]):
            live = live or entry
        if (st.st_dev, st.st_ino) not in seen and not entry.is_dir():
            seen.add((st.st_dev, st.st_ino))
            size += st.st_size
    return size, newest, live


def remove(item: Garbage) -> None:
    """Delete a garbage file or folder; a folder is renamed to a temporary of this process first,
    so that an interrupted removal never leaves a half-deleted folder under a step's name."""
    path = item.path
    if path.is_dir() and not path.is_symlink():
        trash = path if temporary_writer(path) is not None else temporary_sibling(path)
        try:
            os.replace(path, trash)
        except FileNotFoundError:
            return  # gone meanwhile
        shutil.rmtree(trash)
    else:
        path.unlink(missing_ok=True)


def parse_age(text: str) -> float:
    """Seconds from "90", "90s", "30m", "1h" or "2d"."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise UserError(f"--min-age {text!r} is not an age; write e.g. 90s, 30m, 1h or 2d", USAGE)
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]
    return float(match[1]) * factor


def _human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    power = min(len(_UNITS) - 1, int(math.log(n, 1024)))
    return f"{n / 1024**power:.1f} {_UNITS[power]}"


def _human_age(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def parse_args(argv: Sequence[str]):
    p = make_parser("hearpreprocess.runner gc", __doc__)
    p.add_argument(
        "--work-dir",
        default="_workdir",
        metavar="DIR",
        help="the work dir to clean (the runner's --work-dir)",
    )
    p.add_argument(
        "--delete",
        action="store_true",
        help="remove what is listed (default: a dry run that only lists it, with sizes)",
    )
    p.add_argument(
        "--min-age",
        default=DEFAULT_MIN_AGE,
        metavar="AGE",
        help="keep anything modified more recently than this (e.g. 90s, 30m, 1h, 2d): a run of "
        "another version, or on another host, may be writing it",
    )
    p.add_argument(
        "--config-overrides",
        action="append",
        metavar="FILE",
        help="an override file (as the runner takes) whose configs count as current too, so "
        "their folders are kept; repeat for several",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str], out=None) -> int:
    """The gc command (argv after the word `gc`); a user error raises UserError."""
    out = out or sys.stdout
    args = parse_args(argv)
    min_age = parse_age(args.min_age)
    work_dir = Path(args.work_dir)
    if not work_dir.is_dir():
        raise UserError(f"no work dir {work_dir}: nothing to clean; check --work-dir", NOT_FOUND)
    overrides = [Path(f) for f in args.config_overrides or []]
    for path in overrides:
        if not path.is_file():
            raise UserError(
                f"override file {path} does not exist; fix --config-overrides", NOT_FOUND
            )
    command = " ".join(["python -m hearpreprocess.runner gc", *argv])
    with hold_lock(work_dir, command):
        return collect(survey(work_dir, min_age, overrides), work_dir, args.delete, out)


def collect(found: Survey, work_dir: Path, delete: bool, out) -> int:
    """List the garbage (removing each item with `delete`), what was kept, and the total."""
    verb = "removed" if delete else "would remove"
    failed = []
    for item in found.garbage:
        shown = item.path.relative_to(work_dir)
        try:
            if delete:
                remove(item)
        except OSError as e:
            failed.append(f"could not remove {shown} ({e}): check its permissions and run again")
            continue
        print(f"{verb} {_human_size(item.size):>10}  {shown}  ({item.reason})", file=out)
    for path, why in found.kept:
        print(f"kept {path.relative_to(work_dir)}: {why}", file=out)
    total = _human_size(sum(item.size for item in found.garbage))
    print(f"total: {verb} {len(found.garbage) - len(failed)} item(s), {total}", file=out)
    if found.garbage and not delete:
        print("this was a dry run: run again with --delete to remove them", file=out)
    for line in failed:
        print(f"FAILED: {line}", file=out)
    return FAILED if failed else OK
