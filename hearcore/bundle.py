"""Read and write HEAR task bundles, whether written by us or by hear-preprocess 2021.

The JSON files are byte-compatible with what hear-preprocess 2021 wrote (1-space indent, sorted
`<stem>.wav` keys, numeric-looking labels as JSON numbers). The vocabulary lives in
`hearcore.vocabulary`, the tarballs in `hearcore.tarball`, the file names in `hearcore.format`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hearcore.atomic import atomic_write_text
from hearcore.format import EMBEDDING_TYPES, METADATA_FILE, VOCABULARY_FILE, split_file
from hearcore.vocabulary import VocabularyError, coerce_labels, is_missing, plain, read_vocabulary


class BundleError(ValueError):
    """A task bundle is missing a file or holds something that cannot be used."""


@dataclass
class Bundle:
    """One task bundle on disk.

    Attributes:
        path: the bundle folder.
        metadata: the parsed `task_metadata.json`.
        vocabulary: labels in idx order (from `labelvocabulary.csv`; labels stay strings).
    """

    path: Path
    metadata: dict
    vocabulary: list
    _labels: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def splits(self) -> list[str]:
        return list(self.metadata["splits"])

    @property
    def embedding_type(self) -> str:
        return self.metadata["embedding_type"]

    @property
    def is_event(self) -> bool:
        return self.embedding_type == "event"

    @property
    def sample_duration(self) -> float | None:
        return self.metadata.get("sample_duration")

    def labels(self, split: str) -> dict:
        """The `<split>.json` map: file name -> labels (scene) or event records (event), in file
        order."""
        if split not in self._labels:
            path = self.path / split_file(split)
            if not path.is_file():
                raise BundleError(f"{self.name}: {path} is missing; re-extract the bundle")
            with open(path, encoding="utf-8") as f:
                self._labels[split] = json.load(f)
        return self._labels[split]

    def available_rates(self) -> list[int]:
        """Sample rates that have an audio folder, ascending."""
        return audio_rates(self.path)

    def audio_path(self, sr: int, split: str, filename: str) -> Path:
        return self.path / str(sr) / split / filename


def audio_rates(path: Path) -> list[int]:
    """The sample rates of the `<rate>/` audio folders in the folder `path`, ascending."""
    return sorted(int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit())


def is_bundle(path: Path) -> bool:
    """True when `path` is a folder holding `task_metadata.json`."""
    return path.is_dir() and (path / METADATA_FILE).is_file()


def read_bundle(path: str | os.PathLike) -> Bundle:
    """Read the metadata and vocabulary of the bundle at `path`.

    Raises:
        BundleError: a required file is missing or the vocabulary is not numbered 0..K-1.
    """
    path = Path(path)
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        raise BundleError(f"{path}: no {METADATA_FILE}; is this a task bundle folder?")
    with open(meta_path, encoding="utf-8") as f:
        metadata = json.load(f)
    for key in ("splits", "embedding_type"):
        if key not in metadata:
            raise BundleError(f"{meta_path}: key {key!r} is missing")
    if not (path / VOCABULARY_FILE).is_file():
        raise BundleError(f"{path.name}: {VOCABULARY_FILE} is missing")
    try:
        vocabulary = read_vocabulary(path / VOCABULARY_FILE)
    except VocabularyError as e:
        raise BundleError(str(e)) from None
    return Bundle(path=path, metadata=metadata, vocabulary=vocabulary)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON like HEAR 2021 (`indent=1`, ASCII escapes, no final newline), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=1))


def split_json(rows: pd.DataFrame, embedding_type: str) -> dict[str, list]:
    """The `<split>.json` content for one split, labels used as given (see `split_jsons`).

    Args:
        rows: the split's metadata rows (`unique_filestem`, `label`[, `start`, `end`]), in
            metadata order; a row with a missing label stands for a clip without events.
        embedding_type: "scene" (value = list of labels) or "event" (value = list of
            `{"label", "start", "end"}` records in row order, times in ms).

    Returns:
        Dict keyed by `<stem>.wav` in ascending order.
    """
    if embedding_type not in EMBEDDING_TYPES:
        raise ValueError(f"embedding_type must be one of {EMBEDDING_TYPES}, got {embedding_type!r}")
    by_file: dict[str, list] = {}
    columns = ["unique_filestem", "label"] + (["start", "end"] if embedding_type == "event" else [])
    for record in rows[columns].itertuples(index=False):
        entries = by_file.setdefault(f"{record.unique_filestem}.wav", [])
        if is_missing(record.label):
            continue
        label = plain(record.label)
        if embedding_type == "scene":
            entries.append(label)
        else:
            entries.append({"label": label, "start": float(record.start), "end": float(record.end)})
    return {key: by_file[key] for key in sorted(by_file)}


def split_jsons(df: pd.DataFrame, embedding_type: str) -> dict[str, dict[str, list]]:
    """`split_json` for every split, after coercing the labels over the whole task."""
    df = df.assign(label=coerce_labels(df["label"]))
    return {
        split: split_json(df[df["split"] == split], embedding_type)
        for split in sorted(pd.unique(df["split"]))
    }
