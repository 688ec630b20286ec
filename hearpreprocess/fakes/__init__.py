"""Fake corpora: tiny synthetic copies of each task's real archives, same layout and format.

`fakes/<task>.py` provides `make_fake_corpus(mirror_root, config) -> FakeCorpus`. It writes an
archive for every source URL `https://HOST/PATH` of the config at `mirror_root/HOST/PATH`, so a
MirrorServer over `mirror_root` serves the fake exactly where the pipeline looks for the real one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from hearpreprocess.config import TaskConfig


@dataclass
class FakeCorpus:
    """What a fake corpus holds, declared by its generator, so tests can check the pipeline.

    Attributes:
        md5: source URL -> md5 of the fake archive written for it.
        split_counts: split name -> number of clips after splitting and mode caps.
        labels: the label vocabulary the bundle must end up with.
    """

    md5: dict[str, str] = field(default_factory=dict)
    split_counts: dict[str, int] = field(default_factory=dict)
    labels: set = field(default_factory=set)

    def overrides(self) -> dict:
        """Config overrides that make the pipeline accept the fake archives' checksums."""
        return {"sources": {url: {"md5": md5} for url, md5 in self.md5.items()}}


def mirror_location(mirror_root: Path, url: str) -> Path:
    """Where a mirror keeps the file of `url` (`MIRROR/HOST/PATH`), parents created."""
    parts = urlsplit(url)
    path = Path(mirror_root) / parts.netloc / parts.path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def make_fake_corpus(task_name: str, mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake corpus of `task_name` for `config`'s sources under `mirror_root`."""
    module = importlib.import_module(f"hearpreprocess.fakes.{task_name}")
    return module.make_fake_corpus(Path(mirror_root), config)
