"""The consolidated per-split files hear-eval-kit's prediction stage reads.

`<split>.embeddings.npy` is, despite its name, a RAW little-endian float32 array of shape
`(n_rows, dim)` with NO .npy header: hear-eval-kit opens it with `np.memmap(..., dtype=float32,
mode="r", shape=dims)` where dims comes from `<split>.embedding-dimensions.json`. Read it with
`read_embeddings()`, not `np.load`. Rows are streamed straight into that file; no per-file copies.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np


class SplitWriter:
    """Appends embedding rows, their labels and (event tasks) their file/timestamp to one split.

    Use as a context manager; the small files are written on a clean exit only.
    """

    def __init__(self, out_dir: Path, split: str, is_event: bool):
        self.out_dir = Path(out_dir)
        self.split = split
        self.is_event = is_event
        self.n_rows = 0
        self.dim: int | None = None
        self._labels: list[list] = []
        self._file_timestamps: list[list] = []
        self._f = open(self.out_dir / f"{split}.embeddings.npy", "wb")

    def __enter__(self) -> SplitWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._f.close()
        if exc_type is None:
            self._finish()

    def add(self, filename: str, rows: np.ndarray, labels: list[list], timestamps=None) -> None:
        """Append the rows of one file.

        Args:
            filename: the bundle file name (key of `<split>.json`).
            rows: (n, dim) embeddings (scene: n == 1).
            labels: one label list per row.
            timestamps: event tasks, n timestamps in ms.
        """
        rows = np.ascontiguousarray(rows, dtype="<f4")
        if rows.ndim != 2 or len(rows) != len(labels):
            raise ValueError(f"{filename}: {rows.shape} embeddings for {len(labels)} label lists")
        if self.dim is None:
            self.dim = rows.shape[1]
        elif rows.shape[1] != self.dim:
            raise ValueError(f"{filename}: embedding size {rows.shape[1]} != {self.dim}")
        self._f.write(rows.tobytes())
        self.n_rows += len(rows)
        self._labels.extend(labels)
        if self.is_event:
            if timestamps is None or len(timestamps) != len(rows):
                raise ValueError(f"{filename}: need one timestamp per embedding row")
            self._file_timestamps.extend([filename, float(t)] for t in timestamps)

    def _finish(self) -> None:
        prefix = self.out_dir / self.split
        _write_json(Path(f"{prefix}.embedding-dimensions.json"), [self.n_rows, self.dim or 0])
        with open(f"{prefix}.target-labels.pkl", "wb") as f:
            pickle.dump(self._labels, f)
        if self.is_event:
            _write_json(Path(f"{prefix}.filename-timestamps.json"), self._file_timestamps)


def read_embeddings(out_dir: Path, split: str) -> np.ndarray:
    """Open a split's headerless embeddings file read-only with its recorded shape."""
    with open(Path(out_dir) / f"{split}.embedding-dimensions.json") as f:
        n_rows, dim = json.load(f)
    path = Path(out_dir) / f"{split}.embeddings.npy"
    if n_rows == 0:
        return np.zeros((0, dim), dtype=np.float32)
    return np.memmap(path, dtype=np.float32, mode="r", shape=(n_rows, dim))


def _write_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f)
