"""mridangam: the Mridangam Stroke dataset v1.5, for mridangam_stroke and mridangam_tonic.

The corpus: 6,977 single strokes of the mridangam (the South Indian barrel drum) played by one
musician (freesound user akshaylaya) on drums tuned to six tonics, with ten named strokes; 44.1
kHz, 16-bit mono WAVs of 0.02-1.58 s. Both tasks read the same files: `[recipe_params] label`
picks the stroke (10 classes) or the tonic (6 classes) as the label.

Raw layout (archive key `train`, Zenodo record 4068196, mridangam_stroke_1.5.zip):
    mridangam_stroke_1.5/<TONIC>/_readme_and_license.txt       TONIC in B, C, C#, D, D#, E
    mridangam_stroke_1.5/<TONIC>/<freesoundid>__akshaylaya__<stroke>-<tonic>-<NNN>.wav

Quirks:
    * Labels come from the file name only: the text after its last `__`, split on `-`, gives
      the stroke (third piece from the end) and the tonic (second from the end). Pieces are
      counted from the end so that the ids before them never matter.
    * In file names the tonic is lower case with `#` spelt `sh` (`csh` for C#); those spellings
      are the tonic labels. The folder name is not read (nor checked against the file name).
    * No metadata file lists the clips: every WAV under the root is a clip, so the small archive
      (a subset of the WAVs, readmes kept) has no absent rows.
    * split = `train` for all; the pipeline makes 5 folds keyed by the stem (no grouping). The two
      tasks can get different folds, as the label-coverage retry depends on the labels.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "mridangam_stroke_1.5"
STROKES = frozenset(["bheem", "cha", "dheem", "dhin", "num", "ta", "tha", "tham", "thi", "thom"])
TONICS = frozenset(["b", "c", "csh", "d", "dsh", "e"])
# label name -> (position of the piece counted from the end, the closed set it must lie in)
LABELS = {"stroke": (-3, STROKES), "tonic": (-2, TONICS)}


def extract_metadata(
    sources: dict[str, Path], config: TaskConfig, label: str | None = None
) -> pd.DataFrame:
    """One row per WAV of the corpus, labelled with its stroke or its tonic.

    Args:
        sources: source key -> extracted folder; reads `train`.
        config: the task's config (for messages).
        label: "stroke" or "tonic" (the TOML's `[recipe_params] label`).

    Returns:
        Columns relpath (absolute), label and split (= "train", to be cut into folds).

    Raises:
        ValueError: unknown `label`, or a file name whose label piece is missing or not in the
            closed set of the corpus's strokes or tonics (LABELS).
        FileNotFoundError: the archive's root folder is missing or holds no WAV.
    """
    if label not in LABELS:
        raise ValueError(
            f"task {config.task_name}: [recipe_params] label = {label!r}; set it to one of "
            f"{sorted(LABELS)} in recipes/{config.task_name}.toml"
        )
    root = Path(sources["train"]) / ROOT
    if not root.is_dir():
        raise FileNotFoundError(
            f"task {config.task_name}: {root} is missing; the archive must hold it "
            "(re-extract the archive or check its md5)"
        )
    paths = sorted(root.rglob("*.wav"))
    if not paths:
        raise FileNotFoundError(
            f"task {config.task_name}: no .wav file under {root}; re-extract the archive"
        )
    return pd.DataFrame(
        {
            "relpath": [str(path) for path in paths],
            "label": [label_of(path.name, label, config) for path in paths],
            "split": "train",
        }
    )


def label_of(filename: str, label: str, config: TaskConfig) -> str:
    """The stroke or tonic named by a file name such as `224030__akshaylaya__bheem-b-001.wav`.

    Raises:
        ValueError: the name has too few `-` pieces or the piece is not a known stroke/tonic.
    """
    position, allowed = LABELS[label]
    pieces = Path(filename).stem.split("__")[-1].split("-")
    value = pieces[position] if len(pieces) >= -position else None
    if value not in allowed:
        raise ValueError(
            f"task {config.task_name}: cannot read the {label} of {filename!r}: expected "
            f"`<id>__<author>__<stroke>-<tonic>-<NNN>.wav` with {label} in {sorted(allowed)}, got "
            f"{value!r}; the archive is not the Mridangam Stroke dataset v1.5 (check its md5)"
        )
    return value
