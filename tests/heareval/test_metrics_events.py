"""Event scores against sed_eval 0.2.1 (a test-only dependency) on many random and edge cases."""

import math

import dcase_util
import numpy as np
import pytest
import sed_eval

from heareval.metrics import SCORES

TOLERANCE = 1e-9
EVENT_SCORES = (
    "event_onset_200ms_fms",
    "event_onset_50ms_fms",
    "event_onset_offset_50ms_20perc_fms",
    "segment_1s_er",
)


SED_EVAL_METRICS = {
    # hear-eval-kit 2021.1.3's sed_eval settings for each event score
    "event_onset_200ms_fms": (
        sed_eval.sound_event.EventBasedMetrics,
        {"evaluate_onset": True, "evaluate_offset": False, "t_collar": 0.2},
    ),
    "event_onset_50ms_fms": (
        sed_eval.sound_event.EventBasedMetrics,
        {"evaluate_onset": True, "evaluate_offset": False, "t_collar": 0.05},
    ),
    "event_onset_offset_50ms_20perc_fms": (
        sed_eval.sound_event.EventBasedMetrics,
        {
            "evaluate_onset": True,
            "evaluate_offset": True,
            "t_collar": 0.05,
            "percentage_of_length": 0.2,
        },
    ),
    "segment_1s_er": (sed_eval.sound_event.SegmentBasedMetrics, {"time_resolution": 1.0}),
}


def _container(events_by_file):
    # heareval's conversion: ms -> s, labels as strings, one container for all files
    return dcase_util.containers.MetaDataContainer(
        [
            {
                "event_label": str(event["label"]),
                "event_onset": event["start"] / 1000.0,
                "event_offset": event["end"] / 1000.0,
                "file": name,
            }
            for name, events in events_by_file.items()
            for event in events
        ]
    )


def sed_eval_scores(predicted, reference, labels, files=None):
    """heareval's scoring loop; files defaults to the union of both dicts (see events.py)."""
    if files is None:
        files = list(predicted) + [name for name in reference if name not in predicted]
    estimated_events, reference_events = _container(predicted), _container(reference)
    results = {}
    for name, (metric_class, params) in SED_EVAL_METRICS.items():
        metrics = metric_class(event_label_list=[str(label) for label in labels], **params)
        for filename in files:
            metrics.evaluate(
                reference_event_list=reference_events.filter(filename=filename),
                estimated_event_list=estimated_events.filter(filename=filename),
            )
        overall = metrics.results_overall_metrics()
        results[name] = overall["error_rate"] if name == "segment_1s_er" else overall["f_measure"]
    return results


def _same(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    return abs(ours - theirs) <= TOLERANCE


def assert_same_as_sed_eval(predicted, reference, labels):
    expected = sed_eval_scores(predicted, reference, labels)
    for name in EVENT_SCORES:
        primary, details = SCORES[name](predicted, reference, labels)
        for key, value in details.items():
            assert _same(value, expected[name][key]), (name, key, value, predicted, reference)
        assert primary is details[EXPECTED_PRIMARY[name]]


EXPECTED_PRIMARY = {name: "f_measure" for name in EVENT_SCORES[:3]} | {
    "segment_1s_er": "error_rate"
}


def _event(rng, label, start, duration):
    return {"label": label, "start": float(start), "end": float(start + duration)}


def _random_file(rng, labels):
    """Reference and predicted events of one file on a 25 ms grid, so that onsets often differ by
    exactly 50 or 200 ms (the collars), plus some off-grid times."""
    grid = rng.random() < 0.8
    reference = []
    for _ in range(int(rng.integers(0, 7))):
        start = rng.integers(0, 160) * 25.0 if grid else rng.random() * 4000
        duration = rng.integers(0, 60) * 25.0 if grid else rng.random() * 1500
        reference.append(_event(rng, labels[rng.integers(len(labels))], start, duration))
    predicted = []
    for event in reference:
        if rng.random() < 0.75:
            start = max(0.0, event["start"] + rng.integers(-9, 10) * 25.0)
            end = max(start, event["end"] + rng.integers(-9, 10) * 25.0)
            label = event["label"] if rng.random() < 0.8 else labels[rng.integers(len(labels))]
            predicted.append({"label": label, "start": start, "end": end})
    for _ in range(int(rng.integers(0, 4))):
        start = rng.integers(0, 160) * 25.0
        predicted.append(
            _event(rng, labels[rng.integers(len(labels))], start, 25 * rng.integers(9))
        )
    rng.shuffle(predicted)
    return predicted, reference


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    labels = [f"label{i}" for i in range(int(rng.integers(1, 4)))]
    predicted, reference = {}, {}
    for i in range(int(rng.integers(1, 4))):
        file_predicted, file_reference = _random_file(rng, labels)
        if rng.random() > 0.1:
            predicted[f"clip{i}.wav"] = file_predicted
        if rng.random() > 0.1:
            reference[f"clip{i}.wav"] = file_reference
    return predicted, reference, labels


@pytest.mark.parametrize("first_seed", range(0, 200, 50))
def test_random_cases_equal_sed_eval(first_seed):
    for seed in range(first_seed, first_seed + 50):
        assert_same_as_sed_eval(*_random_case(seed))


def test_heareval_loop_over_predicted_files_gives_the_same_numbers():
    for seed in range(20):
        predicted, reference, labels = _random_case(seed)
        predicted = {name: predicted.get(name, []) for name in set(predicted) | set(reference)}
        expected = sed_eval_scores(predicted, reference, labels, files=list(predicted))
        for name in EVENT_SCORES:
            primary = SCORES[name](predicted, reference, labels)[0]
            assert _same(primary, expected[name][EXPECTED_PRIMARY[name]])


def test_reference_file_missing_from_predictions_counts_as_missed():
    reference = {"a.wav": [{"label": "x", "start": 0.0, "end": 500.0}]}
    reference["b.wav"] = [{"label": "x", "start": 100.0, "end": 800.0}]
    predicted = {"a.wav": [{"label": "x", "start": 0.0, "end": 500.0}]}
    primary, details = SCORES["event_onset_200ms_fms"](predicted, reference, ["x"])
    assert details == {"f_measure": 2 / 3, "precision": 1.0, "recall": 0.5}
    assert_same_as_sed_eval(predicted, reference, ["x"])


def test_no_predicted_events_gives_nan_precision_and_f():
    reference = {"a.wav": [{"label": "x", "start": 0.0, "end": 500.0}], "b.wav": []}
    predicted = {"a.wav": [], "b.wav": []}
    primary, details = SCORES["event_onset_50ms_fms"](predicted, reference, ["x", "y"])
    assert math.isnan(primary) and math.isnan(details["precision"]) and details["recall"] == 0.0
    assert SCORES["segment_1s_er"](predicted, reference, ["x", "y"])[0] == pytest.approx(1.0)
    assert_same_as_sed_eval(predicted, reference, ["x", "y"])


def test_files_without_reference_events_and_empty_inputs():
    predicted = {"a.wav": [{"label": "y", "start": 1000.0, "end": 2500.0}], "b.wav": []}
    reference = {"a.wav": [], "b.wav": []}
    assert_same_as_sed_eval(predicted, reference, ["x", "y"])
    assert_same_as_sed_eval({}, {}, ["x"])
    assert_same_as_sed_eval({"a.wav": []}, {"a.wav": []}, ["x"])


def test_collar_boundaries_follow_float_seconds():
    # |1.0 - 1.2| = 0.19999999999999996 (a hit) but |1.4 - 1.6| = 0.20000000000000018 (a miss)
    reference = {"a.wav": [{"label": "x", "start": 1000.0, "end": 2000.0}]}
    reference["b.wav"] = [{"label": "x", "start": 1400.0, "end": 2000.0}]
    predicted = {"a.wav": [{"label": "x", "start": 1200.0, "end": 2000.0}]}
    predicted["b.wav"] = [{"label": "x", "start": 1600.0, "end": 2000.0}]
    details = SCORES["event_onset_200ms_fms"](predicted, reference, ["x"])[1]
    assert details["precision"] == 0.5
    assert_same_as_sed_eval(predicted, reference, ["x"])
    for shift in (-250, -200, -50, -25, 25, 50, 200, 250):
        moved = {"a.wav": [{"label": "x", "start": 1000.0 + shift, "end": 2000.0 + shift}]}
        assert_same_as_sed_eval(moved, reference, ["x"])


def test_overlapping_events_of_one_label_and_optimal_matching():
    # first-found (greedy) matching pairs estimate 0 with reference 0 and misses reference 1;
    # the maximum matching pairs both
    reference = {"a.wav": [{"label": "x", "start": 1000.0, "end": 3000.0}]}
    reference["a.wav"].append({"label": "x", "start": 1150.0, "end": 1400.0})
    predicted = {"a.wav": [{"label": "x", "start": 1100.0, "end": 1500.0}]}
    predicted["a.wav"].append({"label": "x", "start": 950.0, "end": 2900.0})
    assert SCORES["event_onset_200ms_fms"](predicted, reference, ["x"])[0] == 1.0
    assert_same_as_sed_eval(predicted, reference, ["x"])


def test_segment_discretisation():
    # segments 0-2 for the reference, 2-3 for the prediction: [0.2, 2.1) s and [2.5, 3.0) s
    reference = {"a.wav": [{"label": "x", "start": 200.0, "end": 2100.0}]}
    predicted = {"a.wav": [{"label": "y", "start": 2500.0, "end": 3000.0}]}
    primary, details = SCORES["segment_1s_er"](predicted, reference, ["x", "y"])
    # segment 2 holds one substitution, segments 0 and 1 deletions: N = 3
    assert details["substitution_rate"] == pytest.approx(1 / 3)
    assert details["deletion_rate"] == pytest.approx(2 / 3)
    assert details["insertion_rate"] == 0.0
    assert_same_as_sed_eval(predicted, reference, ["x", "y"])


def test_numeric_labels_are_compared_as_strings():
    reference = {"a.wav": [{"label": 60, "start": 0.0, "end": 500.0}]}
    predicted = {"a.wav": [{"label": "60", "start": 10.0, "end": 400.0}]}
    assert SCORES["event_onset_50ms_fms"](predicted, reference, [60, 61])[0] == 1.0


def test_invalid_events_are_refused_with_the_file_named():
    reference = {"a.wav": [{"label": "x", "start": 0.0, "end": 500.0}]}
    with pytest.raises(ValueError, match="'b.wav'"):
        SCORES["segment_1s_er"]({"b.wav": [{"label": "z", "start": 0, "end": 1}]}, reference, ["x"])
    with pytest.raises(ValueError, match="start <= end"):
        SCORES["event_onset_50ms_fms"]({"a.wav": [{"label": "x", "start": 9, "end": 1}]}, {}, ["x"])


def test_registry_attributes():
    for name in EVENT_SCORES:
        assert SCORES[name].name == name and SCORES[name].is_event
        assert SCORES[name].maximize == (name != "segment_1s_er")


def test_dense_overlapping_cases_equal_sed_eval():
    # many close events of few labels: large connected hit graphs for the maximum matching
    for seed in range(30):
        rng = np.random.default_rng(1000 + seed)
        labels = ["a", "b"]
        reference, predicted = {}, {}
        for name in ("x.wav", "y.wav"):
            reference[name] = [
                _event(
                    rng, labels[rng.integers(2)], rng.integers(0, 60) * 25.0, 25 * rng.integers(40)
                )
                for _ in range(int(rng.integers(10, 30)))
            ]
            predicted[name] = [
                _event(
                    rng, labels[rng.integers(2)], rng.integers(0, 60) * 25.0, 25 * rng.integers(40)
                )
                for _ in range(int(rng.integers(10, 30)))
            ]
        assert_same_as_sed_eval(predicted, reference, labels)
