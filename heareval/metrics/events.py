"""Event-based and segment-based scores, numerically equal to sed_eval 0.2.1's.

Each score takes `(predicted, reference, labels)`: `predicted` and `reference` map a file name to
its list of `{"label", "start", "end"}` events in milliseconds, `labels` is the task's whole label
vocabulary. Times are converted to seconds as heareval did (`ms / 1000.0`, float64) so that collar
comparisons fall on the same side as in sed_eval.

Files scored: every file named in `predicted` or in `reference`. heareval scored only the files of
the predictions dict; its dict always held every file, so the numbers agree, but a reference file
missing from `predicted` counts here as a file with no predicted events (its events are missed)
instead of being silently dropped. A file missing from `reference` has no reference events.

sed_eval's per-file `evaluate()` only adds counts, and its overall ("micro") scores are ratios of
the summed counts, so the whole set is scored at once here: one vectorised pass per call instead of
a Python loop per file, label and event pair.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from heareval.metrics import Score

# sed_eval's rates divide by (Nref + eps) with eps = numpy.spacing(1).
_EPS = float(np.spacing(1))
# Candidate pairs are pre-selected by a time window this much wider than the collar (seconds); the
# exact sed_eval comparison is then made on every candidate.
_WINDOW_MARGIN = 1e-6


@dataclass(frozen=True)
class _Events:
    """All events of a set of files as parallel arrays (times in seconds)."""

    file: np.ndarray
    label: np.ndarray
    onset: np.ndarray
    offset: np.ndarray

    def __len__(self) -> int:
        return self.file.size


def _flatten(events_by_file: dict, files: dict, labels: dict, role: str) -> _Events:
    rows = [
        (files[name], labels.get(str(event["label"]), -1), event["start"], event["end"])
        for name, events in events_by_file.items()
        for event in events
    ]
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    file, label = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
    onset, offset = table[:, 2] / 1000.0, table[:, 3] / 1000.0
    bad = np.flatnonzero((label < 0) | ~(onset >= 0) | ~(offset >= onset))
    if bad.size:
        name, event = _find_event(events_by_file, int(bad[0]))
        raise ValueError(
            f"{role} event {event!r} of file {name!r} is invalid: its label must be one of the "
            "labels passed (the task's whole vocabulary) and 0 <= start <= end (ms)"
        )
    return _Events(file, label, onset, offset)


def _find_event(events_by_file: dict, index: int) -> tuple[str, dict]:
    for name, events in events_by_file.items():
        if index < len(events):
            return name, events[index]
        index -= len(events)
    raise IndexError(index)


def _collect(predicted: dict, reference: dict, labels) -> tuple[_Events, _Events, int, int]:
    """Flattens both event sets over the union of their files."""
    label_index = {str(label): i for i, label in enumerate(labels)}
    if len(label_index) != len(labels):
        raise ValueError(f"labels {list(labels)!r} hold duplicates (compared as strings)")
    names = list(predicted) + [name for name in reference if name not in predicted]
    file_index = {name: i for i, name in enumerate(names)}
    estimated = _flatten(predicted, file_index, label_index, "predicted")
    annotated = _flatten(reference, file_index, label_index, "reference")
    return annotated, estimated, len(names), len(label_index)


def _count_before(sorted_group, sorted_key, group, key, inclusive: bool) -> np.ndarray:
    """For each query (group, key), how many sorted entries come before it in (group, key) order.

    Entries with an equal key count as before the query when `inclusive`. Merging by lexsort keeps
    the group and the time separate, so no float precision is lost by combining them.
    """
    n = sorted_group.size
    tie = np.r_[np.ones(n, dtype=np.int8), np.full(group.size, 2 if inclusive else 0, np.int8)]
    order = np.lexsort((tie, np.r_[sorted_key, key], np.r_[sorted_group, group]))
    entries_so_far = np.cumsum(order < n)
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    return entries_so_far[position[n:]]


def _candidate_pairs(ref: _Events, est: _Events, n_labels: int, key: str, tolerance: np.ndarray):
    """(reference, estimate) index pairs of one file and label whose `key` times are close."""
    ref_group = ref.file * n_labels + ref.label
    est_group = est.file * n_labels + est.label
    ref_key, est_key = getattr(ref, key), getattr(est, key)
    order = np.lexsort((est_key, est_group))
    sorted_group, sorted_key = est_group[order], est_key[order]
    width = tolerance + _WINDOW_MARGIN
    lo = _count_before(sorted_group, sorted_key, ref_group, ref_key - width, inclusive=False)
    hi = _count_before(sorted_group, sorted_key, ref_group, ref_key + width, inclusive=True)
    counts = np.maximum(hi - lo, 0)
    ref_index = np.repeat(np.arange(len(ref)), counts)
    block_start = np.cumsum(counts) - counts
    position = np.arange(counts.sum()) + np.repeat(lo - block_start, counts)
    return ref_index, order[position]


def _count_true_positives(ref, est, n_labels, t_collar, evaluate_onset, evaluate_offset, length):
    """Size of a maximum matching between reference and estimated events (sed_eval "optimal").

    Hits need the same file and label, |onset difference| <= t_collar when evaluating onsets and
    |offset difference| <= max(t_collar, length * reference duration) when evaluating offsets.
    Labels and files split the graph into independent parts, so one matching over all of them
    has the size of the sum of sed_eval's per-file matchings.
    """
    if not len(ref) or not len(est):
        return 0
    offset_tolerance = np.maximum(t_collar, length * (ref.offset - ref.onset))
    if evaluate_onset:
        tolerance = np.full(len(ref), t_collar)
        r, e = _candidate_pairs(ref, est, n_labels, "onset", tolerance)
    else:
        r, e = _candidate_pairs(ref, est, n_labels, "offset", offset_tolerance)
    hit = np.ones(r.size, dtype=bool)
    if evaluate_onset:
        hit &= np.abs(ref.onset[r] - est.onset[e]) <= t_collar
    if evaluate_offset:
        hit &= np.abs(ref.offset[r] - est.offset[e]) <= offset_tolerance[r]
    if not hit.any():
        return 0
    graph = csr_matrix(
        (np.ones(int(hit.sum()), dtype=np.int8), (r[hit], e[hit])), shape=(len(ref), len(est))
    )
    return int(np.count_nonzero(maximum_bipartite_matching(graph, perm_type="column") >= 0))


def _precision_recall_f(n_tp: int, n_ref: int, n_sys: int) -> dict[str, float]:
    # sed_eval: a ratio with a zero denominator is NaN; F is 0 only when both ratios are 0.
    precision = n_tp / n_sys if n_sys else math.nan
    recall = n_tp / n_ref if n_ref else math.nan
    if precision == 0 and recall == 0:
        f_measure = 0.0
    else:
        f_measure = 2.0 * precision * recall / (precision + recall)
    return {"f_measure": f_measure, "precision": precision, "recall": recall}


class EventBasedScore(Score):
    """sed_eval `EventBasedMetrics` overall F-measure with optimal (maximum) event matching.

    Args:
        name: registry name.
        t_collar: onset (and minimum offset) tolerance in seconds.
        evaluate_onset: require onsets within the collar.
        evaluate_offset: require offsets within max(t_collar, percentage_of_length * duration).
        percentage_of_length: see evaluate_offset (sed_eval's default 0.5).
    """

    is_event = True

    def __init__(
        self,
        name: str,
        t_collar: float,
        evaluate_onset: bool = True,
        evaluate_offset: bool = True,
        percentage_of_length: float = 0.5,
    ):
        super().__init__(name)
        if not (evaluate_onset or evaluate_offset):
            raise ValueError("evaluate_onset and evaluate_offset cannot both be False")
        self.t_collar = float(t_collar)
        self.evaluate_onset = evaluate_onset
        self.evaluate_offset = evaluate_offset
        self.percentage_of_length = float(percentage_of_length)

    def __call__(self, predicted: dict, reference: dict, labels) -> tuple[float, dict[str, float]]:
        """Scores predicted events against reference events (ms).

        Returns:
            (f_measure, {"f_measure", "precision", "recall"}); NaN where sed_eval gives NaN (no
            reference or no predicted events).

        Raises:
            ValueError: an event's label is not in `labels`, or its times are not 0 <= start <= end.
        """
        ref, est, _, n_labels = _collect(predicted, reference, labels)
        n_tp = _count_true_positives(
            ref,
            est,
            n_labels,
            self.t_collar,
            self.evaluate_onset,
            self.evaluate_offset,
            self.percentage_of_length,
        )
        details = _precision_recall_f(n_tp, len(ref), len(est))
        return details["f_measure"], details


def _activity(events: _Events, segment_base: np.ndarray, n_labels: int, resolution: float):
    """Boolean (segments x labels) activity of all files, segment k of file f at base[f] + k."""
    start = segment_base[events.file] + np.floor(events.onset * 1 / resolution).astype(np.int64)
    stop = segment_base[events.file] + np.ceil(events.offset * 1 / resolution).astype(np.int64)
    size = (segment_base[-1] + 1) * n_labels
    change = np.bincount(start * n_labels + events.label, minlength=size)
    change -= np.bincount(stop * n_labels + events.label, minlength=size)
    depth = np.cumsum(change.reshape(-1, n_labels), axis=0)[:-1]
    return depth > 0


class SegmentBasedScore(Score):
    """sed_eval `SegmentBasedMetrics` overall error rate (lower is better).

    Each file is cut into ceil(max offset of its reference and predicted events / resolution)
    segments; an event marks segments floor(onset / resolution) to ceil(offset / resolution) - 1.
    Per segment, S = min(Nref, Nsys) - Ntp, D = max(0, Nref - Nsys), I = max(0, Nsys - Nref).
    """

    is_event = True
    maximize = False

    def __init__(self, name: str, time_resolution: float = 1.0):
        super().__init__(name)
        self.time_resolution = float(time_resolution)

    def __call__(self, predicted: dict, reference: dict, labels) -> tuple[float, dict[str, float]]:
        """Scores predicted events against reference events (ms).

        Returns:
            (error_rate, {"error_rate", "substitution_rate", "deletion_rate", "insertion_rate"});
            rates are counts / (Nref + eps) as in sed_eval, so they are huge, not NaN, when the
            reference is empty.

        Raises:
            ValueError: an event's label is not in `labels`, or its times are not 0 <= start <= end.
        """
        ref, est, n_files, n_labels = _collect(predicted, reference, labels)
        last_offset = np.zeros(n_files)
        np.maximum.at(last_offset, ref.file, ref.offset)
        np.maximum.at(last_offset, est.file, est.offset)
        n_segments = np.ceil(last_offset * 1 / self.time_resolution).astype(np.int64)
        segment_base = np.r_[0, np.cumsum(n_segments)]
        annotated = _activity(ref, segment_base, n_labels, self.time_resolution)
        system = _activity(est, segment_base, n_labels, self.time_resolution)
        n_ref, n_sys = annotated.sum(axis=1), system.sum(axis=1)
        n_tp = (annotated & system).sum(axis=1)
        n_total = float(n_ref.sum()) + _EPS
        rates = {
            "substitution_rate": float((np.minimum(n_ref, n_sys) - n_tp).sum()) / n_total,
            "deletion_rate": float(np.maximum(0, n_ref - n_sys).sum()) / n_total,
            "insertion_rate": float(np.maximum(0, n_sys - n_ref).sum()) / n_total,
        }
        error_rate = rates["substitution_rate"] + rates["deletion_rate"] + rates["insertion_rate"]
        return error_rate, {"error_rate": error_rate, **rates}


EVENT_SCORES = (
    EventBasedScore("event_onset_200ms_fms", t_collar=0.2, evaluate_offset=False),
    EventBasedScore("event_onset_50ms_fms", t_collar=0.05, evaluate_offset=False),
    EventBasedScore(
        "event_onset_offset_50ms_20perc_fms",
        t_collar=0.05,
        evaluate_onset=True,
        evaluate_offset=True,
        percentage_of_length=0.2,
    ),
    SegmentBasedScore("segment_1s_er", time_resolution=1.0),
)
