"""Grids of EVAL.md §3.3 and the old kit's sampling order."""

import random

import pytest
from sklearn.model_selection import ParameterGrid

from heareval.predictions.grid import GRIDS, build_grid, enumerate_grid, sample_grid


@pytest.mark.parametrize("name,size", [("default", 16), ("fast", 64), ("faster", 64)])
def test_grid_sizes_and_sklearn_order(name, size):
    configs = enumerate_grid(GRIDS[name])
    assert len(configs) == size
    assert configs == list(ParameterGrid(GRIDS[name]))


def test_sampling_matches_global_random_after_seeding():
    configs = list(ParameterGrid(GRIDS["default"]))
    random.seed(42)
    random.shuffle(configs)
    assert sample_grid(GRIDS["default"], 8, 42) == configs[:8]
    assert sample_grid(GRIDS["default"], 8, 43) != configs[:8]


def test_overrides_global_then_metadata():
    grid = build_grid("default", {"task_name": "dcase2016_task2"})
    assert grid["check_val_every_n_epoch"] == [10]
    meta = {
        "task_name": "maestro",
        "evaluation_params": {"task_specific_param_grid": {"max_epochs": [50], "lr": 1e-3}},
    }
    grid = build_grid("fast", meta)
    assert grid["max_epochs"] == [50] and grid["lr"] == [1e-3]
    assert grid["check_val_every_n_epoch"] == [3, 10]
    assert build_grid("faster", None, probe="linear")["hidden_layers"] == [0]
    with pytest.raises(ValueError, match="Unknown grid"):
        build_grid("huge")
