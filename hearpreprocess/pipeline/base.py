"""What every pipeline step shares: run settings, step identities, row files and failure records.

A step's identity is a digest of exactly the config fields (and code version constants) that
shape its output, chained with its upstream identities, and it is part of the output path. So a
config edit rebuilds the steps it touches and nothing else, and a rerun with nothing changed finds
every output in place. Mirror URLs are never part of an identity: the same archive fetched from
another mirror is the same data (its md5 says so).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path
from typing import Any

import luigi
import pandas as pd
from luigi.freezing import recursively_unfreeze

from hearpreprocess.config import TaskConfig, digest

# Bump a version when the code of that step changes what it writes.
METADATA_VERSION = 1
SPLIT_VERSION = 1
AUDIO_VERSION = 2
BUNDLE_VERSION = 1
SHORT_DIGEST = 12

# Environment variables through which the runner (and the benchmark) collect, from every worker
# process, why a step failed and how long each step took: Luigi runs steps in forked processes
# when it has several workers, so in-memory event handlers would not see them.
FAILURE_LOG_ENV = "HEARPREPROCESS_FAILURE_LOG"
TIMING_LOG_ENV = "HEARPREPROCESS_TIMING_LOG"

_STRING_COLUMNS = ("relpath", "label", "split", "unique_filestem", "split_key")


class PipelineError(RuntimeError):
    """A step cannot go on; the message names the task, the file and what to do."""


class RunSettings(luigi.Task):
    """Parameters of a whole run, shared by the entry point and every config-dependent step."""

    sample_rates = luigi.ListParameter()
    work_dir = luigi.Parameter()
    tasks_dir = luigi.Parameter()
    tar_dir = luigi.Parameter()
    resampler = luigi.Parameter(default="soxr")
    mirror = luigi.Parameter(default="", significant=False)
    builtin_mirror = luigi.Parameter(default="", significant=False)


class TaskStep(RunSettings):
    """A step of one task and mode: the run's settings plus the resolved config."""

    config = luigi.DictParameter(description="resolved TaskConfig.to_dict()")

    @property
    def task_config(self) -> TaskConfig:
        return TaskConfig.from_dict(recursively_unfreeze(self.config))

    @property
    def bundle_name(self) -> str:
        return self.task_config.bundle_name

    def task_work_dir(self) -> Path:
        return Path(self.work_dir) / "tasks" / self.bundle_name

    def on_failure(self, exception: BaseException) -> str:
        record_failure(self.bundle_name, type(self).__name__, exception)
        return super().on_failure(exception)


def record_failure(
    bundle: str, step: str, exception: BaseException, details: dict | None = None
) -> None:
    """Append why a step failed to the runner's failure log (one JSON line); `details` (e.g. the
    URL and checksum of a download) let the runner tell every task that needed the step."""
    path = os.environ.get(FAILURE_LOG_ENV)
    if not path:
        return
    record = {"task": bundle, "step": step, "error": f"{exception}", **(details or {})}
    line = json.dumps(record) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)


@luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
def _record_timing(task: luigi.Task, seconds: float) -> None:
    path = os.environ.get(TIMING_LOG_ENV)
    if not path:
        return
    name = getattr(task, "bundle_name", "") or getattr(task, "task_name", "")
    record = {"step": type(task).__name__, "task": name, "seconds": seconds, "end": time.time()}
    line = json.dumps(record)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _short(obj: Any) -> str:
    return digest(obj)[:SHORT_DIGEST]


def recipe_code_version(recipe: str) -> Any:
    """The recipe module's CODE_VERSION constant: bumping it (a label rule changed) rebuilds
    metadata onward."""
    module = importlib.import_module(f"hearpreprocess.recipes.{recipe}")
    return getattr(module, "CODE_VERSION", None)


def metadata_identity(cfg: TaskConfig) -> str:
    """What the recipe reads: the archives (by md5, not URL), the task, its extras and code."""
    return _short(
        {
            "step": METADATA_VERSION,
            "recipe": [cfg.recipe, recipe_code_version(cfg.recipe), cfg.recipe_params],
            "task": [cfg.task_name, cfg.version, cfg.embedding_type, cfg.prediction_type],
            "small": cfg.is_small,
            "sources": [s.identity() for s in cfg.sources],
            "extras": cfg.extras,
        }
    )


def split_identity(cfg: TaskConfig) -> str:
    """Split rules and mode caps (caps count files of sample_duration seconds)."""
    return _short(
        {
            "step": SPLIT_VERSION,
            "metadata": metadata_identity(cfg),
            "rules": [cfg.split_mode, cfg.nfolds, cfg.split_percentage],
            "caps": [cfg.max_task_duration_by_split, cfg.max_task_duration_by_fold],
            "sample_duration": cfg.sample_duration,
        }
    )


def audio_identity(cfg: TaskConfig, sample_rates, resampler: str) -> str:
    return _short(
        {
            "step": AUDIO_VERSION,
            "split": split_identity(cfg),
            "sample_duration": cfg.sample_duration,
            "rates": sorted(int(r) for r in sample_rates),
            "resampler": resampler,
        }
    )


def bundle_identity(cfg: TaskConfig, sample_rates, resampler: str) -> str:
    """Everything the bundle shows, task_metadata.json included (so any config edit)."""
    from hearpreprocess import __version__

    return digest(
        {
            "step": BUNDLE_VERSION,
            "audio": audio_identity(cfg, sample_rates, resampler),
            "config": cfg.to_dict(),
            "package": __version__,
        }
    )


def write_rows(path: Path, df: pd.DataFrame) -> None:
    """Write metadata rows as CSV atomically (human-readable, diffable between runs)."""
    from hearpreprocess.atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_rows(path: Path) -> pd.DataFrame:
    """Read rows back with names and labels as strings ("001" stays "001"; numeric-looking
    labels become numbers later, in bundle.coerce_labels, as HEAR 2021 did)."""
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    dtypes = {c: str for c in _STRING_COLUMNS if c in header}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={})
    for column in df.columns:
        if column not in dtypes:
            try:
                df[column] = pd.to_numeric(df[column].replace("", float("nan")))
            except (ValueError, TypeError):
                pass
    return df
