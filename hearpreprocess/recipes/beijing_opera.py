"""beijing_opera: Beijing Opera Percussion Instrument dataset, 236 strokes.

The corpus: single strokes of the four percussion instruments of the Jingju ensemble (bangu,
daluo, naobo, xiaoluo), recorded by the CompMusic project and published on freesound.org by user
ajaysm; 44.1 kHz mono, 0.07-8.94 s long.

Raw layout (archive key `train`, Zenodo's beijing_opera_percussion_instrument_1.0.zip):
    beijing_opera_percussion_instrument_1.0/<freesoundid>__ajaysm__<instrument>-<NN>.wav
        flat, e.g. 205972__ajaysm__daluo-01.wav

Quirks:
    * The WAVs mix 32-bit IEEE-float and 16-bit PCM (11 of the 20 clips of the small fixture are
      float); the audio step decodes both.
    * Only the WAVs directly in that folder are read (no recursive search), so nothing nested,
      such as a macOS `__MACOSX/` tree, is picked up; AppleDouble `._*` files are skipped too.
    * label = the second-to-last `-` piece of the text after the last `__` of the stem (HEAR's
      rule); split = `train`, then 5 folds by file, seeds retried until every fold holds all four
      instruments.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.common import wav_rows

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "beijing_opera_percussion_instrument_1.0"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per WAV directly in the corpus folder, labelled with its instrument."""
    return wav_rows(
        Path(sources["train"]) / ROOT,
        config,
        label_of,
        recursive=False,
        layout=f"{ROOT}/<id>__ajaysm__<instrument>-<NN>.wav",
    )


def label_of(path: Path, config: TaskConfig) -> str:
    """The instrument of `<id>__ajaysm__<instrument>-<NN>.wav`, e.g. `daluo` for daluo-01.

    Args:
        path: the clip's path (only its name is used).
        config: the task, named in the error.

    Raises:
        ValueError: the name has no `__` or its last `__` part has no `-`.
    """
    stem = path.stem
    pieces = stem.rsplit("__", 1)[-1].split("-")
    if "__" not in stem or len(pieces) < 2 or not pieces[-2]:
        raise ValueError(
            f"task {config.task_name}: cannot read an instrument from {path}; expected a name "
            "like <freesoundid>__ajaysm__<instrument>-<NN>.wav (is this the right archive?)"
        )
    return pieces[-2]
