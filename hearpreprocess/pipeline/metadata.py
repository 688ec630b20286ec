"""Steps that turn an extracted corpus into metadata rows, then into split and capped rows (and
the shard plan).

Both are view steps (base.ViewStep): their Luigi parameters are the config fields they read, not
the mode, rates or output folders, and their folders, work_dir/corpus/<task>-<id>/ and
work_dir/splits/<task>-<id>/, hold no mode. So speech_commands 5h and full, whose recipe reads the
same fields, share one CorpusMetadata, and split it twice (their caps differ).
"""

from __future__ import annotations

from pathlib import Path

import luigi
import pandas as pd

from hearcore.atomic import atomic_path
from hearpreprocess import splits
from hearpreprocess.pipeline.base import (
    CORPUS_FIELDS,
    PipelineError,
    ViewStep,
    config_view,
    corpus_identity,
    layout_key,
    read_rows,
    split_identity,
    write_rows,
)
from hearpreprocess.pipeline.download import SourceFolder, source_folder
from hearpreprocess.pipeline.shards import write_plan
from hearpreprocess.recipes import extract_metadata
from hearpreprocess.sourceview import listed_members

ROWS_FILE = "rows.csv"
# Rows dropped while preparing or splitting the metadata, with the reason (a work-dir file).
DROPPED_ROWS_FILE = "report.csv"


def source_folders(step: ViewStep) -> list[SourceFolder]:
    """One folder per source of the step's config, in config order."""
    settings = step.passed_on()
    work_dir = settings.pop("work_dir")
    return [source_folder(s, work_dir, **settings) for s in step.task_config.sources]


class CorpusMetadata(ViewStep):
    """work_dir/corpus/<task>-<id>/: rows.csv (the recipe's rows, checked and shuffled) and
    report.csv (rows dropped, with the reason). `config`: config_view(cfg, CORPUS_FIELDS)."""

    def requires(self) -> list[SourceFolder]:
        return source_folders(self)

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(self.folder("corpus", corpus_identity(self.task_config))))

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
                f"task {self.bundle_name}: could not read the corpus metadata "
                f"({type(e).__name__}: {e}). Source folders: {where}. The sources may not be the "
                f"version the recipe expects: check the checksums pinned in "
                f"recipes/{cfg.task_name}.toml, or delete these folders and their downloads under "
                f"{self.work_dir} and rerun."
            ) from e
        with atomic_path(self.output().path) as tmp:
            _write_rows_and_report(tmp, rows, [report])


class SplitMetadata(ViewStep):
    """work_dir/splits/<task>-<id>/: rows.csv (split, events cut, capped), report.csv (every row
    dropped or changed on the way, from the corpus step on, with the reason) and the shard plan
    (pipeline/shards.py). `config`: config_view(cfg, SPLIT_FIELDS)."""

    def requires(self) -> CorpusMetadata:
        corpus = config_view(self.task_config, CORPUS_FIELDS)
        return CorpusMetadata(config=corpus, **self.passed_on())

    def output(self) -> luigi.LocalTarget:
        key = layout_key(split_identity(self.task_config))
        return luigi.LocalTarget(str(self.folder("splits", key)))

    def run(self) -> None:
        cfg = self.task_config
        corpus = Path(self.input().path)
        rows = splits.create_splits(read_rows(corpus / ROWS_FILE), cfg)
        reports = [read_rows(corpus / DROPPED_ROWS_FILE)]
        if cfg.embedding_type == "event":
            rows, report = splits.trim_events(rows, cfg.sample_duration)
            reports.append(report)
        rows, report = splits.subsample(rows, cfg)
        reports.append(report)
        with atomic_path(self.output().path) as tmp:
            _write_rows_and_report(tmp, rows, reports)
            # Planned here, once per split, where the split is made (see shards.py).
            write_plan(tmp, rows, cfg.splits, cfg.sample_duration)


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


def _write_rows_and_report(tmp: Path, rows: pd.DataFrame, reports: list[pd.DataFrame]) -> None:
    """Make the folder `tmp` (an atomic_path) with ROWS_FILE and DROPPED_ROWS_FILE in it."""
    reports = [r for r in reports if len(r)]
    report = pd.concat(reports, ignore_index=True) if reports else pd.DataFrame()
    tmp.mkdir()
    write_rows(tmp / ROWS_FILE, rows)
    write_rows(tmp / DROPPED_ROWS_FILE, report)


def read_split_rows(folder: Path) -> pd.DataFrame:
    return read_rows(folder / ROWS_FILE)


def read_split_report(folder: Path) -> list[dict]:
    """What the metadata steps dropped or changed, without absolute paths (portable, stable).

    One record per row, except the rows small mode drops because the small archive lacks their
    audio: those are one record per split, listing the clips (a small archive of FSD50K lists
    150,000 such rows, which would make report.json 25 MB).
    """
    report = read_rows(folder / DROPPED_ROWS_FILE)
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
