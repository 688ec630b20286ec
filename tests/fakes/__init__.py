"""Fake corpora: tiny synthetic copies of each recipe's real sources, same layout and format.

Test support only: the runner never imports this package. `fakes/<recipe>.py` (named after the
recipe module, so tasks sharing a recipe share a fake) provides

    make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus

It writes every file the config's sources name (archives, parts, manifests and the files they
list) at `mirror_root/HOST/PATH`, so a MirrorServer over `mirror_root` serves the fake exactly
where the pipeline looks for the real one. It may branch on `config.mode` (a small fake for a mode
whose real clips are long) and on `config.task_name` (tasks sharing one recipe).
"""

from __future__ import annotations

import importlib
import json
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
    """

    md5: dict[str, str] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    labels: set = field(default_factory=set)
    spot_checks: list[SpotCheck] = field(default_factory=list)
    config_overrides: dict[str, Any] = field(default_factory=dict)

    def overrides(self) -> dict:
        """Config overrides that build the fake: its config changes, and its files' checksums."""
        sources = {url: {"md5": md5} for url, md5 in self.md5.items()}
        return {**self.config_overrides, "sources": sources}

    def overrides_toml(self, task: str) -> str:
        """The same as a --config-overrides file's table for `task`."""
        lines = [f"[{task}]"] + [f"{k} = {_toml(v)}" for k, v in self.config_overrides.items()]
        for url, md5 in self.md5.items():
            lines += [f'[{task}.sources."{url}"]', f'md5 = "{md5}"']
        return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    """A TOML value: tables inline; strings, numbers and lists as JSON writes them."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def has_fake(config: TaskConfig) -> bool:
    return importlib.util.find_spec(f"fakes.{config.recipe}") is not None


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake corpus of `config`'s recipe for its sources under `mirror_root`."""
    module = importlib.import_module(f"fakes.{config.recipe}")
    return module.make_fake_corpus(Path(mirror_root), config)


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
