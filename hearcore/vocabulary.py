"""The label vocabulary of a bundle (`labelvocabulary.csv`): one rule for its labels and order.

Writer and reader of the same file. The vocabulary is the sorted union of a task's labels after
`coerce_labels`, numbered from 0 (`idx,label` header, one line per label), which is the file
hear-preprocess 2021 wrote; integer labels therefore sort numerically.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from hearcore.atomic import atomic_write_text

if TYPE_CHECKING:  # pandas is imported where a DataFrame is handled: it costs 0.35 s to import
    import pandas as pd

_INT_PATTERN = re.compile(r"^[+-]?\d+$")


class VocabularyError(ValueError):
    """A labelvocabulary.csv file is unreadable or not numbered 0..K-1."""


def is_missing(value: Any) -> bool:
    """True for a missing label: None, NaN, or a blank string (how the pipeline's CSV files give
    back a missing value)."""
    if isinstance(value, str):
        return not value.strip()
    if value is None or isinstance(value, float):
        return value is None or math.isnan(value)
    import pandas as pd  # pandas' own missing values (NA, NaT) and numpy scalars

    return bool(pd.isna(value))


def plain(value: Any) -> Any:
    """numpy scalars -> Python scalars that json can write; whole floats -> int.

    Labels are never genuinely floats (recipes give strings); a whole float is pandas' upcast
    of int labels in a column that also holds a missing value, and HEAR 2021 wrote ints.
    """
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def coerce_labels(values: Iterable[Any]) -> list[Any]:
    """Turn labels into ints when every label of the task looks like an integer.

    HEAR 2021 passed metadata through a CSV file, so pandas read digits back as ints and the
    bundle holds JSON numbers (spoken_digit, nsynth pitch, libricount). Mixed label sets stay as
    they are, so "1" and "one" never end up as different types in one task. Missing values
    (None, NaN, blank strings) become None.

    Args:
        values: every label of the task (all splits).

    Returns:
        A list of the same length.
    """
    values = [None if is_missing(v) else plain(v) for v in values]
    present = [v for v in values if v is not None]
    is_int_like = all(
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, str) and _INT_PATTERN.match(v.strip()))
        for v in present
    )
    if not present or not is_int_like:
        return values
    return [None if v is None else int(v) for v in values]


def label_vocabulary(df: pd.DataFrame) -> pd.DataFrame:
    """The vocabulary table of the task's rows `df`: columns `idx`, `label`, the sorted union of
    the coerced labels; missing labels (None, NaN, "") are left out."""
    import pandas as pd

    labels = sorted({v for v in coerce_labels(df["label"]) if v is not None})
    return pd.DataFrame({"idx": range(len(labels)), "label": pd.Series(labels, dtype=object)})


def vocabulary_text(labels: Iterable[Any]) -> str:
    """The text of a labelvocabulary.csv listing `labels` (already in order) from idx 0."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["idx", "label"])
    writer.writerows(enumerate(labels))
    return buffer.getvalue()


def label_vocabulary_text(df: pd.DataFrame) -> str:
    """`label_vocabulary(df)` as the text of labelvocabulary.csv."""
    return vocabulary_text(label_vocabulary(df)["label"])


def write_label_vocabulary(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write labelvocabulary.csv for the task's rows `df` to `path` atomically."""
    atomic_write_text(path, label_vocabulary_text(df))


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """The labels of a labelvocabulary.csv in idx order, as strings (the file does not say which
    labels were numbers; `<split>.json` does).

    Rows may come in any order, but their idx must be exactly 0..K-1.

    Raises:
        VocabularyError: the file is missing, has no idx/label columns or is misnumbered.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise VocabularyError(f"{path}: cannot read the label vocabulary ({e.strerror})") from None
    try:
        by_index = {int(row["idx"]): row["label"] for row in rows}
    except (KeyError, TypeError, ValueError):
        raise VocabularyError(f"{path}: needs an `idx,label` header and integer idx values")
    if sorted(by_index) != list(range(len(rows))):
        raise VocabularyError(f"{path}: idx must run 0..{len(rows) - 1} once each")
    return [by_index[i] for i in range(len(rows))]
