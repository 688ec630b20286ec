"""TaskBundle: the HEAR 2021 bundle tasks_dir/<bundle>/, assembled from the audio shards.

The bundle path is fixed by the format, so its identity cannot live in the path: it lives in
manifest.json, which is written last. The target exists only when the manifest records the same
identity, so a config edit rebuilds the bundle in place (built in a temporary sibling, then swapped
in with a rename; the old bundle stays whole until then).
"""

from __future__ import annotations

import json
from pathlib import Path

import luigi
import pandas as pd

from hearcore.atomic import atomic_path, link_or_copy
from hearcore.bundle import split_jsons, write_json
from hearcore.format import (
    MANIFEST_FILE,
    METADATA_FILE,
    REPORT_FILE,
    VOCABULARY_FILE,
    audio_relpath,
    split_file,
)
from hearcore.manifest import write_manifest
from hearcore.vocabulary import write_label_vocabulary
from hearpreprocess.pipeline.audio import SHARD_REPORT_FILE, AudioShard
from hearpreprocess.pipeline.base import SPLIT_FIELDS, TaskStep, bundle_identity, config_view
from hearpreprocess.pipeline.metadata import SplitMetadata, read_split_report, read_split_rows
from hearpreprocess.pipeline.shards import read_shard_counts


class BundleTarget(luigi.LocalTarget):
    """A bundle folder that exists only if its manifest records `identity`."""

    def __init__(self, path: str, identity: str, sample_rates: list[int]):
        super().__init__(path)
        self.identity = identity
        self.sample_rates = sample_rates

    def exists(self) -> bool:
        try:
            manifest = json.loads((Path(self.path) / MANIFEST_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        build = manifest.get("build", {})
        return build.get("identity") == self.identity and build.get("sample_rates") == list(
            self.sample_rates
        )


class TaskBundle(TaskStep):
    """tasks_dir/<bundle>/: task_metadata.json, labelvocabulary.csv, <split>.json,
    <sr>/<split>/<stem>.wav, report.json, manifest.json.

    Keyed by the whole config, the rates, the resampler and tasks_dir (where it writes).
    """

    tasks_dir = luigi.Parameter()
    # Whether the shards write the tarballs' gzip members too (AudioShard.tar_members).
    tar_members = luigi.BoolParameter(default=True, significant=False)

    def requires(self) -> SplitMetadata:
        # Not the shards: Luigi asks again just before run() (check_unfulfilled_deps), when the
        # splits, and so the shards, exist; run() yields them instead.
        return self.split_step()

    def split_step(self) -> SplitMetadata:
        return SplitMetadata(config=self.split_view(), **self.work_settings())

    def split_view(self) -> dict:
        return config_view(self.task_config, SPLIT_FIELDS)

    def output(self) -> BundleTarget:
        identity = bundle_identity(self.task_config, self.sample_rates, self.resampler)
        rates = sorted(int(r) for r in self.sample_rates)
        return BundleTarget(str(Path(self.tasks_dir) / self.bundle_name), identity, rates)

    def audio_shard(self, split: str, shard: int) -> AudioShard:
        return AudioShard(
            config=self.split_view(),
            sample_rates=self.sample_rates,
            resampler=self.resampler,
            split=split,
            shard=shard,
            tar_members=self.tar_members,
            **self.work_settings(),
        )

    def audio_shards(self) -> dict[str, list[AudioShard]]:
        """The shards of every split, as many as the split step planned (it must have run)."""
        counts = read_shard_counts(Path(self.split_step().output().path))
        return {
            split: [self.audio_shard(split, i) for i in range(counts.get(split, 0))]
            for split in self.task_config.splits
        }

    def run(self):
        cfg = self.task_config
        split_dir = Path(self.split_step().output().path)
        rows = read_split_rows(split_dir)
        shards = self.audio_shards()
        # Dynamic dependencies: the number of shards is known only once the splits exist.
        yield [s for split in cfg.splits for s in shards[split]]
        target = self.output()
        with atomic_path(target.path) as tmp:
            tmp.mkdir()
            report, audio_sha256 = self._write_audio(tmp, shards)
            report["metadata"] = read_split_report(split_dir)
            kept = rows[~rows["unique_filestem"].isin(report["undecodable"])]
            self._write_labels(tmp, kept)
            write_json(tmp / REPORT_FILE, report)
            write_manifest(tmp, audio_sha256)
            self._record_identity(tmp / MANIFEST_FILE, target)

    def _write_audio(self, tmp: Path, shards: dict) -> tuple[dict, dict]:
        """Link every clip into place; return the report and the shards' sha256 per file."""
        report: dict = {"counts": {}, "trimmed": [], "padded": [], "undecodable": {}}
        audio_sha256 = {}
        rates = sorted(int(r) for r in self.sample_rates)
        for split, split_shards in shards.items():
            n_clips = 0
            for shard in split_shards:
                folder = Path(shard.output().path)
                shard_report = json.loads((folder / SHARD_REPORT_FILE).read_text(encoding="utf-8"))
                for stem, info in shard_report["clips"].items():
                    n_clips += 1
                    if info["action"] in ("trimmed", "padded"):
                        report[info["action"]].append(stem)
                    for sr in rates:
                        name = f"{stem}.wav"
                        relpath = audio_relpath(sr, split, name)
                        link_or_copy(folder / str(sr) / name, tmp / relpath)
                        audio_sha256[relpath] = info["sha256"][str(sr)]
                report["undecodable"].update(shard_report["undecodable"])
            report["counts"][split] = n_clips
        report["trimmed"].sort()
        report["padded"].sort()
        return report, audio_sha256

    def _write_labels(self, tmp: Path, rows: pd.DataFrame) -> None:
        cfg = self.task_config
        by_split = split_jsons(rows, cfg.embedding_type)
        for split in cfg.splits:
            write_json(tmp / split_file(split), by_split.get(split, {}))
        write_label_vocabulary(tmp / VOCABULARY_FILE, rows)
        meta = cfg.task_metadata()
        meta["resampler"] = self.resampler
        write_json(tmp / METADATA_FILE, meta)

    def _record_identity(self, manifest_path: Path, target: BundleTarget) -> None:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["build"] = {"identity": target.identity, "sample_rates": target.sample_rates}
        write_json(manifest_path, manifest)
