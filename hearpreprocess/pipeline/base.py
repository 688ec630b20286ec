"""What every pipeline step shares: parameters, config views, step identities, row files and
failure records.

A step's significant Luigi parameters are what shapes its output, and nothing else: the part of
the config it reads (a *view*, see `config_view`), the sample rates and resampler where audio is
written, and the folder it writes into. So two modes, or two runs with other rates or another
tarball folder, that share a step's inputs share the step: one Luigi task id, one folder, one run.
Parameters that never shape an output (where to download from, the bundle named in messages) are
insignificant.

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
import socket
import time
from pathlib import Path
from typing import Any

import luigi
import pandas as pd
from luigi.freezing import recursively_unfreeze

from hearcore.atomic import atomic_write_text
from hearcore.hashing import digest
from hearpreprocess.config import TaskConfig
from hearpreprocess.pipeline.errors import describe_error

# Bump a version when the code of that step changes what it writes into the bundle: the identity
# changes, and with it every identity chained from it, the one each bundle's manifest records.
METADATA_VERSION = 1
SPLIT_VERSION = 1
AUDIO_VERSION = 2
BUNDLE_VERSION = 1
# Bump when the work-dir layout of the split folder or the audio shards changes (what the split
# folder holds, how clips are cut into shards) but not the bundle: their folders move, while the
# identities, and so the bundles' and tarballs' bytes, stay. 2: the split folder holds the shard
# plan (pipeline/shards.py).
SHARD_LAYOUT_VERSION = 2
SHORT_DIGEST = 12

# Environment variables through which the runner (and the benchmark) collect, from every worker
# process, why a step failed and how long each step took: Luigi runs steps in forked processes
# when it has several workers, so in-memory event handlers would not see them.
FAILURE_LOG_ENV = "HEARPREPROCESS_FAILURE_LOG"
TIMING_LOG_ENV = "HEARPREPROCESS_TIMING_LOG"
# work_dir/failures/<step id>.json: a step's last failure, by any host, until it succeeds.
FAILURES_DIR = "failures"

_STRING_COLUMNS = ("relpath", "label", "split", "unique_filestem", "split_key")

# The config fields the corpus step reads: the recipe reads the task facts, its sources, its
# parameters and extras, and the split rules (nsynth_pitch pools its splits for k-fold tasks,
# esc50 checks its fold numbers against nfolds). A view also says whether the mode is small
# (small mode drops rows whose audio the small archive lacks), never the mode's name.
CORPUS_FIELDS = (
    "task_name",
    "version",
    "embedding_type",
    "prediction_type",
    "split_mode",
    "nfolds",
    "sources",
    "recipe",
    "recipe_params",
    "extras",
)
# ... and the split step (and the audio it leads to) reads the split rules and caps too.
SPLIT_FIELDS = CORPUS_FIELDS + (
    "split_percentage",
    "max_task_duration_by_split",
    "max_task_duration_by_fold",
    "sample_duration",
)
_SMALL_MODE = "small"
# What a view leaves out, blank: a step's code that reads a field outside its view then fails or
# shows it, rather than silently sharing one output between configs that differ in that field.
_BLANK_CONFIG: dict[str, Any] = {
    "task_name": "",
    "version": "",
    "embedding_type": "",
    "prediction_type": "",
    "split_mode": "",
    "sample_duration": None,
    "evaluation": [],
    "default_mode": "",
    "mode": "",
    "sources": [],
    "nfolds": None,
    "max_task_duration_by_split": None,
    "max_task_duration_by_fold": None,
    "split_percentage": None,
    "recipe": "",
    "recipe_params": {},
    "extras": {},
}


class PipelineError(RuntimeError):
    """A step cannot go on; the message names the task, the file and what to do."""


def config_view(cfg: TaskConfig, fields: tuple[str, ...]) -> dict[str, Any]:
    """The `fields` of cfg.to_dict(), and whether the mode is small: a view step's `config`."""
    d = cfg.to_dict()
    return {**{name: d[name] for name in fields}, "small": cfg.is_small}


def view_config(view: dict[str, Any]) -> TaskConfig:
    """The TaskConfig a view stands for: its fields, the others blank (mode: "small" or "")."""
    fields = {k: v for k, v in view.items() if k != "small"}
    mode = _SMALL_MODE if view["small"] else ""
    return TaskConfig.from_dict({**_BLANK_CONFIG, **fields, "mode": mode})


class WorkStep(luigi.Task):
    """A step that writes under work_dir, shared by every bundle that needs it.

    `task_name` is the bundle that asked for the step first, for messages and the timing log;
    `mirror` and `builtin_mirror` say where downloads come from. None of them shapes an output.
    """

    work_dir = luigi.Parameter()
    task_name = luigi.Parameter(significant=False, default="")
    mirror = luigi.Parameter(default="", significant=False)
    builtin_mirror = luigi.Parameter(default="", significant=False)

    def passed_on(self) -> dict[str, str]:
        """The parameters every upstream step takes as they are."""
        return {
            "work_dir": self.work_dir,
            "task_name": self.task_name,
            "mirror": self.mirror,
            "builtin_mirror": self.builtin_mirror,
        }

    def on_failure(self, exception: BaseException) -> str:
        record_failure(self, self.task_name, exception, self.failure_details())
        return super().on_failure(exception)

    def failure_details(self) -> dict:
        return {}


class ViewStep(WorkStep):
    """A work step keyed by a view of the config (`config_view`): CORPUS_FIELDS or SPLIT_FIELDS."""

    config = luigi.DictParameter(description="config_view(): the config fields of this step")

    @property
    def task_config(self) -> TaskConfig:
        return view_config(recursively_unfreeze(self.config))

    @property
    def bundle_name(self) -> str:
        """The bundle named in messages: the one that asked first (the step may serve several)."""
        return self.task_name or self.task_config.task_name

    def folder(self, kind: str, key: str) -> Path:
        """work_dir/<kind>/<task>-<key>/: no mode in the path, so modes that share it share it."""
        return Path(self.work_dir) / kind / f"{self.task_config.task_name}-{key}"


class TaskStep(luigi.Task):
    """A step of one bundle: the whole resolved config shapes it (task_metadata.json shows every
    field), with the rates and resampler; work_dir only says where its inputs are."""

    config = luigi.DictParameter(description="resolved TaskConfig.to_dict()")
    sample_rates = luigi.ListParameter()
    resampler = luigi.Parameter(default="soxr")
    work_dir = luigi.Parameter(significant=False)
    mirror = luigi.Parameter(default="", significant=False)
    builtin_mirror = luigi.Parameter(default="", significant=False)

    @property
    def task_config(self) -> TaskConfig:
        return TaskConfig.from_dict(recursively_unfreeze(self.config))

    @property
    def bundle_name(self) -> str:
        return self.task_config.bundle_name

    def work_settings(self) -> dict[str, str]:
        """The parameters of the work steps it needs, itself named in their messages."""
        return {
            "work_dir": self.work_dir,
            "task_name": self.bundle_name,
            "mirror": self.mirror,
            "builtin_mirror": self.builtin_mirror,
        }

    def on_failure(self, exception: BaseException) -> str:
        record_failure(self, self.bundle_name, exception)
        return super().on_failure(exception)


def record_failure(
    step: luigi.Task, bundle: str, exception: BaseException, details: dict | None = None
) -> None:
    """Record why a step failed: one JSON line in this runner's failure log, and the step's
    last failure in the shared work dir, where a runner on another host waiting for the step
    finds it. The step's Luigi task id lets the runner tell every bundle that needed the step;
    `details` (e.g. the URL and checksum of a download) go into the record too."""
    record: dict[str, Any] = {"task": bundle, "step": type(step).__name__}
    record["error"] = describe_error(exception)
    record.update({"id": step.task_id, "host": socket.gethostname(), "time": time.time()})
    record.update(details or {})
    work_dir = getattr(step, "work_dir", "")
    if work_dir:
        _write_shared_failure(Path(work_dir), record)
    path = os.environ.get(FAILURE_LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _shared_failure_path(work_dir: Path, step_id: str) -> Path:
    return work_dir / FAILURES_DIR / f"{step_id}.json"


def _write_shared_failure(work_dir: Path, record: dict) -> None:
    path = _shared_failure_path(work_dir, record["id"])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record) + "\n")
    except OSError:  # a full disk must not hide the failure itself (the log above has it)
        pass


def read_shared_failure(work_dir: Path, step_id: str) -> dict | None:
    """The last failure of a step recorded by any host, unless the step succeeded since."""
    try:
        return json.loads(_shared_failure_path(work_dir, step_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _forget_failure(task: luigi.Task) -> None:
    work_dir = getattr(task, "work_dir", "")
    if work_dir:
        _shared_failure_path(Path(work_dir), task.task_id).unlink(missing_ok=True)


@luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
def _record_timing(task: luigi.Task, seconds: float) -> None:
    path = os.environ.get(TIMING_LOG_ENV)
    if not path:
        return
    name = getattr(task, "bundle_name", "") or getattr(task, "task_name", "")
    record = {"step": type(task).__name__, "task": name, "seconds": seconds, "end": time.time()}
    record["id"] = task.task_id
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


def corpus_identity(cfg: TaskConfig) -> str:
    """The corpus step's folder key: the metadata identity and the split rules that recipes read
    (CORPUS_FIELDS). The metadata identity itself leaves the rules to the split identity, as it
    always did: it is chained into the identity every bundle's manifest records."""
    return _short([metadata_identity(cfg), cfg.split_mode, cfg.nfolds])


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


def layout_key(identity: str) -> str:
    """The folder key of a split folder or an audio shard: its identity and the layout version of
    the work dir (SHARD_LAYOUT_VERSION), which the bundle never sees."""
    return _short([identity, SHARD_LAYOUT_VERSION])


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
    from hearcore.atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_rows(path: Path) -> pd.DataFrame:
    """Read rows back with names and labels as strings ("001" stays "001"; numeric-looking
    labels become numbers later, in hearcore.vocabulary.coerce_labels, as HEAR 2021 did)."""
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
