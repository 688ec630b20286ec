"""spoken_digit: the Free Spoken Digit Dataset v1.0.9, 2,500 recordings of the digits 0-9
(an open extra task, not one of the 19 HEAR 2021 evaluation tasks).

The corpus: English digits, 50 takes of each digit per speaker (five speakers in this release,
inferred from the count; unverified), trimmed to near-minimal silence, 8 kHz mono 16-bit WAV
(mean 0.41 s, max 2.28 s). HEAR 2021 read it through
TensorFlow Datasets (`spoken_digit` 1.0.9); full mode here reads the GitHub release tarball that
builder downloads, applying the builder's rules, without TFDS.

Raw layout (source key `train`, v1.0.9.tar.gz, sha256 pinned in the TOML):
    free-spoken-digit-dataset-1.0.9/recordings/<digit>_<speaker>_<take>.wav   e.g. 0_jackson_0.wav
    free-spoken-digit-dataset-1.0.9/{README.md, acquire_data/, utils/, ...}   (ignored)

Quirks:
    * label = the first `_` token of the file name, a digit kept as the string "0".."9" here;
      the bundle writes it as a JSON number ([8]), as HEAR 2021 did.
    * stem = the file stem (`0_jackson_0`), not HEAR's TFDS example id, so names and fold
      membership differ from HEAR 2021's (which follow TFDS's internal shuffle). The split key
      is the stem, as in HEAR: no speaker grouping, so every speaker is in every fold.
    * The small mode reads HEAR's TFDS export zip with the shared `tfds_export` recipe.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.common import wav_rows

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

RECORDINGS = "free-spoken-digit-dataset-1.0.9/recordings"
DIGITS = tuple(str(d) for d in range(10))


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per recordings/*.wav, labelled by its digit, split "train"."""
    return wav_rows(
        Path(sources["train"]) / RECORDINGS,
        config,
        label_of,
        recursive=True,  # as TFDS, which walks recordings/ recursively
        layout=f"{RECORDINGS}/<digit>_<speaker>_<take>.wav",
    )


def label_of(path: Path, config: TaskConfig) -> str:
    """The digit of an FSDD file, as a string: `7_theo_12.wav` -> "7" (TFDS: the name up to the
    first `.`, then its first `_` token)."""
    label = path.name.split(".")[0].split("_")[0]
    if label not in DIGITS:
        raise ValueError(
            f"task {config.task_name}: {path} is not named <digit>_<speaker>_<take>.wav with a "
            "digit 0-9; is this the FSDD v1.0.9 tarball?"
        )
    return label
