"""Hyper-parameter grids of the downstream MLP (EVAL.md §3.3) and grid-point sampling.

Sampling reproduces the old kit: the grid is enumerated in scikit-learn ``ParameterGrid`` order
(keys sorted, values combined with ``itertools.product``, last key varying fastest), the list is
shuffled with ``random.Random(seed)`` and the first ``grid_points`` are kept. The old kit shuffled
with the global ``random`` module right after ``seed_everything(42)``, which draws the same numbers
as ``random.Random(42)``, so seed 42 selects the same configurations as HEAR 2021.
"""

from __future__ import annotations

import copy
import itertools
import random
from typing import Any

PARAM_GRID: dict[str, list] = {
    "hidden_layers": [1, 2],
    "hidden_dim": [1024],
    "dropout": [0.1],
    "lr": [3.2e-3, 1e-3, 3.2e-4, 1e-4],
    "patience": [20],
    "max_epochs": [500],
    "check_val_every_n_epoch": [3],
    "batch_size": [1024],
    "hidden_norm": ["BatchNorm1d"],
    "norm_after_activation": [False],
    "embedding_norm": ["Identity"],
    "initialization": ["xavier_uniform_", "xavier_normal_"],
    "optim": ["Adam"],
}

FAST_PARAM_GRID = {
    **copy.deepcopy(PARAM_GRID),
    "max_epochs": [10, 50],
    "check_val_every_n_epoch": [3, 10],
}

FASTER_PARAM_GRID = {
    **copy.deepcopy(PARAM_GRID),
    "hidden_layers": [0, 1],
    "hidden_dim": [64, 128],
    "patience": [1, 3],
    "max_epochs": [10],
    "check_val_every_n_epoch": [1],
}

# The linear probe (--probe linear): one Linear layer trained by the same loop, searched over the
# learning rate and an L2 weight decay (Adam's coupled decay, as torch.optim.Adam applies it).
LINEAR_PARAM_GRID = {
    **copy.deepcopy(PARAM_GRID),
    "hidden_layers": [0],
    "hidden_dim": [0],
    "dropout": [0.0],
    "lr": [1e-2, 1e-3],
    "weight_decay": [0.0, 1e-4],
    "initialization": ["xavier_uniform_"],
}

GRIDS = {"default": PARAM_GRID, "fast": FAST_PARAM_GRID, "faster": FASTER_PARAM_GRID}

# sed_eval is slow on DCASE 2016 task 2 in the old kit, hence fewer validation checks there.
TASK_SPECIFIC_PARAM_GRID: dict[str, dict[str, list]] = {
    "dcase2016_task2": {"check_val_every_n_epoch": [10]},
}


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def build_grid(name: str, metadata: dict | None = None, probe: str = "mlp") -> dict[str, list]:
    """Return the grid `name` with the task's overrides merged in.

    Overrides are applied in the old kit's order: the global per-task table first, then
    `evaluation_params.task_specific_param_grid` of task_metadata.json.

    Args:
        name: "default", "fast" or "faster" (ignored for the linear probe).
        metadata: the task_metadata.json dict, or None.
        probe: "mlp" or "linear".
    """
    if probe == "linear":
        grid = copy.deepcopy(LINEAR_PARAM_GRID)
    elif name in GRIDS:
        grid = copy.deepcopy(GRIDS[name])
    else:
        raise ValueError(f"Unknown grid {name!r}: choose one of {sorted(GRIDS)}")
    metadata = metadata or {}
    overrides = dict(TASK_SPECIFIC_PARAM_GRID.get(metadata.get("task_name"), {}))
    overrides.update(metadata.get("evaluation_params", {}).get("task_specific_param_grid", {}))
    for key, value in overrides.items():
        grid[key] = _as_list(value)
    return grid


def enumerate_grid(grid: dict[str, list]) -> list[dict]:
    """All configurations in scikit-learn ParameterGrid order."""
    keys = sorted(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def sample_grid(grid: dict[str, list], grid_points: int, seed: int) -> list[dict]:
    """The first `grid_points` configurations after a `random.Random(seed)` shuffle."""
    configs = enumerate_grid(grid)
    random.Random(seed).shuffle(configs)
    return configs[:grid_points]
