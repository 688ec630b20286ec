"""vocal_imitation: VocalImitationSet v1.1.3, which sound a vocal imitation imitates.

The corpus: crowd-sourced (Amazon Mechanical Turk) vocal imitations of 302 reference recordings
from Freesound, one per sound class of Google's AudioSet ontology. Experts kept 5,601 final
imitations (`included`); drafts, practice takes and rejected imitations are `excluded`. The label
of a clip is the file name of the reference recording it imitates, so there are 302 classes.

Raw layout (archive key `train`, Zenodo record 1340763, VocalImitationSet_v1.1.3.zip):
    VocalImitationSet/vocal_imitations/included/*.wav    5,601 imitations (the clips)
    VocalImitationSet/vocal_imitations/excluded/*.wav    drafts, training takes, rejected ones
    VocalImitationSet/original_recordings/{reference,non_reference}/*.wav   (not used)
    VocalImitationSet/vocal_imitations.txt   tab-separated, an unnamed index column first, then
        imitation_id, imitation_filename, category_id, category_d1..d6, reference_filename,
        included (True/False), draft, training, participant_id, satisfaction, ...
    VocalImitationSet/{vocal_imitations_assessment.txt, original_recordings_classes.txt,
        original_recordings_license.csv, participant_survey.csv, duplicates.csv}   (not used)

Quirks:
    * File names hold spaces and commas spelt `_ `, e.g. `000Animal_Domestic animals_ pets_Cat_
      Growling_reference.wav`; they are used verbatim (labels and stems keep their spaces).
    * One row per `included` TSV row, joined by file name to included/. The join must be 1:1: a
      file name listed twice, or a WAV in included/ that no included row names, is an error. An
      included row whose WAV is absent still gets a row: the pipeline reports it (an error in
      full mode; dropped in small mode, whose zip keeps the TSV whole but few WAVs).
    * Native rates are mixed (44.1 and 48 kHz, and at least one 96 kHz WAVE_FORMAT_EXTENSIBLE
      file); the pipeline's conversion handles them all.
    * split = `train`; the pipeline makes 3 folds keyed by the stem. The participant is
      deliberately not the split key (as in HEAR 2021).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "VocalImitationSet"
TSV = "vocal_imitations.txt"
INCLUDED = Path("vocal_imitations") / "included"
COLUMNS = ("imitation_filename", "reference_filename", "included")
_BOOLEANS = {"true": True, "false": False}
_MAX_LISTED = 5


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per included imitation of vocal_imitations.txt, labelled by its reference.

    Args:
        sources: source key -> extracted folder; reads `train`.
        config: the task's config (for messages).

    Returns:
        Columns relpath (absolute, under vocal_imitations/included/), label (the reference
        recording's file name) and split (= "train", to be cut into folds).

    Raises:
        FileNotFoundError: the TSV or the included/ folder is missing.
        ValueError: the TSV does not parse, or the join of its included rows with the WAVs of
            included/ is not 1:1.
    """
    root = Path(sources["train"]) / ROOT
    meta = _read_tsv(root / TSV, config)
    folder = root / INCLUDED
    if not folder.is_dir():
        raise FileNotFoundError(
            f"task {config.task_name}: {folder} is missing; the archive must hold it "
            "(re-extract the archive or check its md5)"
        )
    wavs = _wavs_by_name(folder, config)
    rows = meta[meta["included"]]
    listed_twice = sorted(
        set(rows.loc[rows["imitation_filename"].duplicated(), "imitation_filename"])
    )
    if listed_twice:
        raise ValueError(
            f"task {config.task_name}: {root / TSV} lists these included imitations more than "
            f"once: {_listing(listed_twice)}; each must have exactly one row"
        )
    orphans = sorted(set(wavs) - set(rows["imitation_filename"]))
    if orphans:
        raise ValueError(
            f"task {config.task_name}: {len(orphans)} WAVs in {folder} have no included row in "
            f"{root / TSV}: {_listing(orphans)}; the archive and its metadata do not match "
            "(re-extract the archive or check its md5)"
        )
    return pd.DataFrame(
        {
            "relpath": [str(wavs.get(name, folder / name)) for name in rows["imitation_filename"]],
            "label": rows["reference_filename"].to_list(),
            "split": "train",
        }
    )


def _read_tsv(path: Path, config: TaskConfig) -> pd.DataFrame:
    """The TSV as strings (names kept verbatim), with `included` parsed to bool."""
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the archive must contain it "
            "(re-extract the archive or check its md5)"
        )
    try:
        meta = pd.read_csv(path, sep="\t", index_col=0, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"task {config.task_name}: {path} does not parse: {e}") from e
    missing = [c for c in COLUMNS if c not in meta.columns]
    if missing:
        raise ValueError(f"task {config.task_name}: {path} lacks the columns {missing}")
    meta = meta.reset_index(drop=True)
    included = meta["included"].str.strip().str.lower().map(_BOOLEANS)
    if included.isna().any():
        at = int(included.isna().idxmax())
        raise ValueError(
            f"task {config.task_name}: {path} line {at + 2}: included = "
            f"{meta['included'][at]!r}, expected True or False"
        )
    meta["included"] = included.astype(bool)
    unnamed = meta["included"] & meta[["imitation_filename", "reference_filename"]].eq("").any(
        axis=1
    )
    if unnamed.any():
        raise ValueError(
            f"task {config.task_name}: {path} line {int(unnamed.idxmax()) + 2}: an included row "
            "needs both imitation_filename and reference_filename"
        )
    return meta


def _wavs_by_name(folder: Path, config: TaskConfig) -> dict[str, Path]:
    """File name -> path of every WAV under `folder`; names must be unique (the join key)."""
    wavs: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.wav")):
        if path.name in wavs:
            raise ValueError(
                f"task {config.task_name}: {path.name!r} is in {folder} twice ({wavs[path.name]} "
                f"and {path}); file names must be unique to join them to {TSV}"
            )
        wavs[path.name] = path
    return wavs


def _listing(names: list[str]) -> str:
    more = f" ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return ", ".join(repr(n) for n in names[:_MAX_LISTED]) + more
