"""The HEAR downstream protocol (EVAL.md §3.4): rotations, grid search, retraining, test.

Seeds: every training run derives its seeds from (run seed, rotation, configuration) with sha256,
so a configuration gets the same initial weights and dropout masks whether it is trained alone or
in a batched grid, and a fixed run seed reproduces every score exactly on the same device.
"""

from __future__ import annotations

import hashlib
import json
import math
import time

import numpy as np
import torch

from heareval.predictions.data import TaskData
from heareval.predictions.events import group_frames, postprocessing_grid, predict_events
from heareval.predictions.grid import build_grid, sample_grid
from heareval.predictions.mlp import loss_per_config, predict, train_grid
from heareval.predictions.probes import KNN_K_GRID, neighbour_scores


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


def _loss_from_probs(probs: np.ndarray, targets: np.ndarray, multilabel: bool) -> float:
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    if multilabel:
        return float(-(targets * np.log(p) + (1 - targets) * np.log(1 - p)).mean())
    return float(-np.log(p[np.arange(len(p)), targets.argmax(1)]).mean())


def _search(task, probe, configs, x, y, rotation, evaluator, seed, r):
    """Train `configs` on one rotation; returns [(config, value, epoch, pp, predictor)]."""
    train_rows, valid_rows = task.rows(rotation["train"]), task.rows(rotation["valid"])
    if probe == "knn":
        ks = [c["n_neighbors"] for c in configs]
        found = neighbour_scores(x[train_rows], y[train_rows], x[valid_rows], ks)
        out = []
        for c in configs:
            probs = found[c["n_neighbors"]]
            value, pp = evaluator(
                probs, _loss_from_probs(probs, evaluator.targets, evaluator.multilabel)
            )
            out.append((c, value, 0, pp, ("knn", train_rows, c["n_neighbors"])))
        return out
    trained = train_grid(
        configs,
        x,
        y,
        train_rows,
        valid_rows,
        evaluator,
        maximize=evaluator.maximize,
        seeds=[derive_seed(seed, r, c) for c in configs],
        shuffle_seed=derive_seed(seed, r, "shuffle"),
    )
    return [(t.config, t.value, t.epoch, t.postprocessing, ("mlp", t.state)) for t in trained]


def _test(task, predictor, x, y, rows, multilabel):
    if predictor[0] == "knn":
        _, train_rows, k = predictor
        probs = neighbour_scores(x[train_rows], y[train_rows], x[rows], [k])[k]
        return probs, None, _loss_from_probs(probs, task.y[rows], multilabel)
    probs, logits = predict(predictor[1], x, rows, multilabel)
    target = y[torch.as_tensor(rows, device=x.device)]
    loss = float(loss_per_config(logits, target, multilabel)[0])
    return probs[0].cpu().numpy(), logits[0].cpu().numpy(), loss


def candidate_configs(task, probe, grid, grid_points, seed):
    """The configurations searched on the first rotation."""
    if probe == "knn":
        return [{"n_neighbors": k} for k in KNN_K_GRID]
    return sample_grid(build_grid(grid, task.metadata, probe), grid_points, seed)


def _rank(records: list, maximize: bool) -> list:
    """Records sorted best first (NaN last); ties keep grid order (a stable sort)."""

    def key(record):
        value = record[1]
        if math.isnan(value):
            return math.inf
        return -value if maximize else value

    return sorted(records, key=key)


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
    if scores is None:
        from heareval.metrics import SCORES as scores
    x = torch.as_tensor(task.x, device=device)
    y = torch.as_tensor(task.y, device=device)
    rotations = fold_rotations(task.metadata)
    configs = candidate_configs(task, probe, grid, grid_points, seed)
    folds, predictions, best = {}, {}, None
    for r, rotation in enumerate(rotations):
        started = time.time()
        valid = Evaluator(task, rotation["valid"], scores)
        if r == 0:
            ranked = _rank(
                _search(task, probe, configs, x, y, rotation, valid, seed, r), valid.maximize
            )
            best = ranked[0]
            grid_record = [
                {"hparams": c, "validation_score": v, "epoch": e, "postprocessing": list(pp)}
                for c, v, e, pp, _ in ranked
            ]
            chosen = best
        else:
            (chosen,) = _search(task, probe, [best[0]], x, y, rotation, valid, seed, r)
        config, value, epoch, pp, predictor = chosen
        test = Evaluator(task, rotation["test"], scores)
        rows = task.rows(rotation["test"])
        probs, logits, loss = _test(task, predictor, x, y, rows, test.multilabel)
        key = "|".join(rotation["test"])
        folds[key] = {
            **test.report(probs, loss, pp),
            "validation_score": float(value),
            "epoch": int(epoch),
            "time_in_min": (time.time() - started) / 60,
        }
        predictions[key] = {"target": task.y[rows], "prediction": probs}
        if logits is not None:
            predictions[key]["prediction_logit"] = logits
        if task.is_event:
            predictions[key].update(
                target_events=test.reference,
                predicted_events=test.events(probs, pp),
                timestamp=test.frames,
                postprocessing=list(pp),
            )
    return {
        "folds": folds,
        "predictions": predictions,
        "hparams": best[0],
        "postprocessing": [list(p) for p in best[3]],
        "score_mode": "max" if valid.maximize else "min",
        "grid": grid_record,
    }
