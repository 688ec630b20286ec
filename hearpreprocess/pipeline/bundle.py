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

from hearpreprocess import bundle
from hearpreprocess.atomic import atomic_path, link_or_copy
from hearpreprocess.pipeline.audio import REPORT_FILE, AudioShard, plan_shards, split_clips
from hearpreprocess.pipeline.base import TaskStep, bundle_identity
from hearpreprocess.pipeline.metadata import SplitMetadata, read_split_report, read_split_rows

MANIFEST = "manifest.json"


class BundleTarget(luigi.LocalTarget):
    """A bundle folder that exists only if its manifest records `identity`."""

    def __init__(self, path: str, identity: str, sample_rates: list[int]):
        super().__init__(path)
        self.identity = identity
        self.sample_rates = sample_rates

    def exists(self) -> bool:
        try:
            manifest = json.loads((Path(self.path) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        build = manifest.get("build", {})
        return build.get("identity") == self.identity and build.get("sample_rates") == list(
            self.sample_rates
        )


class TaskBundle(TaskStep):
    """tasks_dir/<bundle>/: task_metadata.json, labelvocabulary.csv, <split>.json,
    <sr>/<split>/<stem>.wav, report.json, manifest.json."""

    def requires(self) -> SplitMetadata:
        return self.clone(SplitMetadata)

    def output(self) -> BundleTarget:
        identity = bundle_identity(self.task_config, self.sample_rates, self.resampler)
        rates = sorted(int(r) for r in self.sample_rates)
        return BundleTarget(str(Path(self.tasks_dir) / self.bundle_name), identity, rates)

    def run(self):
        cfg = self.task_config
        split_dir = Path(self.input().path)
        rows = read_split_rows(split_dir)
        shards = {
            split: [
                self.clone(AudioShard, split=split, shard=i)
                for i in range(len(plan_shards(split_clips(rows, split), cfg.sample_duration)))
            ]
            for split in cfg.splits
        }
        # Dynamic dependencies: the number of shards is known only once the splits exist.
        yield [s for split in cfg.splits for s in shards[split]]
        target = self.output()
        with atomic_path(target.path) as tmp:
            tmp.mkdir()
            report, audio_sha256 = self._write_audio(tmp, rows, shards)
            report["metadata"] = read_split_report(split_dir)
            kept = rows[~rows["unique_filestem"].isin(report["undecodable"])]
            self._write_labels(tmp, kept)
            bundle.write_json(tmp / "report.json", report)
            bundle.write_manifest(tmp, audio_sha256)
            self._record_identity(tmp / MANIFEST, target)

    def _write_audio(self, tmp: Path, rows: pd.DataFrame, shards: dict) -> tuple[dict, dict]:
        """Link every clip into place; return the report and the shards' sha256 per file."""
        report: dict = {"counts": {}, "trimmed": [], "padded": [], "undecodable": {}}
        audio_sha256 = {}
        rates = sorted(int(r) for r in self.sample_rates)
        for split, split_shards in shards.items():
            n_clips = 0
            for shard in split_shards:
                folder = Path(shard.output().path)
                shard_report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
                for stem, info in shard_report["clips"].items():
                    n_clips += 1
                    if info["action"] in ("trimmed", "padded"):
                        report[info["action"]].append(stem)
                    for sr in rates:
                        name = f"{stem}.wav"
                        link_or_copy(folder / str(sr) / name, tmp / str(sr) / split / name)
                        audio_sha256[f"{sr}/{split}/{name}"] = info["sha256"][str(sr)]
                report["undecodable"].update(shard_report["undecodable"])
            report["counts"][split] = n_clips
        report["trimmed"].sort()
        report["padded"].sort()
        return report, audio_sha256

    def _write_labels(self, tmp: Path, rows: pd.DataFrame) -> None:
        cfg = self.task_config
        by_split = bundle.split_jsons(rows, cfg.embedding_type)
        for split in cfg.splits:
            bundle.write_json(tmp / f"{split}.json", by_split.get(split, {}))
        bundle.write_label_vocabulary(tmp / "labelvocabulary.csv", rows)
        meta = cfg.task_metadata()
        meta["resampler"] = self.resampler
        bundle.write_json(tmp / "task_metadata.json", meta)

    def _record_identity(self, manifest_path: Path, target: BundleTarget) -> None:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["build"] = {"identity": target.identity, "sample_rates": target.sample_rates}
        bundle.write_json(manifest_path, manifest)
