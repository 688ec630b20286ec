"""dcase2016_task2: DCASE 2016 Task 2, office sound event detection in synthetic mixtures.

The corpus: 2-minute mixtures of isolated office sounds (11 classes: clearthroat,
cough, doorslam, drawer, keyboard, keys, knock, laughter, pageturn, phone, speech) over background
noise, 44.1 kHz mono 16-bit, with onset/offset annotations.

Raw layout (archive key -> extracted folder):
    train/dev/dcase2016_task2_train_dev/
        README.txt
        dcase2016_task2_train/<class><NNN>.wav        isolated examples, not used by HEAR
        dcase2016_task2_dev/annotation/<mixture>.txt  18 mixtures, dev_1_ebr_<snr>_nec_<n>_poly_<p>
        dcase2016_task2_dev/sound/<mixture>.wav
    train/eval/dcase2016_task2_test_public/
        annotation/<mixture>.txt, sound/<mixture>.wav 54 mixtures

Quirks:
    * Annotations have no header: one event per line, `onset<TAB>offset<TAB>class`, in seconds;
      they become milliseconds here.
    * Dev and eval are pooled (split `train`) and re-split 60/20/20 by stem (72 -> 44/14/14).
    * The isolated training files call the keys class `keysDrop`; the mixtures say `keys`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ANNOTATION_DIRS = {
    "train/dev": "dcase2016_task2_train_dev/dcase2016_task2_dev/annotation",
    "train/eval": "dcase2016_task2_test_public/annotation",
}


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per annotated event of both archives, times in ms, all in split `train`."""
    frames = []
    for key, subdir in ANNOTATION_DIRS.items():
        folder = Path(sources[key]) / subdir
        annotations = sorted(folder.glob("*.txt"))
        if not annotations:
            raise FileNotFoundError(
                f"task {config.task_name}: no annotation *.txt in {folder}; the archive of "
                f"source {key!r} must contain them (re-extract it or check its md5)"
            )
        frames += [_read_annotation(path, config) for path in annotations]
    events = pd.concat(frames, ignore_index=True)
    events["split"] = "train"
    return events


def audio_path(annotation: Path) -> Path:
    """The mixture of an annotation: `.../annotation/<x>.txt` -> `.../sound/<x>.wav`."""
    return annotation.parent.parent / "sound" / f"{annotation.stem}.wav"


def _read_annotation(path: Path, config: TaskConfig) -> pd.DataFrame:
    def fail(why: str) -> ValueError:
        return ValueError(
            f"task {config.task_name}: annotation {path} does not parse ({why}); expected "
            "`onset<TAB>offset<TAB>class` lines in seconds"
        )

    try:
        table = pd.read_csv(path, sep="\t", header=None, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:  # EmptyDataError and ParserError included
        raise fail(str(e)) from e
    if table.shape[1] != 3:
        raise fail(f"{table.shape[1]} fields per line")
    start = pd.to_numeric(table[0].str.strip(), errors="coerce")
    end = pd.to_numeric(table[1].str.strip(), errors="coerce")
    if start.isna().any() or end.isna().any():
        raise fail("a time is not a number")
    if (end < start).any():
        raise fail("an offset precedes its onset")
    return pd.DataFrame(
        {
            "relpath": str(audio_path(path)),
            "label": table[2].str.strip(),
            "start": start * 1000.0,
            "end": end * 1000.0,
        }
    )
