"""tfds_gtzan: the GTZAN genre collection, 1,000 30 s music excerpts in 10 genres.

The corpus: 100 excerpts per genre (blues, classical, country, disco, hiphop, jazz, metal, pop,
reggae, rock) collected by G. Tzanetakis around 2000 from CDs, radio and microphone recordings,
22,050 Hz mono 16-bit WAV. HEAR 2021 read it through TensorFlow Datasets (`gtzan` 1.0.0); full
mode here reads the archive that builder downloads, applying the builder's rules, without TFDS.

Raw layout (source key `train`, genres.tar.gz, sha256 pinned in the TOML):
    genres/<genre>/<genre>.<NNNNN>.wav      e.g. genres/blues/blues.00000.wav, 100 per genre
    genres/*.mf                             Marsyas collection lists (ignored)

Quirks:
    * label = the file-name prefix before the first `.` (TFDS's rule), checked against the 10
      genres; the TFDS builder walks `genres/` recursively and keeps only `*.wav`, as here.
    * stem = the file stem (`blues.00000`), not HEAR's TFDS example id, so names and fold
      membership differ from HEAR 2021's (which follow TFDS's internal shuffle); the split key is
      the stem as in HEAR, i.e. no artist grouping (GTZAN repeats artists and even excerpts).
    * Excerpt lengths are said to vary a little around 30 s (unverified); the pipeline pads or
      trims every clip to exactly 30 s.
    * The small mode reads HEAR's TFDS export zip with the shared `tfds_export` recipe.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.common import wav_rows

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "genres"
# TFDS ClassLabel order.
GENRES = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per `*.wav` under genres/, labelled by its file-name prefix, split "train"."""
    return wav_rows(
        Path(sources["train"]) / ROOT,
        config,
        label_of,
        recursive=True,
        layout="genres/<genre>/<genre>.<NNNNN>.wav",
    )


def label_of(path: Path, config: TaskConfig) -> str:
    """The genre of a GTZAN file: its name up to the first `.` (`blues.00000.wav` -> blues)."""
    label = path.name.split(".")[0]
    if label not in GENRES:
        raise ValueError(
            f"task {config.task_name}: {path} is not named <genre>.<NNNNN>.wav with a genre of "
            f"{', '.join(GENRES)}; is this the GTZAN genres.tar.gz?"
        )
    return label
