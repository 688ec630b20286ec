"""Per-frame labels of event tasks: the labels of the events that cover each timestamp."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# hear-eval-kit nudged every event end by 0.0001 ms so that a frame exactly at the end counts; kept
# so that frame labels match the ones the published scores were computed with.
END_NUDGE_MS = 0.0001


def frame_labels(events: Sequence[dict], timestamps: Sequence[float]) -> list[list]:
    """Labels active at each timestamp.

    Args:
        events: `{"label", "start", "end"}` records in ms (a `<split>.json` value).
        timestamps: frame centre times in ms.

    Returns:
        One list per timestamp with the labels of every event where
        `start <= t < end + END_NUDGE_MS`, each label once, in the events' order.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    out: list[list] = [[] for _ in range(len(ts))]
    for ev in events:
        hits = np.flatnonzero((ts >= ev["start"]) & (ts < ev["end"] + END_NUDGE_MS))
        for i in hits:
            if ev["label"] not in out[i]:
                out[i].append(ev["label"])
    return out
