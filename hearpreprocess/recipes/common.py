"""Rules several recipes share: one row per WAV file of a folder, labelled from its name.

Not a recipe itself (no TOML names it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from hearpreprocess.config import TaskConfig


def wav_rows(
    folder: Path,
    config: TaskConfig,
    label_of: Callable[[Path, TaskConfig], object],
    *,
    recursive: bool,
    layout: str,
) -> pd.DataFrame:
    """One row per `*.wav` of `folder` (sorted; split "train"), labelled by `label_of(path)`.

    macOS AppleDouble files (`._*`) are not audio and are skipped.

    Args:
        folder: where the WAVs are.
        config: the task, named in errors.
        label_of: the recipe's rule from a file to its label; raises ValueError for a bad name.
        recursive: search sub-folders too.
        layout: the expected layout, for the error message (e.g. "genres/<genre>/<name>.wav").

    Raises:
        FileNotFoundError: `folder` does not exist.
        ValueError: it holds no WAV, or a name breaks the label rule.
    """
    if not folder.is_dir():
        raise FileNotFoundError(
            f"task {config.task_name}: folder {folder} is missing; the source must unpack to "
            f"{layout} (re-extract it or check the checksum pinned in its recipe)"
        )
    found = folder.rglob("*.wav") if recursive else folder.glob("*.wav")
    paths = sorted(p for p in found if p.is_file() and not p.name.startswith("._"))
    if not paths:
        where = "under" if recursive else "directly in"
        raise ValueError(
            f"task {config.task_name}: no *.wav {where} {folder}; the source is not the one the "
            f"recipe expects ({layout}; check its checksum)"
        )
    return pd.DataFrame(
        {
            "relpath": [str(p) for p in paths],
            "label": [label_of(p, config) for p in paths],
            "split": "train",
        }
    )
