"""The CLI as a subprocess: output files, schema, skipping done tasks, seed spread."""

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest
from embedding_models.tasks import scene_task

from heareval.predictions.runner import aggregate, seed_spread


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "heareval.predictions.runner", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_outputs_and_skips_done(tmp_path):
    path = tmp_path / "task"
    scene_task(path, "new_split_kfold", noise=1.0)
    args = [path, "--grid", "faster", "--grid-points", "2", "--seeds", "2", "--device", "cpu"]
    run = cli(*args)
    assert run.returncode == 0, run.stderr
    scores = json.loads((path / "test.predicted-scores.json").read_text())
    folds = [f"fold{i:02d}" for i in range(4)]
    for fold in folds:
        assert {
            "test_score",
            "test_loss",
            "test_top1_acc",
            "test_mAP",
            "validation_score",
            "epoch",
            "time_in_min",
        } <= set(scores[fold])
        arrays = pickle.loads((path / f"{fold}.predictions.pkl").read_bytes())
        assert arrays["prediction"].shape == arrays["target"].shape
    agg = scores["aggregated_scores"]
    test = [scores[f]["test_score"] for f in folds]
    assert agg["test_score_mean"] == pytest.approx(np.mean(test))
    assert agg["test_score_std"] == pytest.approx(np.std(test, ddof=1))
    assert scores["score_mode"] == "max" and scores["embedding_path"] == str(path)
    assert all(isinstance(v, str) for v in scores["hparams"].values())
    spread = scores["seed_spread"]
    assert spread["seeds"] == [42, 43] and len(spread["test_scores"]) == 2
    assert spread["test_scores"][0] == pytest.approx(agg["test_score_mean"])
    assert spread["ci95"][0] <= spread["mean"] <= spread["ci95"][1]
    grid = json.loads((path / "prediction-grid.json").read_text())
    assert grid[0]["validation_score"] == scores["fold00"]["validation_score"]
    done = json.loads((path / "prediction-done.json").read_text())
    assert done["settings"]["grid"] == "faster"
    assert not list(path.glob(".tmp-*"))

    before = (path / "test.predicted-scores.json").stat().st_mtime_ns
    again = cli(*args)
    assert again.returncode == 0 and "skipping" in again.stdout
    assert (path / "test.predicted-scores.json").stat().st_mtime_ns == before


def test_aggregate_and_spread():
    folds = {"a": {"test_score": 0.5, "x": 1.0}, "b": {"test_score": 0.7, "x": 3.0}}
    agg = aggregate(folds)
    assert agg["test_score_mean"] == pytest.approx(0.6)
    assert agg["x_std"] == pytest.approx(np.sqrt(2))
    spread = seed_spread([1, 2, 3], [0.5, 0.6, 0.7])
    assert spread["mean"] == pytest.approx(0.6) and spread["std"] == pytest.approx(0.1)
    assert 0.5 <= spread["ci95"][0] < 0.6 < spread["ci95"][1] <= 0.7


def test_aggregate_of_infinite_d_prime_is_quiet(recwarn):
    folds = {"a": {"test_d_prime": np.inf}, "b": {"test_d_prime": np.inf}}
    agg = aggregate(folds)
    assert agg["test_d_prime_mean"] == np.inf and np.isnan(agg["test_d_prime_std"])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
