"""libricount: LibriCount10 0 dB, speaker counting on 5,720 mixtures.

The corpus: 5 s mixtures of 0 to 10 LibriSpeech speakers mixed at 0 dB, 520 per count; 16 kHz,
16-bit, mono. Each mixture has a JSON of its speakers (`sex`, `speaker_id`, `activity` sample
intervals), which HEAR does not use.

Raw layout (archive key `train`, Zenodo's LibriCount10-0dB.zip):
    test/<k>_<hexid>.wav, test/<k>_<hexid>.json     k = the maximum number of concurrent speakers
    __MACOSX/test/._<k>_<hexid>.wav, ._*.json ...    macOS AppleDouble resource forks

Quirks:
    * The search is rooted at `test/`, so the `__MACOSX/` tree (whose `._*.wav` are not audio) is
      never read; `._*` names are skipped as well, should one sit inside `test/`.
    * label = the file name before the first `_`, the strings "0".."10"; the bundle step turns
      such numeric labels into JSON numbers, sorted numerically (as HEAR 2021 did).
    * split = `train`, then 5 folds by file (seeds retried until every fold holds every count).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.common import wav_rows

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "test"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per mixture under test/, labelled with its speaker count."""
    return wav_rows(
        Path(sources["train"]) / ROOT,
        config,
        count_of,
        recursive=True,
        layout=f"{ROOT}/<k>_<id>.wav",
    )


def count_of(path: Path, config: TaskConfig) -> str:
    """The speaker count of `<k>_<hexid>.wav` as a string, e.g. "10" for 10_3f2a....wav.

    Args:
        path: the mixture's path (only its name is used).
        config: the task, named in the error.

    Raises:
        ValueError: the name does not start with a number followed by `_`.
    """
    head, sep, _ = path.name.partition("_")
    if not sep or not (head.isascii() and head.isdigit()):
        raise ValueError(
            f"task {config.task_name}: cannot read a speaker count from {path}; expected a name "
            "like <k>_<id>.wav with k = 0..10 (is this the right archive?)"
        )
    # str(int(...)) so that a zero-padded "01" would not become a second label for 1.
    return str(int(head))
