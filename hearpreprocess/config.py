"""Typed task configuration: recipe TOML + mode overrides + user overrides -> a frozen TaskConfig.

TOML is used rather than YAML because YAML reads the Speech Commands labels yes/no/on/off as
booleans. TOML has no null, so an absent key means None.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)
EMBEDDING_TYPES = ("scene", "event")
PREDICTION_TYPES = ("multiclass", "multilabel")
SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
TVT_SPLITS = ("train", "valid", "test")
RECIPES_DIR = Path(__file__).parent / "recipes"

# Keys with their own TaskConfig field; any other top-level key is kept in `extras` and written
# to task_metadata.json as it is (evaluation_params, pitch_range_min, ...).
_SPECIAL_KEYS = {"download_urls", "modes"}


class ConfigError(ValueError):
    """A recipe or override file is malformed; the message names the task and the key."""


@dataclass(frozen=True)
class Source:
    """One downloadable archive of a task."""

    split: str
    url: str
    md5: str
    name: str | None = None

    @property
    def key(self) -> str:
        """Extraction sub-folder, `split` or `split/name` (TASKS.md §0)."""
        return self.split if self.name is None else f"{self.split}/{self.name}"

    @property
    def filename(self) -> str:
        """Local file name: the basename of the URL path, query string dropped."""
        return Path(urlsplit(self.url).path).name


@dataclass(frozen=True)
class TaskConfig:
    """A task resolved for one mode: everything the pipeline needs, and nothing hidden."""

    task_name: str
    version: str
    embedding_type: str
    prediction_type: str
    split_mode: str
    sample_duration: float | None
    evaluation: tuple[str, ...]
    default_mode: str
    mode: str
    sources: tuple[Source, ...]
    nfolds: int | None = None
    max_task_duration_by_split: dict[str, float | None] | None = None
    max_task_duration_by_fold: float | None = None
    split_percentage: dict[str, float] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        if self.split_mode == "trainvaltest":
            return list(TVT_SPLITS)
        return [f"fold{i:02d}" for i in range(self.nfolds or 0)]

    @property
    def bundle_name(self) -> str:
        return f"{self.task_name}-{self.version}-{self.mode}"

    @property
    def is_small(self) -> bool:
        return self.mode == "small"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that `from_dict` turns back into an equal TaskConfig."""
        d = asdict(self)
        d["evaluation"] = list(self.evaluation)
        d["sources"] = [asdict(s) for s in self.sources]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TaskConfig":
        d = dict(d)
        d["evaluation"] = tuple(d["evaluation"])
        d["sources"] = tuple(Source(**s) for s in d["sources"])
        return cls(**d)

    def digest(self) -> str:
        return digest(self.to_dict())

    def task_metadata(self, tmp_dir: str = "_workdir") -> dict[str, Any]:
        """The dict written to task_metadata.json, in the key order of real HEAR 2021 bundles."""
        meta: dict[str, Any] = {
            "task_name": self.task_name,
            "version": self.version,
            "embedding_type": self.embedding_type,
            "prediction_type": self.prediction_type,
            "split_mode": self.split_mode,
        }
        if self.split_mode != "trainvaltest":
            meta["nfolds"] = self.nfolds
        meta["sample_duration"] = self.sample_duration
        meta["evaluation"] = list(self.evaluation)
        meta.update(self.extras)
        if self.split_percentage is not None:
            meta["split_percentage"] = self.split_percentage
        meta["default_mode"] = self.default_mode
        meta["download_urls"] = [_source_record(s) for s in self.sources]
        if self.split_mode == "trainvaltest":
            caps = self.max_task_duration_by_split or {}
            meta["max_task_duration_by_split"] = {s: caps.get(s) for s in TVT_SPLITS}
        else:
            meta["max_task_duration_by_fold"] = self.max_task_duration_by_fold
        meta.update({"tmp_dir": tmp_dir, "mode": self.mode, "splits": self.splits})
        return meta


def _source_record(source: Source) -> dict[str, str]:
    record = {"split": source.split}
    if source.name is not None:
        record["name"] = source.name
    record.update({"url": source.url, "md5": source.md5})
    return record


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`: the identity of a config or a step's inputs."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recipe_path(task_name: str) -> Path:
    return RECIPES_DIR / f"{task_name}.toml"


def read_recipe(task_name: str) -> dict[str, Any]:
    """The raw recipe TOML of a task, modes included."""
    path = recipe_path(task_name)
    if not path.exists():
        raise ConfigError(f"no recipe for task {task_name!r}: {path} does not exist")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"recipe {path} does not parse: {e}") from e


def load_task_config(
    task_name: str, mode: str | None = None, overrides: Mapping[str, Any] | None = None
) -> TaskConfig:
    """Resolve a task's recipe for one mode, then apply `overrides`.

    `overrides` is a dict of top-level keys to replace; its optional "sources" entry maps a URL to
    the fields to change for that source (e.g. {"md5": ...} for a fake corpus).
    """
    raw = read_recipe(task_name)
    modes = raw.get("modes", {})
    mode = mode or raw.get("default_mode")
    if mode not in modes:
        raise ConfigError(f"task {task_name!r} has no mode {mode!r}; choose one of {sorted(modes)}")
    merged = {k: v for k, v in raw.items() if k != "modes"}
    merged.update(copy.deepcopy(modes[mode]))
    overrides = dict(overrides or {})
    source_overrides = overrides.pop("sources", {})
    merged.update(overrides)
    config = _build(task_name, mode, merged, source_overrides)
    validate(config)
    return config


def _build(task_name: str, mode: str, d: dict[str, Any], source_overrides: Mapping) -> TaskConfig:
    try:
        sources = []
        for record in d.get("download_urls", []):
            record = {**record, **source_overrides.get(record["url"], {})}
            sources.append(Source(**record))
        own = {f.name for f in fields(TaskConfig)}
        known = {k: v for k, v in d.items() if k in own and k not in ("mode", "sources")}
        extras = {k: v for k, v in d.items() if k not in own and k not in _SPECIAL_KEYS}
        known["evaluation"] = tuple(known.get("evaluation", ()))
        if known.get("sample_duration") is not None:
            known["sample_duration"] = float(known["sample_duration"])
        return TaskConfig(mode=mode, sources=tuple(sources), extras=extras, **known)
    except (TypeError, KeyError) as e:
        raise ConfigError(f"recipe of task {task_name!r} (mode {mode!r}) is malformed: {e}") from e


def validate(config: TaskConfig) -> None:
    """Raise ConfigError naming the task and key when the config cannot be built."""

    def fail(msg: str) -> None:
        raise ConfigError(f"task {config.task_name!r} mode {config.mode!r}: {msg}")

    if config.embedding_type not in EMBEDDING_TYPES:
        fail(f"embedding_type must be one of {EMBEDDING_TYPES}")
    if config.prediction_type not in PREDICTION_TYPES:
        fail(f"prediction_type must be one of {PREDICTION_TYPES}")
    if config.split_mode not in SPLIT_MODES:
        fail(f"split_mode must be one of {SPLIT_MODES}")
    if config.split_mode != "trainvaltest" and (config.nfolds or 0) < 2:
        fail("k-fold split modes need nfolds >= 2")
    if not config.evaluation:
        fail("evaluation must list at least one metric (the first is primary)")
    if not config.sources:
        fail("download_urls is empty")
    for s in config.sources:
        if len(s.md5) != 32:
            fail(f"md5 of {s.url} must be 32 hex digits")
    if config.sample_duration is not None and config.sample_duration <= 0:
        fail("sample_duration must be positive")


def list_tasks() -> list[str]:
    """Every task with a recipe, discovered from the file system (no hand-kept list)."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def list_modes(task_name: str) -> list[str]:
    return sorted(read_recipe(task_name).get("modes", {}))


def read_overrides(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """A user override file: a TOML table per task name, e.g. [esc50] sample_duration = 4.0."""
    if path is None:
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)
