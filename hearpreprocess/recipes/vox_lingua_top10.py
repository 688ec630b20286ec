"""vox_lingua_top10: VoxLingua107 dev set, its ten most frequent languages.

The corpus: VoxLingua107's dev set, 1,609 hand-validated speech segments of YouTube videos in 33
languages; 16 kHz, 16-bit, mono, 1.75-19.98 s. HEAR keeps the ten languages with the most
segments (972 clips).

Raw layout (archive key `train`, dev.zip):
    <lang>/<youtubeid>__U__S<n>---<start>-<end>.wav
        one folder per VoxLingua107 language code (mostly ISO 639-1), e.g. fr/, ru/; the small
        fixture has them at the zip root, some third-party notes show a `dev/` prefix.
        e.g. QbXjbXFApYA__U__S14---0010.210-0013.760.wav

Quirks:
    * label = the clip's immediate parent folder, and the search is recursive, so the depth of the
      language folders (a `dev/` prefix or not) does not matter. `__MACOSX/` trees and `._*` files
      are skipped.
    * Top-10 filter over all rows (all are `train`): rank languages by file count, descending,
      then by language code, ascending, and keep the first ten. HEAR 2021 took pandas'
      `value_counts()` order, which leaves ties at rank 10 to the implementation; ours is explicit.
      In small mode the ranking is over the clips of the small archive.
    * split = `train`, then 5 folds by file (seeds retried until every fold holds every language).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

TOP_N = 10
MACOS_TREE = "__MACOSX"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per clip of the ten most frequent languages, labelled with its language code."""
    root = Path(sources["train"])
    wavs = sorted(
        p
        for p in root.rglob("*.wav")
        if MACOS_TREE not in p.relative_to(root).parts and not p.name.startswith("._")
    )
    if not wavs:
        raise ValueError(
            f"task {config.task_name}: no *.wav under {root}; the archive is not the one the "
            "recipe expects (check its md5)"
        )
    loose = [p for p in wavs if p.parent == root]
    if loose:
        raise ValueError(
            f"task {config.task_name}: {loose[0]} is not in a language folder; expected "
            "<lang>/<clip>.wav (is this the right archive?)"
        )
    rows = pd.DataFrame(
        {
            "relpath": [str(p) for p in wavs],
            "label": [p.parent.name for p in wavs],
            "split": "train",
        }
    )
    keep = top_labels(rows["label"], TOP_N)
    return rows[rows["label"].isin(keep)].reset_index(drop=True)


def top_labels(labels: pd.Series, n: int) -> list[str]:
    """The `n` most frequent labels: by count, descending, ties by label, ascending.

    Args:
        labels: one label per clip.
        n: how many to keep (all of them when there are fewer).

    Returns:
        The kept labels, most frequent first.
    """
    counts = labels.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [label for label, _ in ranked[:n]]
