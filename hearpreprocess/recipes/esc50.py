"""esc50: ESC-50, 2,000 five-second environmental recordings in 50 classes.

The corpus: 40 clips per class from freesound.org, 5 s, 44.1 kHz mono, arranged by its authors in
five folds of 400 clips such that clips cut from the same source recording share a fold.

Raw layout (archive key `all_folds`, GitHub's master.zip):
    ESC-50-master/audio/<FOLD>-<CLIPID>-<TAKE>-<TARGET>.wav
    ESC-50-master/meta/esc50.csv   filename,fold,target,category,esc10,src_file,take
    ESC-50-master/meta/esc50-human.xlsx, README.md, LICENSE, requirements.txt, tests/

Quirks:
    * The official folds are kept (`presplit_kfold`): fold 1..5 becomes fold00..fold04.
    * label = `category` (a snake_case name such as `chirping_birds`), not the numeric `target`.
    * The small zip keeps meta/esc50.csv whole (2,000 rows) but holds only 20 clips; small mode
      drops the rows of absent clips.
    * master.zip is a moving branch archive, so its md5 is fragile (see esc50.toml).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearcore.format import fold_name
from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "ESC-50-master"
COLUMNS = ("filename", "fold", "category")


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per clip of meta/esc50.csv, in its official fold."""
    root = Path(sources["all_folds"]) / ROOT
    meta = _read_meta(root / "meta" / "esc50.csv", config)
    return pd.DataFrame(
        {
            "relpath": [str(root / "audio" / name) for name in meta["filename"]],
            "label": meta["category"].to_list(),
            "split": [fold_name(fold - 1) for fold in meta["fold"]],
        }
    )


def _read_meta(path: Path, config: TaskConfig) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the archive must contain it "
            "(re-extract the archive or check its md5)"
        )
    try:
        meta = pd.read_csv(path, dtype={"filename": str, "category": str})
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"task {config.task_name}: {path} does not parse: {e}") from e
    missing = [c for c in COLUMNS if c not in meta.columns]
    if missing:
        raise ValueError(f"task {config.task_name}: {path} lacks the columns {missing}")
    folds = pd.to_numeric(meta["fold"], errors="coerce")
    bad = ~folds.isin(range(1, (config.nfolds or 0) + 1))
    if bad.any():
        raise ValueError(
            f"task {config.task_name}: {path} has fold {meta['fold'][bad].iloc[0]!r} "
            f"(row {int(bad.idxmax()) + 2}); folds must be 1..{config.nfolds}"
        )
    return meta.assign(fold=folds.astype(int))
