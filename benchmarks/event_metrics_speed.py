"""Time the event scores on a DCASE 2016 task 2 sized validation set, against sed_eval.

72 files x 120 s, 11 labels, reference events ~ tens per file; predictions come from noisy frame
activations at a 50 ms hop, post-processed as heareval does (median filter 250 ms, threshold 0.5,
minimum duration 125 ms). Prints, per score, our time (median of repeats), sed_eval's time (one
run) and both values.

    PYTHONPATH=. python benchmarks/event_metrics_speed.py [--repeats 20] [--no-sed-eval]
"""

import argparse
import time

import numpy as np
from scipy.ndimage import median_filter

from heareval.metrics import SCORES

N_FILES, DURATION_S, HOP_MS = 72, 120.0, 50.0
LABELS = [f"event{i:02d}" for i in range(11)]
NAMES = (
    "event_onset_200ms_fms",
    "event_onset_50ms_fms",
    "event_onset_offset_50ms_20perc_fms",
    "segment_1s_er",
)


def make_reference(rng: np.random.Generator) -> dict:
    reference = {}
    for i in range(N_FILES):
        events = []
        for _ in range(int(rng.integers(15, 30))):
            start = rng.uniform(0, DURATION_S - 4) * 1000
            duration = rng.uniform(300, 3000)
            events.append(
                {"label": LABELS[rng.integers(11)], "start": start, "end": start + duration}
            )
        reference[f"file{i:03d}.wav"] = sorted(events, key=lambda e: e["start"])
    return reference


def frames_to_events(probabilities: np.ndarray, timestamps: np.ndarray) -> list:
    """Median filter, threshold 0.5, runs of active frames -> events of >= 125 ms.

    The protocol's post-processing at one grid point (docs/protocol.md, event post-processing).
    """
    width = round(250 / HOP_MS)
    active = median_filter(probabilities, size=(width, 1)) > 0.5
    events = []
    for k, label in enumerate(LABELS):
        change = np.diff(np.r_[0, active[:, k].astype(np.int8), 0])
        for first, stop in zip(np.flatnonzero(change == 1), np.flatnonzero(change == -1)):
            start, end = timestamps[first], timestamps[stop - 1]
            if end - start >= 125:
                events.append({"label": label, "start": float(start), "end": float(end)})
    return sorted(events, key=lambda e: e["start"])


def make_predictions(reference: dict, rng: np.random.Generator) -> dict:
    timestamps = np.arange(int(DURATION_S * 1000 / HOP_MS)) * HOP_MS
    predicted = {}
    for name, events in reference.items():
        truth = np.zeros((timestamps.size, len(LABELS)))
        for event in events:
            on = (timestamps >= event["start"]) & (timestamps <= event["end"])
            truth[on, LABELS.index(event["label"])] = 1.0
        noisy = 0.6 * truth + rng.normal(0.2, 0.25, truth.shape)
        predicted[name] = frames_to_events(noisy, timestamps)
    return predicted


def sed_eval_scores(predicted: dict, reference: dict) -> dict:
    import dcase_util
    import sed_eval

    def container(events_by_file):
        return dcase_util.containers.MetaDataContainer(
            [
                {
                    "event_label": str(e["label"]),
                    "event_onset": e["start"] / 1000.0,
                    "event_offset": e["end"] / 1000.0,
                    "file": name,
                }
                for name, events in events_by_file.items()
                for e in events
            ]
        )

    event_based = sed_eval.sound_event.EventBasedMetrics
    configs = {
        NAMES[0]: (event_based, dict(evaluate_onset=True, evaluate_offset=False, t_collar=0.2)),
        NAMES[1]: (event_based, dict(evaluate_onset=True, evaluate_offset=False, t_collar=0.05)),
        NAMES[2]: (event_based, dict(t_collar=0.05, percentage_of_length=0.2)),
        NAMES[3]: (sed_eval.sound_event.SegmentBasedMetrics, dict(time_resolution=1.0)),
    }
    results = {}
    for name, (metric_class, params) in configs.items():
        started = time.perf_counter()
        estimated, annotated = container(predicted), container(reference)
        metrics = metric_class(event_label_list=LABELS, **params)
        for filename in predicted:
            metrics.evaluate(
                annotated.filter(filename=filename), estimated.filter(filename=filename)
            )
        overall = metrics.results_overall_metrics()
        value = overall["error_rate" if name == NAMES[3] else "f_measure"]
        value = value["error_rate" if name == NAMES[3] else "f_measure"]
        results[name] = (time.perf_counter() - started, value)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-sed-eval", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference = make_reference(rng)
    predicted = make_predictions(reference, rng)
    n_ref = sum(map(len, reference.values()))
    n_sys = sum(map(len, predicted.values()))
    print(f"{N_FILES} files x {DURATION_S:.0f} s, {len(LABELS)} labels, hop {HOP_MS:.0f} ms:")
    print(f"{n_ref} reference events, {n_sys} predicted events\n")
    theirs = {} if args.no_sed_eval else sed_eval_scores(predicted, reference)
    print(f"{'score':36s} {'ours ms':>9s} {'sed_eval ms':>12s} {'speed-up':>9s} {'value':>10s} ok")
    total = 0.0
    for name in NAMES:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            value = SCORES[name](predicted, reference, LABELS)[0]
            times.append(time.perf_counter() - started)
        ours = float(np.median(times))
        total += ours
        their_time, their_value = theirs.get(name, (float("nan"), float("nan")))
        same = "yes" if abs(value - their_value) <= 1e-9 else "-" if not theirs else "NO"
        print(
            f"{name:36s} {ours * 1e3:9.2f} {their_time * 1e3:12.1f} "
            f"{their_time / ours:9.0f} {value:10.6f} {same}"
        )
    print(
        f"\nall four event scores per validation: {total * 1e3:.1f} ms (median of {args.repeats})"
    )


if __name__ == "__main__":
    main()
