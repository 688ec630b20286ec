"""Scene (clip-level) scores: accuracies, mAP, d' and ROC AUC.

Every score takes `(predictions, targets)`: N x K post-activation probabilities and N x K
one/multi-hot targets, and returns `(primary, details)`; scene scores have no sub-scores.
"""

import math

import numpy as np
from scipy.stats import norm

from heareval.metrics import Score
from heareval.metrics.ranking import average_precision, check_binary_targets, roc_auc


def _as_pair(predictions, targets) -> tuple[np.ndarray, np.ndarray]:
    predictions = np.asarray(predictions)
    targets = np.asarray(targets)
    if targets.ndim != 2 or predictions.shape != targets.shape or targets.shape[0] == 0:
        raise ValueError(
            f"predictions {predictions.shape} and targets {targets.shape} must both be non-empty "
            "N x K arrays of the same shape (one column per class)"
        )
    return predictions, targets


class SceneScore(Score):
    """Base of the clip-level scores."""

    is_event = False

    def __call__(self, predictions, targets) -> tuple[float, dict[str, float]]:
        """Scores N x K predictions against N x K targets.

        Raises:
            ValueError: the arrays are not non-empty N x K arrays of the same shape.
        """
        predictions, targets = _as_pair(predictions, targets)
        return float(self._compute(predictions, targets)), {}

    def _compute(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        raise NotImplementedError


class Top1Accuracy(SceneScore):
    """Fraction of rows whose highest prediction is the target class (first index on ties)."""

    def _compute(self, predictions, targets):
        return np.mean(np.argmax(predictions, axis=1) == np.argmax(targets, axis=1))


class ChromaAccuracy(SceneScore):
    """Top-1 accuracy modulo 12 on vocabulary indices: octave errors count as correct."""

    def _compute(self, predictions, targets):
        predicted = np.argmax(predictions, axis=1) % 12
        return np.mean(predicted == np.argmax(targets, axis=1) % 12)


class MeanAveragePrecision(SceneScore):
    """Macro average precision; a class with no positive target contributes 0 (as sklearn).

    Invalid input (non-binary targets, non-finite predictions) raises ValueError, as
    `average_precision_score` does.
    """

    def _compute(self, predictions, targets):
        return np.mean(average_precision(targets, predictions))


class _RocScore(SceneScore):
    """Scores built on per-class ROC AUC; inputs sklearn rejects give NaN, as heareval did."""

    def _compute(self, predictions, targets):
        try:
            check_binary_targets(targets, predictions)
        except ValueError:
            return math.nan
        return self._from_auc(roc_auc(targets, predictions))

    def _from_auc(self, auc: np.ndarray) -> float:
        raise NotImplementedError


class AucRoc(_RocScore):
    """Macro ROC AUC; NaN when any class has a single target value."""

    def _from_auc(self, auc):
        return np.mean(auc)


class DPrime(_RocScore):
    """Mean over classes of d' = sqrt(2) * ppf(AUC); NaN when any class AUC is undefined."""

    def _from_auc(self, auc):
        return np.mean(norm.ppf(auc) * np.sqrt(2.0))


SCENE_SCORES = (
    Top1Accuracy("top1_acc"),
    Top1Accuracy("pitch_acc"),
    ChromaAccuracy("chroma_acc"),
    MeanAveragePrecision("mAP"),
    DPrime("d_prime"),
    AucRoc("aucroc"),
)
