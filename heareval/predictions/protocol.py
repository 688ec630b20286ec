"""The HEAR downstream protocol: a grid search on the first rotation of the splits, the chosen
configuration retrained on every other rotation, and each rotation's test split scored.

The probes are the estimators of probes.py, fitted through `ProbeGrid` on every rotation (the
search on the first, a grid of the chosen configuration on the others).

Seeds: every training run derives its seeds from (run seed, rotation, configuration) with sha256,
so a configuration gets the same initial weights and dropout masks whether it is trained alone or
in a batched grid, and a fixed run seed reproduces every score exactly on the same device.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from typing import Any

import numpy as np
import torch

from heareval.predictions.data import TaskData
from heareval.predictions.estimator import Estimator
from heareval.predictions.grid import build_grid, sample_grid
from heareval.predictions.probes import (
    KNN_K_GRID,
    KNNProbe,
    LinearProbe,
    MLPProbe,
    ProbeGrid,
    take_rows,
)


def derive_seed(*parts) -> int:
    """A 63-bit seed from any JSON-able parts (sorted keys, so dict order does not matter)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return int(hashlib.sha256(text.encode()).hexdigest()[:15], 16)


def fold_rotations(metadata: dict) -> list[dict[str, list[str]]]:
    """Train/valid/test split names per rotation.

    trainvaltest gives one rotation; k-fold gives k: test = fold i, valid = fold (i+1) mod k,
    train = the remaining folds (sorted).
    """
    if metadata["split_mode"] == "trainvaltest":
        return [{"train": ["train"], "valid": ["valid"], "test": ["test"]}]
    folds = sorted(metadata["splits"])
    k = len(folds)
    if k < 3:
        raise ValueError(f"{metadata.get('task_name')}: k-fold needs at least 3 folds, got {folds}")
    return [
        {
            "train": [f for j, f in enumerate(folds) if j not in (i, (i + 1) % k)],
            "valid": [folds[(i + 1) % k]],
            "test": [folds[i]],
        }
        for i in range(k)
    ]


class Evaluator:
    """Scores the predictions of one group of splits with the task's metrics.

    Called as a validator, `(probabilities, loss) -> (monitored value, post-processing)`: the
    primary score (event tasks: the best over the post-processing grid, NaN counted as 0), or the
    loss when the task sets use_scoring_for_early_stopping to false.
    """

    def __init__(self, task: TaskData, splits: list[str], scores: dict):
        meta = task.metadata
        self.task, self.splits = task, splits
        self.scores = [scores[name] for name in meta["evaluation"]]
        self.primary = self.scores[0]
        self.multilabel = meta["prediction_type"] == "multilabel"
        self.use_scoring = meta.get("use_scoring_for_early_stopping", True)
        self.maximize = self.primary.maximize if self.use_scoring else False
        rows = task.rows(splits)
        self.targets = task.y[rows]
        if task.is_event:
            # Imported here: events.py imports scipy.ndimage, which only event tasks need.
            from heareval.predictions.events import group_frames, postprocessing_grid

            frames = [f for s in splits for f in task.frames[s]]
            self.frames = frames
            self.grouped = group_frames(frames)
            self.reference = {k: v for s in splits for k, v in task.events[s].items()}
            self.grid = postprocessing_grid(meta)
            if not self.use_scoring and len(self.grid) != 1:
                raise ValueError(
                    f"{meta['task_name']}: without scoring for early stopping the event "
                    "post-processing grid must hold exactly one point"
                )

    def events(self, probs, postprocessing):
        from heareval.predictions.events import predict_events

        return predict_events(probs, self.grouped, self.task.vocabulary, postprocessing)

    def score(self, score, probs, postprocessing=()):
        if self.task.is_event:
            predicted = self.events(probs, postprocessing)
            return score(predicted, self.reference, self.task.vocabulary)
        return score(probs, self.targets)

    def __call__(self, probs: np.ndarray, loss: float) -> tuple[float, tuple]:
        if not self.use_scoring:
            return loss, self.grid[0] if self.task.is_event else ()
        if not self.task.is_event:
            return float(self.score(self.primary, probs)[0]), ()
        best_value, best_pp = -math.inf if self.maximize else math.inf, self.grid[0]
        for pp in self.grid:
            value = float(self.score(self.primary, probs, pp)[0])
            value = 0.0 if math.isnan(value) else value
            if (value > best_value) if self.maximize else (value < best_value):
                best_value, best_pp = value, pp
        return best_value, best_pp

    def report(self, probs, loss, postprocessing=()) -> dict[str, float]:
        """Every metric with its sub-scores, in the old kit's `test_*` naming."""
        out = {"test_loss": float(loss)}
        for i, score in enumerate(self.scores):
            primary, details = self.score(score, probs, postprocessing)
            if i == 0:
                out["test_score"] = float(primary)
            out[f"test_{score.name}"] = float(primary)
            for key, value in details.items():
                out[f"test_{score.name}_{key}"] = float(value)
        return out


def make_probe(probe: str, multilabel: bool, shuffle_seed: int) -> Estimator:
    """The unfitted estimator of `probe` ("mlp", "linear" or "knn"); configurations set the rest."""
    if probe == "knn":
        return KNNProbe(multilabel=multilabel)
    if probe == "linear":
        return LinearProbe(multilabel=multilabel, shuffle_seed=shuffle_seed)
    return MLPProbe(multilabel=multilabel, shuffle_seed=shuffle_seed)


def make_search(probe: str, configs: list[dict], valid: Evaluator, seed: int, r: int) -> ProbeGrid:
    """The grid of `configs` for rotation r, seeded from (run seed, rotation, configuration)."""
    template = make_probe(probe, valid.multilabel, derive_seed(seed, r, "shuffle"))
    seeds = None if probe == "knn" else [derive_seed(seed, r, c) for c in configs]
    return ProbeGrid(template, configs, seeds=seeds)


def candidate_configs(task, probe, grid, grid_points, seed):
    """The configurations searched on the first rotation."""
    if probe == "knn":
        return [{"n_neighbors": k} for k in KNN_K_GRID]
    return sample_grid(build_grid(grid, task.metadata, probe), grid_points, seed)


def _test_fold(task, chosen, splits: list[str], x, y, scores: dict) -> tuple[dict, dict]:
    """Scores (old schema, without time) and prediction arrays of a fitted probe on `splits`."""
    pp = chosen.postprocessing_
    test = Evaluator(task, splits, scores)
    rows = task.rows(splits)
    probs, logits, loss = chosen.predict_with_loss(take_rows(x, rows), take_rows(y, rows))
    fold = {
        **test.report(probs, loss, pp),
        "validation_score": float(chosen.validation_score_),
        "epoch": int(chosen.best_epoch_),
    }
    arrays = {"target": task.y[rows], "prediction": probs}
    if logits is not None:
        arrays["prediction_logit"] = logits
    if task.is_event:
        arrays.update(
            target_events=test.reference,
            predicted_events=test.events(probs, pp),
            timestamp=test.frames,
            postprocessing=list(pp),
        )
    return fold, arrays


def _default_scores() -> dict:
    # Imported on first use: the metrics import scipy.stats, most of a second.
    from heareval.metrics import SCORES

    return SCORES


def run_protocol(
    task: TaskData,
    *,
    grid: str = "default",
    grid_points: int = 8,
    seed: int = 42,
    probe: str = "mlp",
    device: str = "cpu",
    scores: dict | None = None,
) -> dict:
    """Grid search on the first rotation, the best configuration retrained on every other one.

    Returns:
        dict with `folds` (test fold key -> old-schema scores), `predictions` (test fold key ->
        arrays), `hparams`, `postprocessing`, `score_mode` and `grid` (every searched
        configuration with its validation value and best epoch, best first).
    """
    scores = _default_scores() if scores is None else scores
    x = torch.as_tensor(task.x, device=device)
    y = torch.as_tensor(task.y, device=device)
    configs = candidate_configs(task, probe, grid, grid_points, seed)
    folds, predictions = {}, {}
    best_config: dict = {}
    best_postprocessing: tuple = ()
    grid_record: list[dict] = []
    for r, rotation in enumerate(fold_rotations(task.metadata)):
        started = time.time()
        valid = Evaluator(task, rotation["valid"], scores)
        searched = make_search(probe, configs if r == 0 else [best_config], valid, seed, r).fit(
            x,
            y,
            train_rows=task.rows(rotation["train"]),
            valid_rows=task.rows(rotation["valid"]),
            validate=valid,
            maximize=valid.maximize,
        )
        chosen: Any = searched.best_estimator_
        if r == 0:
            best_config, best_postprocessing = searched.best_params_, chosen.postprocessing_
            grid_record = [searched.results_[i] for i in searched.ranking_]
        key = "|".join(rotation["test"])
        folds[key], predictions[key] = _test_fold(task, chosen, rotation["test"], x, y, scores)
        folds[key]["time_in_min"] = (time.time() - started) / 60
    return {
        "folds": folds,
        "predictions": predictions,
        "hparams": best_config,
        "postprocessing": [list(p) for p in best_postprocessing],
        "score_mode": "max" if valid.maximize else "min",
        "grid": grid_record,
    }
