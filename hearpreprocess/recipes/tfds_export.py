"""tfds_export: HEAR 2021's small-mode zips of the TFDS-backed tasks.

Shared by the small modes of tfds_gtzan, tfds_gtzan_music_speech, spoken_digit and tfds_crema_d.
HEAR 2021 built these zips from its own TFDS extract step, so they hold what that step wrote for
one TFDS split, not the original corpus: the audio decoded from TFDS and a table of labels.

Raw layout (one zip per split; the source key is the split, and each zip is extracted to it):
    <split>/
        audio/tfds_id_<slug>.wav    a handful of clips; <slug> is the slugified TFDS example id,
                                    e.g. tfds_id_gtzan-train-tfrecord-00005-of-00032-7.wav
        <split>_labels.csv          filename,label for EVERY example of the split (kept whole)

Quirks:
    * The labels CSV lists the whole TFDS split (e.g. 2,500 rows for spoken_digit) while `audio/`
      holds 20-100 clips; small mode drops the rows of absent clips.
    * The split names are HEAR's (`train`, `valid`, `test`); TFDS's `validation` only survives in
      the file names (crema-d-validation-...). k-fold tasks overwrite the split.
    * Labels are the TFDS ClassLabel names as written: genre names, `music`/`speech`, emotion
      codes, or digits "0".."9" (which the bundle writes as JSON numbers).
    * The audio of the small zips is cut to at most 2 s (gtzan, crema_d) or 1 s (spoken_digit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from hearcore.format import TVT_SPLITS
from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

COLUMNS = ("filename", "label")


def extract_metadata(
    sources: dict[str, Path], config: TaskConfig, labels: Sequence[str] | None = None
) -> pd.DataFrame:
    """One row per line of each split's `<split>_labels.csv`.

    Args:
        sources: split key (`train`, `valid` or `test`) -> extracted zip folder.
        config: the task's config (for messages).
        labels: the TFDS ClassLabel names; when given, any other label is an error.

    Returns:
        Rows with relpath, label, split (the TFDS split) and unique_filestem (the file stem).
    """
    frames = []
    for key, folder in sources.items():
        if key not in TVT_SPLITS:
            raise ValueError(
                f"task {config.task_name}: source key {key!r} is not a split name "
                f"({', '.join(TVT_SPLITS)}); a TFDS export zip must be declared with its split "
                "and no `name`"
            )
        table = _read_labels(Path(folder) / f"{key}_labels.csv", config, labels)
        audio = Path(folder) / "audio"
        frames.append(
            pd.DataFrame(
                {
                    "relpath": [str(audio / name) for name in table["filename"]],
                    "label": table["label"].to_list(),
                    "split": key,
                    "unique_filestem": [Path(name).stem for name in table["filename"]],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _read_labels(path: Path, config: TaskConfig, labels: Sequence[str] | None) -> pd.DataFrame:
    task = config.task_name
    if not path.is_file():
        raise FileNotFoundError(
            f"task {task}: {path} is missing; the TFDS export zip must hold it at its root "
            "(re-extract the zip or check its md5)"
        )
    try:
        # As strings: digit labels stay "0".."9" here; the bundle turns them into numbers.
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"task {task}: {path} does not parse: {e}") from e
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"task {task}: {path} lacks the columns {missing} (has {list(table)})")
    bad = ~table["filename"].str.fullmatch(r"[^/\\]+\.wav") | table["label"].eq("")
    if bad.any():
        row = int(bad.idxmax())
        raise ValueError(
            f"task {task}: {path} row {row + 2} has filename {table['filename'][row]!r} and "
            f"label {table['label'][row]!r}; expected a `.wav` name in audio/ and a label"
        )
    dupes = table["filename"][table["filename"].duplicated()]
    if len(dupes):
        raise ValueError(f"task {task}: {path} lists {dupes.iloc[0]!r} more than once")
    if labels is not None:
        unknown = sorted(set(table["label"]) - {str(label) for label in labels})
        if unknown:
            raise ValueError(
                f"task {task}: {path} has labels {unknown} outside the task's TFDS classes "
                f"{list(labels)} (is this the zip of another task?)"
            )
    return table
