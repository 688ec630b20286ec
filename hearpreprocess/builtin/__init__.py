"""Built-in corpora: generated locally and served on loopback, so examples run offline.

A source whose URL host is BUILTIN_HOST has no copy on the internet. Before a run, the runner
writes such archives with the task's generator (GENERATORS) into a folder of the
work dir and serves that folder with a MirrorServer; downloads of builtin URLs go there, and the
archive is then checksummed, extracted and processed like any other.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlsplit

from hearcore.download import mirror_url
from hearpreprocess.builtin import tones
from hearpreprocess.config import TaskConfig
from hearpreprocess.mirror import MirrorServer, mirror_location

BUILTIN_HOST = "builtin.hearbench"
# Task name -> function writing its archive at a path (deterministic bytes, md5 pinned in the TOML).
GENERATORS = {"tones": tones.write_archive}


def is_builtin(url: str) -> bool:
    return urlsplit(url).hostname == BUILTIN_HOST


def has_builtin_sources(config: TaskConfig) -> bool:
    return any(is_builtin(s.url) for s in config.sources)


def resolve_url(url: str, mirror: str | None, builtin_mirror: str | None) -> str:
    """The address to fetch `url` from: the builtin server, the user's mirror, or the URL itself."""
    if is_builtin(url):
        if builtin_mirror is None:
            raise ValueError(
                f"{url} is a built-in corpus; run it through hearpreprocess.runner, which serves it"
            )
        return mirror_url(url, builtin_mirror)
    return mirror_url(url, mirror)


@contextlib.contextmanager
def serve_builtin_corpora(configs: Iterable[TaskConfig], root: Path) -> Iterator[str | None]:
    """Generate the builtin archives of `configs` under `root` and serve them; yield the URL.

    Yields None (and starts nothing) when no config has a builtin source.
    """
    builtin = [c for c in configs if has_builtin_sources(c)]
    if not builtin:
        yield None
        return
    for config in builtin:
        for source in config.sources:
            if is_builtin(source.url):
                GENERATORS[config.task_name](mirror_location(root, source.url))
    with MirrorServer(root) as server:
        yield server.url
