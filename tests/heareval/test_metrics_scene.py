"""Scene scores against scikit-learn (a test-only dependency) on many random and edge cases."""

import math
import warnings

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from heareval.metrics import SCORES
from heareval.metrics.ranking import average_precision, roc_auc

TOLERANCE = 1e-9


def _same(ours: float, theirs: float) -> bool:
    if math.isnan(theirs) or math.isnan(ours):
        return math.isnan(theirs) and math.isnan(ours)
    if math.isinf(theirs) or math.isinf(ours):
        return ours == theirs
    return abs(ours - theirs) <= TOLERANCE


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)


def sklearn_map(targets, predictions):
    return average_precision_score(targets, predictions, average="macro")


def sklearn_aucroc(targets, predictions):
    # heareval's aucroc: roc_auc_score macro, ValueError -> NaN.
    try:
        return roc_auc_score(targets, predictions, average="macro")
    except ValueError:
        return math.nan


def sklearn_d_prime(targets, predictions):
    # heareval's d_prime: per-class AUC, sqrt(2) * ppf, mean; ValueError -> NaN.
    try:
        auc = roc_auc_score(targets, predictions, average=None)
    except ValueError:
        return math.nan
    return float(np.mean(norm.ppf(auc) * np.sqrt(2.0)))


def _random_case(rng: np.random.Generator):
    n = int(rng.integers(1, 25))
    k = int(rng.integers(1, 6))
    kind = rng.integers(4)
    if kind == 0:  # one-hot multiclass
        targets = np.eye(k)[rng.integers(k, size=n)]
    else:  # multi-hot with a random density, so columns are often all 0 or all 1
        targets = (rng.random((n, k)) < rng.random()).astype(float)
    if rng.random() < 0.5:  # coarse scores: many ties
        predictions = rng.integers(0, 4, size=(n, k)) / 4.0
    else:
        predictions = rng.random((n, k))
    if rng.random() < 0.1:
        predictions[:] = 0.5
    return predictions, targets


CASES = [_random_case(np.random.default_rng(seed)) for seed in range(300)]


def test_random_cases_equal_sklearn():
    compared = {"mAP": 0, "aucroc_nan": 0, "aucroc": 0}
    for predictions, targets in CASES:
        ours = _quiet(SCORES["mAP"], predictions, targets)[0]
        assert _same(ours, _quiet(sklearn_map, targets, predictions)), (predictions, targets)
        compared["mAP"] += 1
        theirs = _quiet(sklearn_aucroc, targets, predictions)
        assert _same(_quiet(SCORES["aucroc"], predictions, targets)[0], theirs), (
            predictions,
            targets,
        )
        compared["aucroc_nan" if math.isnan(theirs) else "aucroc"] += 1
        theirs = _quiet(sklearn_d_prime, targets, predictions)
        assert _same(_quiet(SCORES["d_prime"], predictions, targets)[0], theirs), (
            predictions,
            targets,
        )
    # the random cases exercise both defined and undefined AUCs
    assert compared["aucroc"] > 50 and compared["aucroc_nan"] > 50


def test_per_class_values_equal_sklearn():
    for predictions, targets in CASES[:100]:
        if targets.shape[1] < 2:
            continue
        expected = _quiet(average_precision_score, targets, predictions, average=None)
        np.testing.assert_allclose(
            _quiet(average_precision, targets, predictions), expected, rtol=0, atol=TOLERANCE
        )
        expected = _quiet(roc_auc_score, targets, predictions, average=None)
        np.testing.assert_allclose(
            _quiet(roc_auc, targets, predictions), expected, rtol=0, atol=TOLERANCE
        )


def test_accuracies():
    rng = np.random.default_rng(0)
    for _ in range(100):
        n, k = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        targets = np.eye(k)[rng.integers(k, size=n)]
        predictions = rng.integers(0, 3, size=(n, k)).astype(float)  # ties: first index wins
        hits = [np.argmax(p) == np.argmax(t) for p, t in zip(predictions, targets)]
        chroma = [np.argmax(p) % 12 == np.argmax(t) % 12 for p, t in zip(predictions, targets)]
        assert SCORES["top1_acc"](predictions, targets)[0] == sum(hits) / n
        assert SCORES["pitch_acc"](predictions, targets)[0] == sum(hits) / n
        assert SCORES["chroma_acc"](predictions, targets)[0] == sum(chroma) / n


def test_chroma_counts_octave_errors_as_correct():
    targets = np.eye(25)[[0, 13, 24]]
    predictions = np.eye(25)[[12, 1, 0]]
    assert SCORES["top1_acc"](predictions, targets)[0] == 0.0
    assert SCORES["chroma_acc"](predictions, targets)[0] == 1.0


def test_class_without_positives_scores_zero_ap_with_warning():
    targets = np.array([[1, 0], [0, 0], [1, 0]])
    predictions = np.array([[0.2, 0.3], [0.5, 0.1], [0.9, 0.9]])
    with pytest.warns(UserWarning, match="no positive"):
        ours = SCORES["mAP"](predictions, targets)[0]
    with pytest.warns(UserWarning, match="No positive class"):
        theirs = sklearn_map(targets, predictions)
    assert ours == pytest.approx(theirs, abs=TOLERANCE) and ours == pytest.approx(5 / 12)
    assert math.isnan(_quiet(SCORES["aucroc"], predictions, targets)[0])
    assert math.isnan(_quiet(SCORES["d_prime"], predictions, targets)[0])


def test_all_equal_predictions():
    targets = np.eye(3)[[0, 1, 2, 2, 1, 0]]
    predictions = np.full((6, 3), 0.25)
    assert SCORES["aucroc"](predictions, targets)[0] == 0.5
    assert SCORES["d_prime"](predictions, targets)[0] == 0.0
    assert SCORES["mAP"](predictions, targets)[0] == pytest.approx(
        sklearn_map(targets, predictions)
    )


def test_perfect_ranking_gives_infinite_d_prime():
    targets = np.eye(2)[[0, 1, 0, 1]]
    predictions = targets * 0.8 + 0.1
    assert SCORES["d_prime"](predictions, targets)[0] == sklearn_d_prime(targets, predictions)
    assert SCORES["d_prime"](predictions, targets)[0] == math.inf


def test_invalid_input():
    targets = np.eye(2)[[0, 1]]
    nan_predictions = np.array([[0.1, np.nan], [0.3, 0.4]])
    # sklearn raises ValueError; heareval turned that into NaN for the ROC scores only
    assert math.isnan(sklearn_aucroc(targets, nan_predictions))
    assert math.isnan(SCORES["aucroc"](nan_predictions, targets)[0])
    assert math.isnan(SCORES["d_prime"](nan_predictions, targets)[0])
    with pytest.raises(ValueError):
        sklearn_map(targets, nan_predictions)
    with pytest.raises(ValueError, match="NaN"):
        SCORES["mAP"](nan_predictions, targets)
    with pytest.raises(ValueError, match="same shape"):
        SCORES["top1_acc"](np.zeros((2, 3)), targets)
    with pytest.raises(ValueError, match="non-empty"):
        SCORES["aucroc"](np.zeros((0, 2)), np.zeros((0, 2)))


def test_registry_attributes():
    for name in ("top1_acc", "pitch_acc", "chroma_acc", "mAP", "d_prime", "aucroc"):
        score = SCORES[name]
        assert score.name == name and score.maximize and not score.is_event
        primary, details = score(np.eye(2)[[0, 1]], np.eye(2)[[0, 1]])
        assert isinstance(primary, float) and details == {}
