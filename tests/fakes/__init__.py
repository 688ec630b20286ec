"""Fake corpora: tiny synthetic copies of each recipe's real sources, same layout and format.

Test support only: the runner never imports this package. `fakes/<recipe>.py` (named after the
recipe module, so tasks sharing a recipe share a fake) provides

    make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus

It writes every file the config's sources name (archives, parts, manifests and the files they
list) at `mirror_root/HOST/PATH`, so a MirrorServer over `mirror_root` serves the fake exactly
where the pipeline looks for the real one. It may branch on `config.mode` (a small fake for a mode
whose real clips are long) and on `config.task_name` (tasks sharing one recipe).

Scale: by default a fake is fixed and tiny, and declares exact counts and spot checks. A fake
module that sets `SCALABLE = True` (or `SCALABLE(config) -> bool`, e.g. no scale for small
mode's HEAR export zips) also honours `make_fake_corpus(..., scale=Scale(n, seconds))`
(read inside it through `current_scale()`): it then writes about `n` clips per split of the mode,
each `seconds` long where the layout lets it choose, in the same layout and format. A scaled fake
only promises a corpus that builds: its counts and spot checks may be left empty, and it drops
config_overrides that only exist to keep the default fake small (shrunk clips, shrunk caps).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearpreprocess.config import TaskConfig
from hearpreprocess.mirror import mirror_location  # noqa: F401 (re-exported for the fakes)


@dataclass(frozen=True)
class SpotCheck:
    """One clip the built bundle must hold: its stem, split (or fold) and labels.

    `labels` are compared exactly with the labels the split JSON lists for the clip (for an event
    task, the labels of its events), order ignored: 3 and "3" differ.
    """

    stem: str
    split: str
    labels: tuple[Any, ...]


@dataclass
class FakeCorpus:
    """What a fake corpus holds, declared by its generator, so tests can check the pipeline.

    Attributes:
        md5: URL -> md5 of every file written for a URL that the config pins (sources and parts).
        split_counts: split name -> number of clips after splitting and mode caps.
        labels: the label vocabulary the bundle must end up with.
        spot_checks: a few clips whose split and labels the bundle must show.
        config_overrides: top-level config keys the fake changes so that a test stays small and
            fast (e.g. `{"sample_duration": 2.0}` for a task whose real clips last 600 s); tests
            build the fake with them, and its counts assume them.
        moved: URL -> the URL the fake is written at instead, for a source whose real host the
            runner serves itself (the built-in tones), so that a scaled fake is fetched.
    """

    md5: dict[str, str] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    labels: set = field(default_factory=set)
    spot_checks: list[SpotCheck] = field(default_factory=list)
    config_overrides: dict[str, Any] = field(default_factory=dict)
    moved: dict[str, str] = field(default_factory=dict)

    def _source(self, url: str, md5: str) -> dict[str, str]:
        return {"md5": md5, **({"url": self.moved[url]} if url in self.moved else {})}

    def overrides(self) -> dict:
        """Config overrides that build the fake: its config changes, and its files' checksums."""
        sources = {url: self._source(url, md5) for url, md5 in self.md5.items()}
        return {**self.config_overrides, "sources": sources}

    def overrides_toml(self, task: str) -> str:
        """The same as a --config-overrides file's table for `task`."""
        lines = [f"[{task}]"] + [f"{k} = {_toml(v)}" for k, v in self.config_overrides.items()]
        for url, md5 in self.md5.items():
            lines += [f'[{task}.sources."{url}"]']
            lines += [f"{k} = {json.dumps(v)}" for k, v in self._source(url, md5).items()]
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    """A TOML value: tables inline; strings, numbers and lists as JSON writes them."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


@dataclass(frozen=True)
class Scale:
    """How big a scaled fake is: clips per split of the mode, and each clip's length in seconds
    (None: the fake's own lengths)."""

    clips_per_split: int
    clip_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.clips_per_split < 1:
            raise ValueError(f"a scaled fake needs at least 1 clip per split, not {self}")
        if self.clip_seconds is not None and not self.clip_seconds > 0:
            raise ValueError(f"a scaled fake's clips must last more than 0 s, not {self}")

    def seconds(self, default: float) -> float:
        """The clip length to write: the scale's, or the fake's own `default`."""
        return default if self.clip_seconds is None else self.clip_seconds

    def per_group(self, groups: int, splits: int = 1) -> int:
        """Clips for each of `groups` (labels) so that `splits` splits get about clips_per_split
        each; never fewer than 3 per split: a k-fold split retries its seed until every fold holds
        every label, which with one or two per fold and label almost never happens."""
        return max(3 * splits, math.ceil(self.clips_per_split * splits / groups))


# The scale of the fake being written; set only for the duration of make_fake_corpus, so that a
# fake that delegates to another (spoken_digit -> tfds_export) passes it on without a parameter.
_SCALE: ContextVar[Scale | None] = ContextVar("fake_scale", default=None)


def current_scale() -> Scale | None:
    """The scale the fake being written must honour; None for the fixed default fake."""
    return _SCALE.get()


def has_fake(config: TaskConfig) -> bool:
    return importlib.util.find_spec(f"fakes.{config.recipe}") is not None


def is_scalable(config: TaskConfig) -> bool:
    """Whether the fake of `config`'s recipe honours a Scale (its module sets SCALABLE)."""
    module = importlib.import_module(f"fakes.{config.recipe}")
    scalable = getattr(module, "SCALABLE", False)
    return scalable(config) if callable(scalable) else bool(scalable)


def make_fake_corpus(
    mirror_root: Path, config: TaskConfig, scale: Scale | None = None
) -> FakeCorpus:
    """Write the fake corpus of `config`'s recipe for its sources under `mirror_root`; with a
    `scale`, the scaled fake (see the module docstring), if the recipe's fake has one."""
    module = importlib.import_module(f"fakes.{config.recipe}")
    if scale is not None and not is_scalable(config):
        raise ValueError(
            f"the fake of task {config.task_name} (mode {config.mode}, tests/fakes/"
            f"{config.recipe}.py) has a fixed size: build it without a scale, or add one"
        )
    token = _SCALE.set(scale)
    try:
        return module.make_fake_corpus(Path(mirror_root), config)
    finally:
        _SCALE.reset(token)


def extract_sources(config: TaskConfig, mirror_root: Path, dest: Path) -> dict[str, Path]:
    """Unpack the config's archive sources from a mirror folder into `dest/<key>`, as the
    pipeline lays them out for the recipe; returns {source key: folder}."""
    from hearcore.archive import extract_archive

    folders = {}
    for source in config.sources:
        if source.kind != "archive":
            raise ValueError(f"extract_sources unpacks archives only, not a {source.kind}")
        extract_archive(mirror_location(mirror_root, source.url), Path(dest) / source.key)
        folders[source.key] = Path(dest) / source.key
    return folders


def unpack_fake(root: Path, config: TaskConfig) -> tuple[FakeCorpus, dict[str, Path]]:
    """Write the fake of `config` under `root/mirror` and unpack its sources under `root/x`, as
    the pipeline lays them out for the recipe: (the fake, {source key: folder})."""
    corpus = make_fake_corpus(Path(root) / "mirror", config)
    return corpus, extract_sources(config, Path(root) / "mirror", Path(root) / "x")
