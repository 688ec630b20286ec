"""Typed task configuration: recipe TOML + mode overrides + user overrides -> a frozen TaskConfig.

TOML is used rather than YAML because YAML reads the Speech Commands labels yes/no/on/off as
booleans. TOML has no null, so an absent key means None.
"""

from __future__ import annotations

import copy
import difflib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

from hearcore.format import (
    EMBEDDING_TYPES,
    PREDICTION_TYPES,
    TVT_SPLITS,
    bundle_name,
    fold_names,
)
from hearcore.hashing import digest
from hearpreprocess.sources import Source, SourceError, parse_source

SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
RECIPES_DIR = Path(__file__).parent / "recipes"

# Keys HEAR 2021 wrote into task_metadata.json besides the common ones, and which its evaluation
# reads; declared here so that a misspelt key is an error rather than a silent pass-through.
METADATA_EXTRA_KEYS = (
    "pitch_range_min",
    "pitch_range_max",
    "evaluation_params",
    "use_scoring_for_early_stopping",
)
# Keys about the task in the catalogue, never in a bundle: `extra_task = true` keeps a task out of
# `all` (unless --include-extra); [card] holds the facts the README's task table shows.
REGISTRY_KEYS = ("extra_task", "card")
CARD_KEYS = ("source", "licence", "full_clips", "small_clips", "notes")


# The `tmp_dir` every task_metadata.json records: HEAR 2021's default work dir, whatever
# --work-dir a run used. Recording the real work dir would make a bundle's bytes (and its
# tarballs) depend on the machine and on where its intermediate files happened to lie, while
# bundles are byte-identical across runs and machines, and the work dir shapes no bundle step (a
# rebuild elsewhere reuses the bundle). No evaluation reads the key; HEAR 2021's own bundles all
# record this value.
RECORDED_TMP_DIR = "_workdir"


class ConfigError(ValueError):
    """A recipe or override file is malformed; the message names the file, the task and the key."""


@dataclass(frozen=True)
class TaskConfig:
    """A task resolved for one mode: everything the pipeline needs, and nothing hidden.

    `recipe` names the module under hearpreprocess/recipes/ whose `extract_metadata` reads the
    corpus (default: the task name), so several tasks can share one; `recipe_params` are the
    keyword arguments the TOML passes it (e.g. which label a shared recipe takes).
    """

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
    recipe: str = ""
    recipe_params: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        if self.split_mode == "trainvaltest":
            return list(TVT_SPLITS)
        return fold_names(self.nfolds or 0)

    @property
    def bundle_name(self) -> str:
        return bundle_name(self.task_name, self.version, self.mode)

    @property
    def is_small(self) -> bool:
        return self.mode == "small"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that `from_dict` turns back into an equal TaskConfig."""
        d = asdict(self)
        d["evaluation"] = list(self.evaluation)
        d["sources"] = [s.to_dict() for s in self.sources]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TaskConfig":
        d = dict(d)
        d["evaluation"] = tuple(d["evaluation"])
        d["sources"] = tuple(Source.from_dict(s) for s in d["sources"])
        return cls(**d)

    def digest(self) -> str:
        return digest(self.to_dict())

    def task_metadata(self, tmp_dir: str = RECORDED_TMP_DIR) -> dict[str, Any]:
        """The dict written to task_metadata.json, in the key order of real HEAR 2021 bundles.

        `tmp_dir` stays RECORDED_TMP_DIR in every bundle the pipeline builds (see there why).
        """
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
        meta["download_urls"] = [s.record() for s in self.sources]
        if self.split_mode == "trainvaltest":
            caps = self.max_task_duration_by_split or {}
            meta["max_task_duration_by_split"] = {s: caps.get(s) for s in TVT_SPLITS}
        else:
            meta["max_task_duration_by_fold"] = self.max_task_duration_by_fold
        meta.update({"tmp_dir": tmp_dir, "mode": self.mode, "splits": self.splits})
        return meta


_CONFIG_FIELDS = tuple(f.name for f in fields(TaskConfig) if f.name not in ("mode", "extras"))
_CONFIG_FIELDS = tuple(k if k != "sources" else "download_urls" for k in _CONFIG_FIELDS)
# What a mode table (and a user override table) may set: everything but the task's identity.
MODE_KEYS = (
    tuple(k for k in _CONFIG_FIELDS if k not in ("task_name", "version", "default_mode"))
    + METADATA_EXTRA_KEYS
)
TOP_KEYS = _CONFIG_FIELDS + METADATA_EXTRA_KEYS + REGISTRY_KEYS + ("modes",)
OVERRIDE_KEYS = MODE_KEYS + ("sources",)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _all(check: Callable[[Any], bool], container: type) -> Callable[[Any], bool]:
    def ok(value: Any) -> bool:
        items = value.values() if container is dict else value
        return isinstance(value, container) and all(v is None or check(v) for v in items)

    return ok


# What each key of a mode or override table holds, as TOML spells it, with an example value.
_STRING = ("a string", lambda v: isinstance(v, str), '"..."')
_INTEGER = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
_VALUE_TYPES: dict[str, tuple[str, Callable[[Any], bool], str]] = {
    "embedding_type": _STRING,
    "prediction_type": _STRING,
    "split_mode": _STRING,
    "recipe": _STRING,
    "sample_duration": ("a number of seconds", _is_number, "3.0"),
    "max_task_duration_by_fold": ("a number of seconds", _is_number, "3600.0"),
    "nfolds": (*_INTEGER, "5"),
    "evaluation": (
        "a list of metric names",
        _all(lambda v: isinstance(v, str), list),
        '["top1_acc"]',
    ),
    "max_task_duration_by_split": (
        "a table of seconds per split",
        _all(_is_number, dict),
        "{ train = 3600.0 }",
    ),
    "split_percentage": ("a table of numbers per split", _all(_is_number, dict), "{ train = 70 }"),
    "recipe_params": ("a table", lambda v: isinstance(v, dict), '{ label = "..." }'),
    "download_urls": ("a list of tables", _all(lambda v: isinstance(v, dict), list), "[{ ... }]"),
    "sources": ("a table of tables, one per URL", _all(lambda v: isinstance(v, dict), dict), ""),
    "pitch_range_min": (*_INTEGER, "21"),
    "pitch_range_max": (*_INTEGER, "108"),
    "evaluation_params": ("a table", lambda v: isinstance(v, dict), "{ ... }"),
    "use_scoring_for_early_stopping": ("true or false", lambda v: isinstance(v, bool), "true"),
}


def check_value_types(table: Mapping[str, Any], where: str) -> None:
    """Raise ConfigError for the first value of the wrong type, naming the key, the value and
    the type expected (None passes: TOML has no null, and Python callers use it for "absent")."""
    for key, value in table.items():
        if key not in _VALUE_TYPES or value is None:
            continue
        expected, ok, example = _VALUE_TYPES[key]
        if not ok(value):
            shown = json.dumps(value) if isinstance(value, (str, int, float, bool)) else repr(value)
            hint = f" (e.g. {key} = {example})" if example else ""
            raise ConfigError(
                f"{where}: {key} = {shown} is {_toml_type(value)}, expected {expected}{hint}"
            )


def _toml_type(value: Any) -> str:
    """The TOML name of a value's type, as a user wrote it."""
    names: tuple[tuple[type, str], ...] = (
        (bool, "a boolean"),  # before int: a bool is an int in Python
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (list, "a list"),
        (dict, "a table"),
    )
    return next((name for kind, name in names if isinstance(value, kind)), type(value).__name__)


def recipe_path(task_name: str) -> Path:
    return RECIPES_DIR / f"{task_name}.toml"


def check_keys(keys, allowed, where: str) -> None:
    """Raise ConfigError for the first key not in `allowed`, naming the nearest allowed one."""
    for key in keys:
        if key not in allowed:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(allowed)}"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def read_recipe(task_name: str) -> dict[str, Any]:
    """The raw recipe TOML of a task, modes included, its keys checked."""
    path = recipe_path(task_name)
    if not path.exists():
        raise ConfigError(unknown_task_message(task_name))
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"recipe {path} does not parse: {e}") from e
    check_keys(raw, TOP_KEYS, f"recipe {path}")
    check_keys(raw.get("card", {}), CARD_KEYS, f"recipe {path}, table [card]")
    for mode, table in raw.get("modes", {}).items():
        check_keys(table, MODE_KEYS, f"recipe {path}, table [modes.{mode}]")
    return raw


def load_task_config(
    task_name: str, mode: str | None = None, overrides: Mapping[str, Any] | None = None
) -> TaskConfig:
    """Resolve a task's recipe for one mode, then apply `overrides`.

    `overrides` is a dict of top-level keys to replace; its optional "sources" entry maps a URL
    (of a source or of a part) to the fields to change for it (e.g. {"md5": ...} for a fake).
    """
    raw = read_recipe(task_name)
    modes = raw.get("modes", {})
    mode = mode or raw.get("default_mode")
    if mode is None or mode not in modes:  # TOML keys are str, so None is never in `modes`
        near = difflib.get_close_matches(str(mode), list(modes), n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ConfigError(
            f"task {task_name!r} has no mode {mode!r}; {hint}its modes: {', '.join(sorted(modes))}"
        )
    merged = {k: v for k, v in raw.items() if k not in ("modes", *REGISTRY_KEYS)}
    merged.update(copy.deepcopy(modes[mode]))
    overrides = dict(overrides or {})
    check_keys(overrides, OVERRIDE_KEYS, f"overrides of task {task_name!r}")
    check_value_types(overrides, f"overrides of task {task_name!r}")
    source_overrides = overrides.pop("sources", {})
    merged.update(overrides)
    config = _build(task_name, mode, merged, source_overrides)
    validate(config)
    return config


def _build(task_name: str, mode: str, d: dict[str, Any], source_overrides: Mapping) -> TaskConfig:
    where = f"recipe of task {task_name!r} (mode {mode!r})"
    try:
        sources = tuple(parse_source(r, source_overrides) for r in d.pop("download_urls", []))
    except SourceError as e:
        raise ConfigError(f"{where}: download_urls: {e}") from e
    extras = {k: d.pop(k) for k in METADATA_EXTRA_KEYS if k in d}
    d["evaluation"] = tuple(d.get("evaluation", ()))
    d.setdefault("recipe", task_name)
    d.setdefault("sample_duration", None)  # absent: clips keep their own length (fsd50k)
    if d.get("sample_duration") is not None:
        try:
            d["sample_duration"] = float(d["sample_duration"])
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{where}: sample_duration must be a number of seconds ({e})") from e
    try:
        return TaskConfig(mode=mode, sources=sources, extras=extras, **d)
    except TypeError as e:
        raise ConfigError(f"{where} is malformed: {e}") from e


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
    if len({s.key for s in config.sources}) != len(config.sources):
        fail("two sources share one key (split/name): each needs its own folder")
    if config.sample_duration is not None and config.sample_duration <= 0:
        fail("sample_duration must be positive")
    if not (RECIPES_DIR / f"{config.recipe}.py").is_file():
        fail(f"recipe module {config.recipe!r} does not exist in {RECIPES_DIR}")


def list_tasks(include_extra: bool = True) -> list[str]:
    """Every task with a recipe, discovered from the file system (no hand-kept list).

    Args:
        include_extra: also list the tasks marked `extra_task` (outside the HEAR 2021 set).
    """
    names = sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))
    return names if include_extra else [n for n in names if not is_extra_task(n)]


def list_modes(task_name: str) -> list[str]:
    return sorted(read_recipe(task_name).get("modes", {}))


def is_extra_task(task_name: str) -> bool:
    return bool(read_recipe(task_name).get("extra_task", False))


def read_card(task_name: str) -> dict[str, Any]:
    """The catalogue facts of a task ([card] of its TOML)."""
    return dict(read_recipe(task_name).get("card", {}))


def read_overrides(path: str | Path | None) -> dict[str, dict[str, Any]]:
    """A user override file: a TOML table per task name, e.g. [esc50] sample_duration = 4.0.

    A table naming no registered task, or a key no task has, is an error naming the file.
    """
    if path is None:
        return {}
    try:
        with open(path, "rb") as f:
            tables = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"override file {path} does not parse: {e}") from e
    tasks = list_tasks()
    for name, table in tables.items():
        if name not in tasks:
            near = difflib.get_close_matches(name, tasks, n=1)
            hint = f"did you mean [{near[0]}]?" if near else f"tasks: {', '.join(tasks)}"
            raise ConfigError(f"override file {path}: table [{name}] names no task; {hint}")
        if not isinstance(table, dict):
            raise ConfigError(f"override file {path}: [{name}] must be a table of keys")
        check_keys(table, OVERRIDE_KEYS, f"override file {path}, table [{name}]")
        check_value_types(table, f"override file {path}, table [{name}]")
    return tables


def unknown_task_message(name: str) -> str:
    """That no task is called `name`: the nearest name, and every registered one."""
    tasks = list_tasks()
    near = difflib.get_close_matches(name, tasks, n=1)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"no task {name!r}; {hint}registered tasks: {', '.join(tasks)}"
