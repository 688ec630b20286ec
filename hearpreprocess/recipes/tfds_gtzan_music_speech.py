"""tfds_gtzan_music_speech: GTZAN music/speech, 128 30 s excerpts, 64 each.

The corpus: G. Tzanetakis's music/speech discrimination collection, 22,050 Hz mono 16-bit WAV,
30 s each. HEAR 2021 read it through TensorFlow Datasets (`gtzan_music_speech` 1.0.0); full mode
here reads the archive that builder downloads, applying the builder's rules, without TFDS.

Raw layout (source key `train`, music_speech.tar.gz, sha256 pinned in the TOML):
    music_speech/music_wav/<name>.wav       64 music excerpts
    music_speech/speech_wav/<name>.wav      64 speech excerpts
    music_speech/*.mf                       Marsyas collection lists (ignored)

Quirks:
    * TFDS walks music_speech/ and keeps a file only if its path matches, from the start,
      `...(speech|music)_<anything>/<word characters or dashes>.wav` (not anchored at the end);
      the label is the captured `speech` or `music`, the last such prefix in the path. Other files
      are skipped, as TFDS does. Since the folder itself is named `music_...`, a file anywhere in
      it outside a `speech_*` folder counts as music; the real archive has no such file.
    * The TFDS description says 120 examples; the archive and HEAR's bundle have 128.
    * stem = the file stem, not HEAR's TFDS example id, so names and fold membership differ from
      HEAR 2021's (which follow TFDS's internal shuffle); the split key is the stem, as in HEAR.
    * The small mode reads HEAR's TFDS export zip with the shared `tfds_export` recipe.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "music_speech"
# TFDS's rule, matched from the start of the path inside the source folder (`music_speech/...`).
# The greedy `.*` makes the capture the last `music_`/`speech_` that a `/<name>.wav` follows.
PATH_RULE = re.compile(r".*(speech|music)_.*/[\w-]*\.wav")


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per file that TFDS's path rule keeps, labelled music or speech, split "train"."""
    folder = Path(sources["train"])
    root = folder / ROOT
    if not root.is_dir():
        raise FileNotFoundError(
            f"task {config.task_name}: {root} is missing; music_speech.tar.gz must unpack to "
            "music_speech/{music,speech}_wav/<name>.wav (re-extract it or check its sha256)"
        )
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        label = label_of(path.relative_to(folder).as_posix())
        if label is not None:
            rows.append({"relpath": str(path), "label": label, "split": "train"})
    if not rows:
        raise ValueError(
            f"task {config.task_name}: no file under {root} matches "
            "music_speech/{music,speech}_wav/<name>.wav; is this music_speech.tar.gz?"
        )
    return pd.DataFrame(rows)


def label_of(relpath: str) -> str | None:
    """`music` or `speech` for a path TFDS keeps (`music_speech/...`, with `/`), else None."""
    match = PATH_RULE.match(relpath)
    return match.group(1) if match else None
