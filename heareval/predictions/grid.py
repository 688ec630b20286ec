"""Hyper-parameters: the MLP grids, the values the trainer implements, and sampling.

Sampling reproduces the old kit: the grid is enumerated in scikit-learn ``ParameterGrid`` order
(keys sorted, values combined with ``itertools.product``, last key varying fastest), the list is
shuffled with ``random.Random(seed)`` and the first ``grid_points`` are kept. The old kit shuffled
with the global ``random`` module right after ``seed_everything(42)``, which draws the same numbers
as ``random.Random(42)``, so seed 42 selects the same configurations as HEAR 2021.

A task's override that names a key the trainer does not read, or a value it does not implement,
is rejected (`check_grid`): silently training something other than the stored hparams describe
would misreport what was evaluated.
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

# Every key the trainer (mlp.py) reads; weight_decay is optional there (default 0).
TRAINER_KEYS = frozenset(PARAM_GRID) | {"weight_decay"}

# Keys whose values the trainer realises only partly. hear-eval-kit searched several values of the
# first four; the trainer implements the one its grid uses: BatchNorm1d between every hidden
# Linear layer and its dropout and ReLU, no normalisation of the input embedding (hear-eval-kit
# built that module but never applied it, so no value ever changed its results) and Adam.
IMPLEMENTED_VALUES: dict[str, tuple] = {
    "hidden_norm": ("BatchNorm1d",),
    "norm_after_activation": (False,),
    "embedding_norm": ("Identity",),
    "optim": ("Adam",),
    "initialization": ("xavier_uniform_", "xavier_normal_"),
}

# A linear probe has no hidden layer: these keys keep the linear grid's values.
LINEAR_FIXED_KEYS = ("hidden_layers", "hidden_dim", "dropout")


def check_config(config: dict[str, Any]) -> None:
    """Raise ValueError when the trainer would ignore a key or cannot realise a value of `config`.

    The alternative, training something other than what the configuration (and the stored
    hparams) says, would report scores under a wrong description.
    """
    unknown = sorted(set(config) - TRAINER_KEYS)
    if unknown:
        raise ValueError(
            f"unknown MLP hyper-parameter(s) {unknown}: the trainer reads {sorted(TRAINER_KEYS)}"
        )
    for key, supported in IMPLEMENTED_VALUES.items():
        if key in config and config[key] not in supported:
            raise ValueError(
                f"{key}={config[key]!r} is not implemented by the MLP trainer; "
                f"supported values: {list(supported)}"
            )


def check_grid(grid: dict[str, list], probe: str = "mlp") -> None:
    """Check every value of a grid with `check_config`; the linear probe keeps no hidden layer."""
    for key, values in grid.items():
        for value in values:
            check_config({key: value})
    if probe == "linear":
        for key in LINEAR_FIXED_KEYS:
            if grid[key] != LINEAR_PARAM_GRID[key]:
                raise ValueError(
                    f"the linear probe has no hidden layer: {key} must stay "
                    f"{LINEAR_PARAM_GRID[key]}, the task's grid asks for {grid[key]}"
                )


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

    Raises:
        ValueError: unknown grid name, or an override the trainer would not honour (see
            `check_grid`).
    """
    if probe == "linear":
        grid = copy.deepcopy(LINEAR_PARAM_GRID)
    elif name in GRIDS:
        grid = copy.deepcopy(GRIDS[name])
    else:
        raise ValueError(f"Unknown grid {name!r}: choose one of {sorted(GRIDS)}")
    metadata = metadata or {}
    overrides = dict(TASK_SPECIFIC_PARAM_GRID.get(metadata.get("task_name", ""), {}))
    overrides.update(metadata.get("evaluation_params", {}).get("task_specific_param_grid", {}))
    for key, value in overrides.items():
        grid[key] = _as_list(value)
    try:
        check_grid(grid, probe)
    except ValueError as error:
        task = metadata.get("task_name", "task")
        raise ValueError(f"{task}: MLP grid with task_specific_param_grid: {error}") from error
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
