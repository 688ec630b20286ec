"""AudioShard: one contiguous shard of a split's clips, decoded once and written at every rate.

Which clips a shard holds was decided with the splits (pipeline/shards.py): a shard reads its own
list of clips and their files, nothing else. A worker processes its shard in-process, clip after
clip: memory does not grow with the corpus.

For the tarballs, a shard also compresses each WAV it writes as its own gzip member
(hearcore.tarball.compress_file_data) into `tar-<sr>.members`, recorded per clip in its report:
compression then runs in every worker in parallel, while the file is hot, and the tarball step
only copies the members (`tar_members`).
"""

from __future__ import annotations

import hashlib
import json
import math
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import BinaryIO, Mapping

import luigi

from hearcore.atomic import atomic_path
from hearcore.bundle import write_json
from hearcore.format import audio_relpath
from hearcore.tarball import Member, compress_file_data
from hearpreprocess.audio import AudioDecodeError, process_clip
from hearpreprocess.pipeline.base import ViewStep, audio_identity, layout_key
from hearpreprocess.pipeline.kept import KeptAudio, has_kept_audio, kept_path, kept_roots
from hearpreprocess.pipeline.metadata import SplitMetadata
from hearpreprocess.pipeline.shards import read_shard

# What one shard did with each clip (a work-dir file, not the bundle's report.json).
SHARD_REPORT_FILE = "report.json"


def _optional_int(value) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


class AudioShard(ViewStep):
    """work_dir/audio/<task>-<id>/<split>/shard-<NNNN>/: <sr>/<stem>.wav and report.json (per
    clip: native rate, channels, duration, trimmed/padded; undecodable clips with reason).

    `config`: config_view(cfg, SPLIT_FIELDS); with the rates and resampler, all that shapes it.
    """

    sample_rates = luigi.ListParameter()
    resampler = luigi.Parameter(default="soxr")
    split = luigi.Parameter()
    shard = luigi.IntParameter()
    # Whether to write the tarballs' gzip members too; it never changes the audio, and a tarball
    # of a shard without them compresses its files itself.
    tar_members = luigi.BoolParameter(default=True, significant=False)

    def requires(self) -> list[luigi.Task]:
        steps: list[luigi.Task] = [SplitMetadata(config=self.config, **self.passed_on())]
        if has_kept_audio(self):
            steps.append(KeptAudio(config=self.config, **self.passed_on()))
        return steps

    def output(self) -> luigi.LocalTarget:
        identity = audio_identity(self.task_config, self.sample_rates, self.resampler)
        folder = self.folder("audio", layout_key(identity))
        return luigi.LocalTarget(str(folder / self.split / f"shard-{self.shard:04d}"))

    def run(self) -> None:
        cfg = self.task_config
        clips = read_shard(Path(self.input()[0].path), self.split, self.shard)
        roots = kept_roots(self)
        report: dict = {"clips": {}, "undecodable": {}}
        rates = sorted(int(r) for r in self.sample_rates)
        with atomic_path(self.output().path) as tmp, ExitStack() as files:
            for sr in rates:
                (tmp / str(sr)).mkdir(parents=True)
            members = {
                sr: files.enter_context(open(tmp / members_file(sr), "wb"))
                for sr in (rates if self.tar_members else [])
            }
            for clip in clips.itertuples(index=False):
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
                report["clips"][stem] = _clip_record(info, dests, members)
            write_json(tmp / SHARD_REPORT_FILE, report)

    def _portable(self, text: str) -> str:
        """Paths relative to the work dir, so reports are identical whatever the work dir."""
        return text.replace(str(Path(self.work_dir).resolve()), "<work_dir>").replace(
            str(self.work_dir), "<work_dir>"
        )


def members_file(sample_rate: int) -> str:
    """A shard's file of the gzip members of its WAVs at one rate."""
    return f"tar-{sample_rate}.members"


def _clip_record(info, dests: dict[int, Path], members: Mapping[int, BinaryIO]) -> dict:
    """The clip's report entry. Its files are hashed here for the bundle's manifest (and
    compressed for the tarballs), while they are hot and shards run in parallel."""
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in asdict(info).items()}
    record["sha256"], record["tar"] = {}, {}
    for sr, path in dests.items():
        data = path.read_bytes()
        record["sha256"][str(sr)] = hashlib.sha256(data).hexdigest()
        if sr in members:
            member = compress_file_data(data)
            record["tar"][str(sr)] = [members[sr].tell(), len(member), len(data)]
            members[sr].write(member)
    return record


def shard_members(folder: Path, split: str, sample_rate: int) -> dict[str, Member]:
    """The gzip members a shard wrote at `sample_rate`, by the files' paths in the bundle, if
    they are still there (the tarball step removes them once they are in its tarball)."""
    if not (folder / members_file(sample_rate)).exists():  # used by a tarball and removed
        return {}
    report = json.loads((folder / SHARD_REPORT_FILE).read_text(encoding="utf-8"))
    found = {}
    for stem, info in report["clips"].items():
        where = info.get("tar", {}).get(str(sample_rate))
        if where:
            offset, length, size = where
            relpath = audio_relpath(sample_rate, split, f"{stem}.wav")
            found[relpath] = Member(folder / members_file(sample_rate), offset, length, size)
    return found
