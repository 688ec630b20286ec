"""Task recipes: `<task>.toml` declares the facts, a module's `extract_metadata` turns the corpus
folders into rows.

Tasks are discovered from the TOML files (`config.list_tasks`), never from a hand-kept list. A
TOML names the module it uses with `recipe` (default: the task's own name), so several tasks can
share one, and passes it keyword arguments with `[recipe_params]`:

    def extract_metadata(sources: dict[str, Path], config: TaskConfig, **params) -> DataFrame

`sources` maps each source key (`split` or `split/name`) to its folder.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

import pandas as pd

from hearpreprocess.config import TaskConfig

ExtractMetadata = Callable[..., pd.DataFrame]


def get_extract_metadata(recipe: str) -> ExtractMetadata:
    """The function of recipe module `recipe`: `extract_metadata(sources, config, **params)`."""
    module = importlib.import_module(f"hearpreprocess.recipes.{recipe}")
    return module.extract_metadata


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """Run the config's recipe with its parameters."""
    return get_extract_metadata(config.recipe)(sources, config, **config.recipe_params)
