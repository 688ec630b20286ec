"""Read a HEAR task bundle (FORMAT.md §2), whether written by us or by hear-preprocess 2021.

A bundle is a folder `<task>-<version>-<mode>/` with `task_metadata.json`, `labelvocabulary.csv`,
one `<split>.json` per split and `<sample_rate>/<split>/<file>.wav` for one or more rates.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

METADATA_FILE = "task_metadata.json"
VOCABULARY_FILE = "labelvocabulary.csv"


class BundleError(ValueError):
    """A task bundle is missing a file or holds something heareval cannot use."""


@dataclass
class TaskBundle:
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
            path = self.path / f"{split}.json"
            if not path.is_file():
                raise BundleError(f"{self.name}: {path} is missing; re-extract the bundle")
            with open(path, encoding="utf-8") as f:
                self._labels[split] = json.load(f)
        return self._labels[split]

    def available_rates(self) -> list[int]:
        """Sample rates that have an audio folder, ascending."""
        return sorted(int(p.name) for p in self.path.iterdir() if p.is_dir() and p.name.isdigit())

    def audio_path(self, sr: int, split: str, filename: str) -> Path:
        return self.path / str(sr) / split / filename


def is_bundle(path: Path) -> bool:
    """True when `path` is a folder holding `task_metadata.json`."""
    return path.is_dir() and (path / METADATA_FILE).is_file()


def read_bundle(path: str | Path) -> TaskBundle:
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
    return TaskBundle(path=path, metadata=metadata, vocabulary=_read_vocabulary(path))


def _read_vocabulary(path: Path) -> list:
    vocab_path = path / VOCABULARY_FILE
    if not vocab_path.is_file():
        raise BundleError(f"{path.name}: {VOCABULARY_FILE} is missing")
    with open(vocab_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    indices = [int(r["idx"]) for r in rows]
    if indices != list(range(len(rows))):
        raise BundleError(f"{vocab_path}: idx must run 0..{len(rows) - 1} in order")
    return [r["label"] for r in rows]
