"""Steps that turn an extracted corpus into metadata rows, then into split and capped rows."""

from __future__ import annotations

from pathlib import Path

import luigi
import pandas as pd

from hearpreprocess import splits
from hearpreprocess.atomic import atomic_path
from hearpreprocess.pipeline.base import (
    PipelineError,
    TaskStep,
    metadata_identity,
    read_rows,
    split_identity,
    write_rows,
)
from hearpreprocess.pipeline.download import SourceFolder, listed_members, source_folder
from hearpreprocess.recipes import extract_metadata

ROWS_FILE = "rows.csv"
REPORT_FILE = "report.csv"


def source_folders(step: TaskStep) -> list[SourceFolder]:
    """One folder per source of the step's config, in config order."""
    return [
        source_folder(
            s,
            step.work_dir,
            task_name=step.bundle_name,
            mirror=step.mirror,
            builtin_mirror=step.builtin_mirror,
        )
        for s in step.task_config.sources
    ]


class CorpusMetadata(TaskStep):
    """work_dir/tasks/<bundle>/corpus-<id>/: rows.csv (the recipe's rows, checked and shuffled)
    and report.csv (rows dropped, with the reason)."""

    def requires(self) -> list[SourceFolder]:
        return source_folders(self)

    def output(self) -> luigi.LocalTarget:
        name = f"corpus-{metadata_identity(self.task_config)}"
        return luigi.LocalTarget(str(self.task_work_dir() / name))

    def run(self) -> None:
        cfg = self.task_config
        folders = {s.key: Path(t.path) for s, t in zip(cfg.sources, self.input())}
        try:
            rows = extract_metadata(folders, cfg)
            exists = audio_exists(list(folders.values()))
            rows, report = splits.prepare_metadata(rows, cfg.is_small, exists)
        # Bad input shows up as these; anything else is a bug and keeps its own traceback.
        except (OSError, ValueError, KeyError) as e:
            where = ", ".join(f"{s.key} -> {folders[s.key]} (from {s.url})" for s in cfg.sources)
            raise PipelineError(
                f"task {cfg.bundle_name}: could not read the corpus metadata ({type(e).__name__}: "
                f"{e}). Source folders: {where}. The sources may not be the version the "
                f"recipe expects: check the checksums pinned in recipes/{cfg.task_name}.toml, or "
                f"delete these folders and their downloads under {self.work_dir} and rerun."
            ) from e
        _write_folder(Path(self.output().path), rows, [report])


class SplitMetadata(TaskStep):
    """work_dir/tasks/<bundle>/splits-<id>/: rows.csv (split, events cut, capped) and report.csv
    (every row dropped or changed on the way, from the corpus step on, with the reason)."""

    def requires(self) -> CorpusMetadata:
        return self.clone(CorpusMetadata)

    def output(self) -> luigi.LocalTarget:
        name = f"splits-{split_identity(self.task_config)}"
        return luigi.LocalTarget(str(self.task_work_dir() / name))

    def run(self) -> None:
        cfg = self.task_config
        corpus = Path(self.input().path)
        rows = splits.create_splits(read_rows(corpus / ROWS_FILE), cfg)
        reports = [read_rows(corpus / REPORT_FILE)]
        if cfg.embedding_type == "event":
            rows, report = splits.trim_events(rows, cfg.sample_duration)
            reports.append(report)
        rows, report = splits.subsample(rows, cfg)
        reports.append(report)
        _write_folder(Path(self.output().path), rows, reports)


def audio_exists(folders: list[Path]):
    """Whether a relpath's file exists on disk, or as a member of an archive that one of
    `folders` was only partly extracted from (its audio comes out after the splits)."""
    lazy = {}
    for folder in folders:
        members = listed_members(folder)
        if members is not None:
            lazy[str(folder)] = members

    def exists(path: str) -> bool:
        if Path(path).exists():
            return True
        for root, members in lazy.items():
            if path.startswith(root + "/") and path[len(root) + 1 :] in members:
                return True
        return False

    return exists


def _write_folder(path: Path, rows: pd.DataFrame, reports: list[pd.DataFrame]) -> None:
    reports = [r for r in reports if len(r)]
    report = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame()
    with atomic_path(path) as tmp:
        tmp.mkdir()
        write_rows(tmp / ROWS_FILE, rows)
        write_rows(tmp / REPORT_FILE, report)


def read_split_rows(folder: Path) -> pd.DataFrame:
    return read_rows(folder / ROWS_FILE)


def read_split_report(folder: Path) -> list[dict]:
    """What the metadata steps dropped or changed, without absolute paths (portable, stable).

    One record per row, except the rows small mode drops because the small archive lacks their
    audio: those are one record per split, listing the clips (a small archive of FSD50K lists
    150,000 such rows, which would make report.json 25 MB).
    """
    report = read_rows(folder / REPORT_FILE)
    keep = [c for c in ("unique_filestem", "split", "label", "start", "end", "action", "reason")]
    report = report[[c for c in keep if c in report.columns]]
    if not len(report):
        return []
    absent = report["reason"] == splits.MISSING_IN_SMALL
    records = [
        {k: v for k, v in record.items() if not (isinstance(v, float) and v != v)}
        for record in report[~absent].to_dict("records")
    ]
    for split, rows in report[absent].groupby("split", sort=True):
        clips = sorted(set(rows["unique_filestem"]))
        record = {"split": split, "action": "dropped", "reason": splits.MISSING_IN_SMALL}
        records.append({**record, "rows": len(rows), "clips": clips})
    return records
