"""tones (built-in example): synthetic notes, label = pitch class.

Raw layout (archive `train` key): `tones-v1/labels.csv` (filename,label) and
`tones-v1/audio/<label>-<NNN>.wav`. Every file is listed once; k-fold split by file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    root = Path(sources["train"]) / "tones-v1"
    labels_csv = root / "labels.csv"
    try:
        table = pd.read_csv(labels_csv, dtype=str)
    except (OSError, ValueError) as e:
        raise ValueError(f"task tones: cannot read {labels_csv}: {e}") from e
    if list(table.columns) != ["filename", "label"]:
        raise ValueError(f"task tones: {labels_csv} must have the columns filename,label")
    return pd.DataFrame(
        {
            "relpath": [str(root / "audio" / name) for name in table["filename"]],
            "label": table["label"],
            "split": "train",
        }
    )
