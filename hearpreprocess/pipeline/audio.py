"""AudioShard: one contiguous shard of a split's clips, decoded once and written at every rate.

A split is cut into shards of about SHARD_SECONDS of audio (not a fixed number of clips), so that
Luigi workers, local or spread over machines by luigid, get balanced pieces of work. A worker
processes its shard in-process, clip after clip: memory does not grow with the corpus.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict
from pathlib import Path

import luigi
import pandas as pd

from hearpreprocess.atomic import atomic_path
from hearpreprocess.audio import AudioDecodeError, process_clip
from hearpreprocess.bundle import file_sha256, write_json
from hearpreprocess.pipeline.base import TaskStep, audio_identity
from hearpreprocess.pipeline.kept import KeptAudio, has_kept_audio, kept_path, kept_roots
from hearpreprocess.pipeline.metadata import SplitMetadata, read_split_rows

SHARD_SECONDS = 300.0
# Upper bound on clips per shard, for tasks of very short clips.
SHARD_MAX_CLIPS = 1000
# Bytes per second of 44.1 kHz stereo 16-bit: the cost estimate of a clip kept at its own length.
_BYTES_PER_SECOND = 176400.0
REPORT_FILE = "report.json"


def split_clips(rows: pd.DataFrame, split: str) -> pd.DataFrame:
    """One row per clip of `split` (labels dropped), sorted by stem."""
    clips = rows[rows["split"] == split].drop_duplicates("unique_filestem")
    return clips.sort_values("unique_filestem", kind="stable").reset_index(drop=True)


def plan_shards(clips: pd.DataFrame, sample_duration: float | None) -> list[tuple[int, int]]:
    """Cut the sorted clips into contiguous [start, stop) ranges of about SHARD_SECONDS each."""
    if sample_duration is not None:
        costs = [sample_duration] * len(clips)
    else:
        costs = [_estimated_seconds(p) for p in clips["relpath"]]
    shards, start, total = [], 0, 0.0
    for i, cost in enumerate(costs):
        total += cost
        if total >= SHARD_SECONDS or i + 1 - start >= SHARD_MAX_CLIPS:
            shards.append((start, i + 1))
            start, total = i + 1, 0.0
    if start < len(costs):
        shards.append((start, len(costs)))
    return shards


def _estimated_seconds(path: str) -> float:
    try:
        return os.path.getsize(path) / _BYTES_PER_SECOND
    except OSError:
        return 1.0


def _optional_int(value) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


class AudioShard(TaskStep):
    """work_dir/tasks/<bundle>/audio-<id>/<split>/shard-<NNNN>/: <sr>/<stem>.wav and report.json
    (per clip: native rate, channels, duration, trimmed/padded; undecodable clips with reason)."""

    split = luigi.Parameter()
    shard = luigi.IntParameter()

    def requires(self) -> list[luigi.Task]:
        steps: list[luigi.Task] = [self.clone(SplitMetadata)]
        if has_kept_audio(self):
            steps.append(self.clone(KeptAudio))
        return steps

    def output(self) -> luigi.LocalTarget:
        cfg = self.task_config
        folder = f"audio-{audio_identity(cfg, self.sample_rates, self.resampler)}"
        return luigi.LocalTarget(
            str(self.task_work_dir() / folder / self.split / f"shard-{self.shard:04d}")
        )

    def run(self) -> None:
        cfg = self.task_config
        clips = split_clips(read_split_rows(Path(self.input()[0].path)), self.split)
        roots = kept_roots(self)
        start, stop = plan_shards(clips, cfg.sample_duration)[self.shard]
        report: dict = {"clips": {}, "undecodable": {}}
        rates = sorted(int(r) for r in self.sample_rates)
        with atomic_path(self.output().path) as tmp:
            for sr in rates:
                (tmp / str(sr)).mkdir(parents=True)
            for clip in clips.iloc[start:stop].itertuples(index=False):
                stem = clip.unique_filestem
                dests = {sr: tmp / str(sr) / f"{stem}.wav" for sr in rates}
                try:
                    info = process_clip(
                        kept_path(clip.relpath, roots),
                        dests,
                        cfg.sample_duration,
                        method=self.resampler,
                        start=_optional_int(getattr(clip, "source_start", None)),
                        stop=_optional_int(getattr(clip, "source_stop", None)),
                    )
                except AudioDecodeError as e:
                    for dest in dests.values():
                        dest.unlink(missing_ok=True)
                    report["undecodable"][stem] = {
                        "file": self._portable(clip.relpath),
                        "reason": self._portable(str(e)),
                    }
                    continue
                report["clips"][stem] = _clip_record(info, dests)
            write_json(tmp / REPORT_FILE, report)

    def _portable(self, text: str) -> str:
        """Paths relative to the work dir, so reports are identical whatever the work dir."""
        return text.replace(str(Path(self.work_dir).resolve()), "<work_dir>").replace(
            str(self.work_dir), "<work_dir>"
        )


def _clip_record(info, dests: dict[int, Path]) -> dict:
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in asdict(info).items()}
    # Hashed here, while the file is hot and shards run in parallel, for the bundle's manifest.
    record["sha256"] = {str(sr): file_sha256(path) for sr, path in dests.items()}
    return record
