"""tfds_crema_d: CREMA-D, 7,438 acted emotional sentences in six emotions.

The corpus: the Crowd-sourced Emotional Multimodal Actors Dataset, 91 actors (1001-1091) reading
12 sentences in anger, disgust, fear, happiness, neutral and sadness, 16 kHz mono 16-bit WAV (at
most 5 s). HEAR 2021 read it through TensorFlow Datasets (`crema_d` 1.0.0); full mode here fetches
the files that builder fetches, one by one from the corpus's GitHub LFS media, and applies the
builder's rules, without TFDS.

Raw layout (source key `train`, a `file_list` source: TFDS's manifest crema_d.txt lists every
file as `URL SIZE SHA256`; each lands flat in the folder under its URL's file name):
    summaryTable.csv            a header, then one line per clip, the name in the 2nd field
    <Actor>_<Sentence>_<Emotion>_<Level>.wav    e.g. 1001_DFA_ANG_XX.wav, 7,438 files

Quirks:
    * Names come from the second comma-separated field of each summaryTable.csv line, quotes
      stripped (TFDS's rule: a plain split, not a CSV parser). Empty names, the header
      `FileName` and four names whose audio is missing on GitHub are skipped.
    * label = the third `_` token, one of NEU HAP SAD ANG FEA DIS.
    * TFDS's speaker-disjoint 70/10/20 split is ignored, as in HEAR 2021: every file goes to
      "train" and is re-split into 5 folds with the stem as split key, so actors leak across folds.
    * stem = the original name (`1001_DFA_ANG_XX`), not HEAR's TFDS example id, so names and fold
      membership differ from HEAR 2021's (which follow TFDS's internal shuffle).
    * The small mode reads HEAR's three TFDS export zips with the shared `tfds_export` recipe.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

TABLE = "summaryTable.csv"
# TFDS ClassLabel order.
EMOTIONS = ("NEU", "HAP", "SAD", "ANG", "FEA", "DIS")
HEADER = "FileName"
# Listed in summaryTable.csv, but their WAVs are missing from the GitHub repository.
MISSING_ON_GITHUB = frozenset(
    ["1040_ITH_SAD_XX", "1006_TIE_NEU_XX", "1013_WSI_DIS_XX", "1017_IWW_FEA_XX"]
)


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per clip named in summaryTable.csv, labelled by its emotion, split "train"."""
    folder = Path(sources["train"])
    names = read_names(folder / TABLE, config)
    return pd.DataFrame(
        {
            "relpath": [str(folder / f"{name}.wav") for name in names],
            "label": [label_of(name, config) for name in names],
            "split": "train",
        }
    )


def read_names(path: Path, config: TaskConfig) -> list[str]:
    """The clip names of summaryTable.csv in file order, skipped names left out."""
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the crema_d.txt manifest must list "
            f"{TABLE} (check the manifest's sha256, or delete the folder and rerun)"
        )
    names: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.strip().split(",")
        if len(fields) < 2:
            raise ValueError(
                f"task {config.task_name}: {path} line {number} has no second field: {line!r}"
            )
        name = fields[1].replace('"', "")
        if not name or name == HEADER or name in MISSING_ON_GITHUB:
            continue
        names.append(name)
    duplicates = sorted(name for name, n in Counter(names).items() if n > 1)
    if duplicates:
        raise ValueError(f"task {config.task_name}: {path} lists {duplicates[0]!r} more than once")
    if not names:
        raise ValueError(f"task {config.task_name}: {path} names no clip")
    return names


def label_of(name: str, config: TaskConfig) -> str:
    """The emotion code of a CREMA-D name: `1001_DFA_ANG_XX` -> ANG."""
    tokens = name.split("_")
    if len(tokens) < 3 or tokens[2] not in EMOTIONS:
        raise ValueError(
            f"task {config.task_name}: clip name {name!r} in {TABLE} is not "
            f"<Actor>_<Sentence>_<Emotion>_<Level> with an emotion of {', '.join(EMOTIONS)}"
        )
    return tokens[2]
