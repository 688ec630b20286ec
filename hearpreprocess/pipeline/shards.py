"""The shard plan: which clips of each split each AudioShard writes, decided once, with the splits.

A split is cut into shards of about SHARD_SECONDS of audio (not a fixed number of clips), so that
Luigi workers, local or spread over machines by luigid, get balanced pieces of work. SplitMetadata
plans every split as it writes them and stores the plan in its folder, next to rows.csv:

    shards.json                         {"splits": {split: [{"clips": n, "seconds": s}, ...]}}
    shards/<split>/shard-<NNNN>.csv     the clips of one shard (stem, relpath, segment bounds)

TaskBundle reads the number of shards of each split from shards.json, and each AudioShard reads
its own CSV only: no shard reads the split's rows again, plans it again or looks at another
shard's files. A change of this layout or of the rule below bumps SHARD_LAYOUT_VERSION (base.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from hearcore.atomic import atomic_write_text
from hearpreprocess.pipeline.base import read_rows, write_rows

SHARD_SECONDS = 300.0
# Upper bound on clips per shard, for tasks of very short clips.
SHARD_MAX_CLIPS = 1000
# Bytes per second of 44.1 kHz stereo 16-bit: the cost estimate of a clip kept at its own length.
_BYTES_PER_SECOND = 176400.0
# The cost of a clip kept at its own length whose file is not on disk when the splits are made:
# a member of an `extract_first` archive, which KeptAudio extracts only after the splits. Its size
# is unknown then: the member list holds names only, and sizes from a tar would cost one more pass
# over a compressed archive of up to 22 GB (NSynth). Every `extract_first` task so far sets
# sample_duration, which is the cost then and needs no size. For a future one that does not, a
# wrong guess makes shards uneven (SHARD_MAX_CLIPS still bounds them), never wrong; 10 s lies
# between HEAR's sub-second clips and its 30-s excerpts.
UNEXTRACTED_CLIP_SECONDS = 10.0
PLAN_FILE = "shards.json"
SHARDS_DIR = "shards"
# What AudioShard needs of a clip; labels stay in rows.csv.
_CLIP_COLUMNS = ("unique_filestem", "relpath", "source_start", "source_stop")


def split_clips(rows: pd.DataFrame, split: str) -> pd.DataFrame:
    """One row per clip of `split` (labels dropped), sorted by stem."""
    clips = rows[rows["split"] == split].drop_duplicates("unique_filestem")
    clips = clips[[c for c in _CLIP_COLUMNS if c in clips.columns]]
    return clips.sort_values("unique_filestem", kind="stable").reset_index(drop=True)


def clip_seconds(clips: pd.DataFrame, sample_duration: float | None) -> list[float]:
    """The estimated audio seconds of each clip: sample_duration when set (every clip is trimmed or
    padded to it), else from the file's size (one stat per clip, once per split)."""
    if sample_duration is not None:
        return [float(sample_duration)] * len(clips)
    return [_estimated_seconds(p) for p in clips["relpath"]]


def _estimated_seconds(path: str) -> float:
    try:
        return os.path.getsize(path) / _BYTES_PER_SECOND
    except OSError:  # not extracted yet (see UNEXTRACTED_CLIP_SECONDS)
        return UNEXTRACTED_CLIP_SECONDS


def shard_bounds(seconds: list[float]) -> list[tuple[int, int]]:
    """Cut clips of these costs, in order, into contiguous [start, stop) ranges.

    Greedy: a shard ends at the first clip that brings it to SHARD_SECONDS or more, or at its
    SHARD_MAX_CLIPS-th clip. So every shard but the last holds at least SHARD_SECONDS (or exactly
    SHARD_MAX_CLIPS clips), and less than SHARD_SECONDS before its last clip; the last holds what
    is left.
    """
    shards, start, total = [], 0, 0.0
    for i, cost in enumerate(seconds):
        total += cost
        if total >= SHARD_SECONDS or i + 1 - start >= SHARD_MAX_CLIPS:
            shards.append((start, i + 1))
            start, total = i + 1, 0.0
    if start < len(seconds):
        shards.append((start, len(seconds)))
    return shards


def plan_shards(clips: pd.DataFrame, sample_duration: float | None) -> list[tuple[int, int]]:
    """The shards of a split's sorted clips (`split_clips`)."""
    return shard_bounds(clip_seconds(clips, sample_duration))


def write_plan(
    folder: Path, rows: pd.DataFrame, splits: list[str], sample_duration: float | None
) -> None:
    """Plan every split of `rows` and store the plan in `folder` (being built, not yet visible)."""
    plan: dict[str, list[dict]] = {}
    for split in splits:
        clips = split_clips(rows, split)
        seconds = clip_seconds(clips, sample_duration)
        plan[split] = []
        for i, (start, stop) in enumerate(shard_bounds(seconds)):
            path = shard_path(folder, split, i)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_rows(path, clips.iloc[start:stop])
            plan[split].append(
                {"clips": stop - start, "seconds": round(sum(seconds[start:stop]), 3)}
            )
    atomic_write_text(folder / PLAN_FILE, json.dumps({"splits": plan}, indent=1) + "\n")


def shard_path(folder: Path, split: str, shard: int) -> Path:
    """The CSV of one shard's clips in a split folder."""
    return Path(folder) / SHARDS_DIR / split / f"shard-{shard:04d}.csv"


def read_shard_counts(folder: Path) -> dict[str, int]:
    """{split: number of shards} from the plan in a split folder."""
    plan = json.loads((Path(folder) / PLAN_FILE).read_text(encoding="utf-8"))
    return {split: len(shards) for split, shards in plan["splits"].items()}


def read_shard(folder: Path, split: str, shard: int) -> pd.DataFrame:
    """The clips of one shard, in order."""
    return read_rows(shard_path(folder, split, shard))
