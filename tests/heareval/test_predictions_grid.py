"""The MLP grids, the old kit's sampling order, overrides the trainer would not honour, ranking."""

import math
import random
import re

import pytest
from sklearn.model_selection import ParameterGrid

from heareval.predictions.estimator import rank
from heareval.predictions.grid import (
    GRIDS,
    PARAM_GRID,
    build_grid,
    enumerate_grid,
    sample_grid,
)


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


def override(grid: dict) -> dict:
    return {"task_name": "t", "evaluation_params": {"task_specific_param_grid": grid}}


@pytest.mark.parametrize(
    "key,value,supported",
    [
        ("hidden_norm", "LayerNorm", "['BatchNorm1d']"),
        ("norm_after_activation", True, "[False]"),
        ("embedding_norm", "BatchNorm1d", "['Identity']"),
        ("optim", "SGD", "['Adam']"),
    ],
)
def test_unimplemented_values_of_the_four_keys_are_rejected(key, value, supported):
    # The default value stays accepted, alone or spelled as in the default grid.
    assert build_grid("default", override({key: PARAM_GRID[key]})) == GRIDS["default"]
    named = re.escape(f"{key}={value!r} is not implemented")
    message = f"^t: .*{named}.*supported values: {re.escape(supported)}$"
    with pytest.raises(ValueError, match=message):
        build_grid("default", override({key: [PARAM_GRID[key][0], value]}))
    with pytest.raises(ValueError, match=f"{key}="):
        build_grid("faster", override({key: value}), probe="linear")


def test_unknown_keys_and_hidden_layers_of_the_linear_probe_are_rejected():
    with pytest.raises(ValueError, match=r"unknown MLP hyper-parameter\(s\) \['learning_rate'\]"):
        build_grid("default", override({"learning_rate": [0.1]}))
    with pytest.raises(ValueError, match="initialization='kaiming'"):
        build_grid("default", override({"initialization": "kaiming"}))
    assert build_grid("default", None, probe="linear")["lr"] == [1e-2, 1e-3]
    assert build_grid("default", override({"lr": 0.5}), probe="linear")["lr"] == [0.5]
    for key, value in (("hidden_layers", 1), ("hidden_dim", 64), ("dropout", 0.1)):
        with pytest.raises(ValueError, match=f"no hidden layer: {key} must stay"):
            build_grid("default", override({key: value}), probe="linear")
        assert build_grid("default", override({key: value}))[key] == [value]  # fine for the MLP


def test_rank_is_stable_and_puts_nan_last():
    values = [0.5, math.nan, 0.9, 0.5, 0.1]
    assert rank(values, maximize=True) == [2, 0, 3, 4, 1]
    assert rank(values, maximize=False) == [4, 0, 3, 2, 1]
