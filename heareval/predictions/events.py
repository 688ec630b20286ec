"""Frame probabilities -> events, and the post-processing grid searched on validation.

Per file the frames are ordered by timestamp, optionally median-filtered over time (width =
round(median_filter_ms / mean hop) frames), binarised at 0.5, and every run of active frames of a
label becomes one event from the first to the last active frame's timestamp (ms), kept when it
lasts at least `min_duration` ms.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
from scipy.ndimage import median_filter

THRESHOLD = 0.5
DEFAULT_POSTPROCESSING_GRID = {"median_filter_ms": [250], "min_duration": [125, 250]}


def postprocessing_grid(metadata: dict) -> list[tuple[tuple[str, float], ...]]:
    """Post-processing settings to try, as sorted (name, value) pairs (ParameterGrid order)."""
    grid = metadata.get("evaluation_params", {}).get(
        "event_postprocessing_grid", DEFAULT_POSTPROCESSING_GRID
    )
    keys = sorted(grid)
    return [tuple(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def group_frames(frames: list[tuple[str, float]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """File key -> (row positions within the split sorted by time, their timestamps in ms)."""
    rows = defaultdict(list)
    for position, (name, stamp) in enumerate(frames):
        rows[name].append((stamp, position))
    grouped = {}
    for name, pairs in rows.items():
        pairs.sort()
        grouped[name] = (
            np.array([p for _, p in pairs], dtype=np.int64),
            np.array([t for t, _ in pairs], dtype=np.float64),
        )
    return grouped


def _runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) frame indices of each run of True in a 1-D boolean array."""
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    change = np.diff(padded)
    return np.flatnonzero(change == 1), np.flatnonzero(change == -1) - 1


def file_events(
    probs: np.ndarray,
    stamps: np.ndarray,
    labels: list[str],
    median_filter_ms: float = 0.0,
    min_duration: float = 0.0,
) -> list[dict]:
    """Events of one file from its time-ordered frame probabilities (T, K)."""
    if len(stamps) > 1 and median_filter_ms > 0:
        width = int(round(median_filter_ms / float(np.mean(np.diff(stamps)))))
        if width > 0:
            probs = median_filter(probs, size=(width, 1))
    active = probs > THRESHOLD
    events = []
    for k in np.flatnonzero(active.any(axis=0)):
        first, last = _runs(active[:, k])
        for a, b in zip(first, last):
            start, end = float(stamps[a]), float(stamps[b])
            if end - start >= min_duration:
                events.append({"label": labels[k], "start": start, "end": end})
    events.sort(key=lambda e: (e["start"], e["end"], e["label"]))
    return events


def predict_events(
    probs: np.ndarray,
    grouped: dict[str, tuple[np.ndarray, np.ndarray]],
    labels: list[str],
    postprocessing: tuple[tuple[str, float], ...] = (),
) -> dict[str, list[dict]]:
    """Events of every file of a split (files without events map to an empty list).

    Args:
        probs: (N, K) frame probabilities in the split's row order.
        grouped: output of `group_frames` for the split.
        labels: vocabulary in index order.
        postprocessing: (name, value) pairs: median_filter_ms, min_duration.
    """
    params = dict(postprocessing)
    return {
        name: file_events(probs[rows], stamps, labels, **params)
        for name, (rows, stamps) in grouped.items()
    }
