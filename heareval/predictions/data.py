"""Load one task's embedding folder (the embedding stage's output) into memory, once.

Every split's raw float32 memmap (`<split>.embeddings.npy`, no header, shape from
`<split>.embedding-dimensions.json`) is read and stacked into one array; splits are index ranges
into it, so a k-fold rotation only builds index vectors and never copies embeddings.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hearcore.format import METADATA_FILE, VOCABULARY_FILE, split_file
from hearcore.vocabulary import VocabularyError, read_vocabulary, vocabulary_text


class EmbeddingDataError(ValueError):
    """An embedding folder is missing a file or holds inconsistent data."""


@dataclass
class TaskData:
    """A task's embeddings, targets and metadata.

    Attributes:
        path: the embedding task folder.
        metadata: task_metadata.json.
        vocabulary: labels in index order (labelvocabulary.csv).
        x: all splits' embeddings stacked, float32 (N, D).
        y: one/multi-hot targets, float32 (N, K).
        ranges: split name -> (start, stop) rows of x.
        frames: event tasks only: split name -> list of (file key, timestamp ms) per row.
        events: event tasks only: split name -> reference events per file (from `<split>.json`).
    """

    path: Path
    metadata: dict
    vocabulary: list[str]
    x: np.ndarray
    y: np.ndarray
    ranges: dict[str, tuple[int, int]]
    frames: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    events: dict[str, dict[str, list[dict]]] = field(default_factory=dict)

    @property
    def is_event(self) -> bool:
        return self.metadata.get("embedding_type") == "event"

    @property
    def splits(self) -> list[str]:
        return list(self.metadata["splits"])

    def rows(self, splits: list[str]) -> np.ndarray:
        """Row indices of the given splits, in order."""
        return np.concatenate([np.arange(*self.ranges[s]) for s in splits])


def _read_json(path: Path):
    if not path.exists():
        raise EmbeddingDataError(f"{path} is missing: run the embedding stage for this task first")
    return json.loads(path.read_text())


def _read_split(path: Path, split: str) -> tuple[np.ndarray, list]:
    n_rows, dim = _read_json(path / f"{split}.embedding-dimensions.json")
    raw = path / f"{split}.embeddings.npy"
    expected = n_rows * dim * 4
    if not raw.exists() or raw.stat().st_size != expected:
        size = raw.stat().st_size if raw.exists() else "missing"
        raise EmbeddingDataError(
            f"{raw}: expected {expected} bytes of float32 ({n_rows} x {dim}), found {size}; "
            "re-run the embedding stage for this task"
        )
    x = np.array(np.memmap(raw, dtype=np.float32, mode="r", shape=(n_rows, dim)))
    if not np.isfinite(x).all():
        raise EmbeddingDataError(f"{raw} holds NaN or Inf values; check the model's output")
    with open(path / f"{split}.target-labels.pkl", "rb") as f:
        labels = pickle.load(f)
    if len(labels) != n_rows:
        raise EmbeddingDataError(f"{path}/{split}: {len(labels)} label lists for {n_rows} rows")
    return x, labels


def _one_hot(labels: list, vocabulary: list[str], where: str) -> np.ndarray:
    index = {label: i for i, label in enumerate(vocabulary)}
    y = np.zeros((len(labels), len(vocabulary)), dtype=np.float32)
    for row, row_labels in enumerate(labels):
        for label in row_labels:
            if str(label) not in index:
                raise EmbeddingDataError(f"{where}: label {label!r} is not in labelvocabulary.csv")
            y[row, index[str(label)]] = 1.0
    return y


def load_task(path: str | Path) -> TaskData:
    """Read an embedding task folder.

    Raises:
        EmbeddingDataError: a file is missing, dimensions disagree or a label is unknown.
    """
    path = Path(path)
    metadata = _read_json(path / METADATA_FILE)
    try:
        vocabulary = read_vocabulary(path / VOCABULARY_FILE)
    except VocabularyError as e:
        raise EmbeddingDataError(f"{e}; run the embedding stage for this task again") from None
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    ranges: dict[str, tuple[int, int]] = {}
    frames: dict[str, list[tuple[str, float]]] = {}
    events: dict[str, dict[str, list[dict]]] = {}
    start = 0
    for split in metadata["splits"]:
        x, labels = _read_split(path, split)
        if xs and x.shape[1] != xs[0].shape[1]:
            raise EmbeddingDataError(
                f"{path}/{split}: embedding size {x.shape[1]} differs from {xs[0].shape[1]}"
            )
        y = _one_hot(labels, vocabulary, f"{path}/{split}")
        if metadata.get("prediction_type") == "multiclass" and not (y.sum(1) == 1).all():
            raise EmbeddingDataError(f"{path}/{split}: multiclass rows need exactly one label")
        xs.append(x)
        ys.append(y)
        ranges[split] = (start, start + len(x))
        start += len(x)
        if metadata.get("embedding_type") == "event":
            stamps = _read_json(path / f"{split}.filename-timestamps.json")
            frames[split] = [(Path(name).name, float(t)) for name, t in stamps]
            events[split] = _read_json(path / split_file(split))
    return TaskData(
        path, metadata, vocabulary, np.concatenate(xs), np.concatenate(ys), ranges, frames, events
    )


def write_embedding_task(
    path: str | Path,
    metadata: dict,
    vocabulary: list[str],
    splits: dict[str, tuple[np.ndarray, list]],
    frames: dict[str, list] | None = None,
    events: dict[str, dict] | None = None,
) -> Path:
    """Write an embedding task folder in the embedding stage's on-disk format (tests, benchmarks).

    Args:
        path: folder to create.
        metadata: task_metadata.json content (must list `splits`).
        vocabulary: labels in idx order.
        splits: split -> (float32 embeddings (N, D), label lists per row).
        frames: event tasks: split -> [[file path without .embedding.npy, timestamp ms], ...].
        events: event tasks: split -> `<split>.json` content (file -> events in ms).
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / METADATA_FILE).write_text(json.dumps(metadata))
    (path / VOCABULARY_FILE).write_text(vocabulary_text(vocabulary))
    for split, (x, labels) in splits.items():
        x = np.ascontiguousarray(x, dtype=np.float32)
        x.tofile(path / f"{split}.embeddings.npy")
        (path / f"{split}.embedding-dimensions.json").write_text(json.dumps(list(x.shape)))
        with open(path / f"{split}.target-labels.pkl", "wb") as f:
            pickle.dump(labels, f)
        if frames is not None:
            (path / f"{split}.filename-timestamps.json").write_text(json.dumps(frames[split]))
        if events is not None:
            (path / split_file(split)).write_text(json.dumps(events[split]))
    return path


def make_clusters(
    n_rows: int, dim: int, n_classes: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters around random unit-norm centres: (float32 (n_rows, dim), class ids)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    classes = rng.integers(0, n_classes, n_rows)
    x = centres[classes] + noise * rng.standard_normal((n_rows, dim)) / np.sqrt(dim)
    return x.astype(np.float32), classes
