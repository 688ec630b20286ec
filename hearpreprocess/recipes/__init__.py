"""Task recipes: `<task>.toml` declares the facts, `<task>.py` turns an extracted corpus into rows.

Tasks are discovered from the file system (`config.list_tasks`), never from a hand-kept list.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

import pandas as pd

from hearpreprocess.config import TaskConfig, recipe_path

ExtractMetadata = Callable[[dict[str, Path], TaskConfig], pd.DataFrame]


def get_extract_metadata(task_name: str) -> ExtractMetadata:
    """The recipe function of a task: `extract_metadata(sources, config) -> DataFrame`."""
    if not recipe_path(task_name).exists():
        raise KeyError(f"no recipe for task {task_name!r}")
    module = importlib.import_module(f"hearpreprocess.recipes.{task_name}")
    return module.extract_metadata
