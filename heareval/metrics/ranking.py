"""Per-class average precision and ROC AUC, numerically equal to scikit-learn's.

scikit-learn is a test-only dependency; these functions reproduce
`average_precision_score(..., average=None)` and `roc_auc_score(..., average=None)` for
multilabel-indicator targets (one column per class), including their handling of tied scores and
of classes whose targets hold a single value.
"""

import warnings

import numpy as np


def check_binary_targets(targets: np.ndarray, predictions: np.ndarray) -> None:
    """Checks that targets and predictions are N x K and that targets are 0/1.

    Raises:
        ValueError: shapes differ, are not 2-D, hold no rows, targets are not 0/1 or predictions
            are not finite (the conditions under which scikit-learn refuses the input).
    """
    if targets.ndim != 2 or predictions.shape != targets.shape:
        raise ValueError(
            f"predictions {predictions.shape} and targets {targets.shape} must both be N x K "
            "arrays of the same shape (one column per class)"
        )
    if targets.shape[0] == 0:
        raise ValueError("no rows to score: predictions and targets are empty")
    if not np.isin(targets, (0, 1)).all():
        raise ValueError("targets must be one-hot or multi-hot (only 0 and 1)")
    if not np.isfinite(predictions).all():
        raise ValueError("predictions contain NaN or infinity")


def _threshold_counts(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positive counts at each distinct score, highest score first.

    Tied scores form one threshold, as in scikit-learn's `_binary_clf_curve`.
    """
    order = np.argsort(y_score, kind="mergesort")[::-1]
    score = y_score[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
    tps = np.cumsum(y_true[order], dtype=np.float64)[last_of_tie]
    fps = 1.0 + last_of_tie - tps
    return tps, fps


def average_precision(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-class uninterpolated average precision (the step-wise sum over thresholds).

    A class with no positive target scores 0.0 with a warning, as scikit-learn (>= 1.3) does:
    recall is then taken as 1 at every threshold and precision at the first threshold is 0.

    Args:
        targets: N x K array of 0/1.
        predictions: N x K scores.

    Returns:
        Array of K average precisions.
    """
    check_binary_targets(targets, predictions)
    result = np.zeros(targets.shape[1])
    for k in range(targets.shape[1]):
        tps, fps = _threshold_counts(targets[:, k], predictions[:, k].astype(np.float64))
        if tps[-1] == 0:
            continue
        precision = tps / (tps + fps)
        recall = tps / tps[-1]
        result[k] = max(0.0, float(np.sum(np.diff(recall, prepend=0.0) * precision)))
    missing = np.flatnonzero(targets.sum(axis=0) == 0)
    if missing.size:
        warnings.warn(
            f"classes {missing.tolist()} have no positive target; their average precision is 0 "
            "(as in scikit-learn)",
            UserWarning,
            stacklevel=2,
        )
    return result


def roc_auc(targets: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-class area under the ROC curve (trapezoids, tied scores grouped into one point).

    A class whose targets hold a single value has no ROC curve: its AUC is NaN with a warning,
    as scikit-learn (>= 1.6) returns it (older versions raised ValueError, which heareval mapped
    to NaN).

    Args:
        targets: N x K array of 0/1.
        predictions: N x K finite scores.

    Returns:
        Array of K AUCs (NaN where undefined).
    """
    check_binary_targets(targets, predictions)
    result = np.full(targets.shape[1], np.nan)
    for k in range(targets.shape[1]):
        tps, fps = _threshold_counts(targets[:, k], predictions[:, k].astype(np.float64))
        if tps[-1] == 0 or fps[-1] == 0:
            continue
        tpr = np.r_[0.0, tps / tps[-1]]
        fpr = np.r_[0.0, fps / fps[-1]]
        result[k] = float(np.trapezoid(tpr, fpr))
    undefined = np.flatnonzero(np.isnan(result))
    if undefined.size:
        warnings.warn(
            f"classes {undefined.tolist()} have a single target value; their ROC AUC is undefined "
            "(NaN)",
            UserWarning,
            stacklevel=2,
        )
    return result
