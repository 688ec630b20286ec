"""The downstream protocol on tiny synthetic embedding folders where the answer is known."""

import math

import numpy as np
import pytest

from heareval.predictions.data import load_task, make_clusters, write_embedding_task
from heareval.predictions.protocol import fold_rotations, run_protocol

VOCAB = ["cat", "dog", "owl"]
FAST_OVERRIDE = {"max_epochs": [30], "batch_size": [32], "lr": [1e-2, 3.2e-3], "patience": [5]}


def scene_task(path, split_mode="trainvaltest", n=180, noise=0.2, seed=0, override=None):
    x, classes = make_clusters(n, 8, len(VOCAB), noise, seed)
    names = ["train", "valid", "test"]
    if split_mode != "trainvaltest":
        names = [f"fold{i:02d}" for i in range(4)]
    chunks = np.array_split(np.arange(n), len(names))
    splits = {s: (x[rows], [[VOCAB[c]] for c in classes[rows]]) for s, rows in zip(names, chunks)}
    metadata = {
        "task_name": "synthetic",
        "embedding_type": "scene",
        "prediction_type": "multiclass",
        "split_mode": split_mode,
        "splits": names,
        "evaluation": ["top1_acc", "mAP"],
        "evaluation_params": {"task_specific_param_grid": override or FAST_OVERRIDE},
    }
    return load_task(write_embedding_task(path, metadata, VOCAB, splits))


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
