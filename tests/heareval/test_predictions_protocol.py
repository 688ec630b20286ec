"""The downstream protocol on tiny synthetic embedding folders where the answer is known."""

import math
from pathlib import Path

import numpy as np
import pytest
from embedding_models.tasks import scene_task

from heareval.predictions.data import TaskData
from heareval.predictions.protocol import fold_rotations, run_protocol


@pytest.fixture(scope="module")
def kfold_task(tmp_path_factory):
    return scene_task(tmp_path_factory.mktemp("kfold"), "new_split_kfold", noise=1.5)


def test_separable_classes_reach_top1_one(tmp_path):
    result = run_protocol(scene_task(tmp_path), grid="faster", grid_points=2, seed=0)
    assert result["folds"]["test"]["test_score"] == 1.0
    assert result["folds"]["test"]["test_top1_acc"] == 1.0
    assert result["folds"]["test"]["test_mAP"] == pytest.approx(1.0)


def test_selected_configuration_has_best_validation_score(kfold_task):
    result = run_protocol(kfold_task, grid="faster", grid_points=6, seed=3)
    grid = result["grid"]
    assert len(grid) == 6
    values = [g["validation_score"] for g in grid]
    assert len(set(values)) > 1, "the grid should not be degenerate"
    assert values == sorted(values, reverse=True)
    assert result["hparams"] == grid[0]["hparams"]
    assert result["folds"]["fold00"]["validation_score"] == max(values)


def test_fold_rotation_uses_each_fold_as_test_once():
    folds = [f"fold{i:02d}" for i in range(5)]
    rotations = fold_rotations({"split_mode": "new_split_kfold", "splits": folds[::-1]})
    assert [r["test"] for r in rotations] == [[f] for f in folds]
    for i, r in enumerate(rotations):
        assert r["valid"] == [folds[(i + 1) % 5]]
        assert sorted(r["train"] + r["valid"] + r["test"]) == folds
        assert len(r["train"]) == 3
    assert fold_rotations({"split_mode": "trainvaltest", "splits": []}) == [
        {"train": ["train"], "valid": ["valid"], "test": ["test"]}
    ]


def test_kfold_run_tests_every_fold_and_seed_reproduces(kfold_task):
    def strip(folds):
        return {k: {m: v for m, v in f.items() if m != "time_in_min"} for k, f in folds.items()}

    first = run_protocol(kfold_task, grid="faster", grid_points=2, seed=7)
    second = run_protocol(kfold_task, grid="faster", grid_points=2, seed=7)
    other = run_protocol(kfold_task, grid="faster", grid_points=2, seed=8)
    assert sorted(first["folds"]) == ["fold00", "fold01", "fold02", "fold03"]
    assert strip(first["folds"]) == strip(second["folds"])
    assert strip(first["folds"]) != strip(other["folds"])
    for fold, arrays in first["predictions"].items():
        assert arrays["prediction"].shape == arrays["target"].shape == (45, 3)


def test_loss_monitoring_when_scoring_is_disabled(tmp_path):
    task = scene_task(tmp_path)
    task.metadata["use_scoring_for_early_stopping"] = False
    result = run_protocol(task, grid="faster", grid_points=3, seed=0)
    assert result["score_mode"] == "min"
    values = [g["validation_score"] for g in result["grid"]]
    assert values == sorted(values) and not any(math.isnan(v) for v in values)


def tiny_task(splits: dict[str, tuple[list, list[str]]], **metadata) -> TaskData:
    """A two-class scene task held in memory: split -> (2-D embeddings, labels "A"/"B")."""
    xs, ys, ranges, start = [], [], {}, 0
    for name, (points, labels) in splits.items():
        xs.append(np.array(points, dtype=np.float32))
        ys.append(np.array([[lab == "A", lab == "B"] for lab in labels], dtype=np.float32))
        ranges[name] = (start, start + len(points))
        start += len(points)
    meta = {
        "task_name": "by_hand",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": "trainvaltest",
        "splits": list(splits),
        "evaluation": ["top1_acc", "mAP"],
        **metadata,
    }
    return TaskData(Path("."), meta, ["A", "B"], np.concatenate(xs), np.concatenate(ys), ranges)


# Cosine kNN worked out on paper. Angles of the 2-D points: train A at 0, 5.7 and -5.7 degrees,
# train B at 90; valid A at 2.9, valid B at 87.1; test A at 18.4, test B at 95.7 and at 38.7.
KNN_SPLITS = {
    "train": ([[1, 0], [1, 0.1], [1, -0.1], [0, 1]], ["A", "A", "A", "B"]),
    "valid": ([[1, 0.05], [0.05, 1]], ["A", "B"]),
    "test": ([[0.9, 0.3], [-0.1, 1], [1, 0.8]], ["A", "B", "B"]),
}


def test_knn_protocol_matches_scores_worked_out_by_hand():
    result = run_protocol(tiny_task(KNN_SPLITS), probe="knn")
    # k = 1: each validation row's nearest training row has its label -> accuracy 1. k = 5, 10
    # and 20 use all 4 training rows (3 A, 1 B): both rows score (0.75, 0.25), predicted A, so
    # accuracy 1/2; the tie keeps grid order.
    assert result["grid"] == [
        {"hparams": {"n_neighbors": 1}, "validation_score": 1.0, "epoch": 0, "postprocessing": []},
        {"hparams": {"n_neighbors": 5}, "validation_score": 0.5, "epoch": 0, "postprocessing": []},
        {"hparams": {"n_neighbors": 10}, "validation_score": 0.5, "epoch": 0, "postprocessing": []},
        {"hparams": {"n_neighbors": 20}, "validation_score": 0.5, "epoch": 0, "postprocessing": []},
    ]
    assert result["hparams"] == {"n_neighbors": 1} and result["score_mode"] == "max"
    # Test with k = 1: nearest training rows are A (5.7), B (90) and A (5.7, 33 degrees away
    # against 51 to B), so the third row, a B, is missed.
    predicted = result["predictions"]["test"]["prediction"]
    assert np.array_equal(predicted, [[1, 0], [0, 1], [1, 0]])
    fold = result["folds"]["test"]
    assert fold["test_top1_acc"] == fold["test_score"] == pytest.approx(2 / 3)
    # AP of A: scores (1, 0, 1), one positive, tied with a negative: precision 1/2 -> 0.5.
    # AP of B: scores (0, 1, 0), positives rows 2 and 3: 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert fold["test_mAP"] == pytest.approx((0.5 + 5 / 6) / 2)
    # Cross-entropy of probabilities clipped to [1e-7, 1 - 1e-7]: two rows lose ~1e-7, the miss
    # loses -ln(1e-7) = 7 ln 10.
    assert fold["test_loss"] == pytest.approx(7 * math.log(10) / 3, rel=1e-5)
    assert fold["validation_score"] == 1.0 and fold["epoch"] == 0


def test_knn_protocol_monitoring_the_loss_by_hand():
    task = tiny_task(KNN_SPLITS, use_scoring_for_early_stopping=False)
    result = run_protocol(task, probe="knn")
    # k = 1 puts probability 1 - 1e-7 (after clipping) on both true labels: loss ~1e-7. With all
    # 4 neighbours the rows lose -ln 0.75 and -ln 0.25: mean ln(16 / 3) / 2.
    values = [g["validation_score"] for g in result["grid"]]
    assert [g["hparams"]["n_neighbors"] for g in result["grid"]] == [1, 5, 10, 20]
    assert values[0] == pytest.approx(0.0, abs=1e-6)
    assert values[1:] == pytest.approx([math.log(16 / 3) / 2] * 3, rel=1e-6)
    assert result["score_mode"] == "min"
    assert result["folds"]["test"]["test_top1_acc"] == pytest.approx(2 / 3)


def test_linear_probe_separates_a_separable_toy():
    # Class A at x0 = -1, class B at x0 = +1: a logistic regression separates them. Valid and
    # test hold the same points, so the checkpoint chosen on valid scores the same on test.
    points = [[s, t] for s in (-1.0, 1.0) for t in (-0.5, 0.0, 0.5)]
    labels = ["A"] * 3 + ["B"] * 3
    splits = {
        "train": (points * 4, labels * 4),
        "valid": (points, labels),
        "test": (points, labels),
    }
    result = run_protocol(tiny_task(splits), grid_points=4, seed=0, probe="linear")
    fold = result["folds"]["test"]
    assert fold["validation_score"] == 1.0
    assert fold["test_top1_acc"] == 1.0
    # Two classes, all rows right: every A row has p(A) > 1/2 > p(A) of every B row, so each
    # class's positives rank first: AP 1 for both.
    assert fold["test_mAP"] == 1.0
    assert result["hparams"]["hidden_layers"] == 0
