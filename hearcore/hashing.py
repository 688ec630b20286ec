"""Digests of files and of JSON-able values: checksums of downloads, bundle manifests, step ids.

A checksum is one hex string everywhere; its algorithm follows from its length (32 hex digits:
md5, 64: sha256), so recipes and manifests never need a separate algorithm field.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20
_HEX = set("0123456789abcdef")
ALGORITHM_BY_LENGTH = {32: "md5", 64: "sha256"}


class ChecksumError(ValueError):
    """A string is neither an md5 nor a sha256 hex digest."""


def checksum_algorithm(checksum: str) -> str:
    """'md5' or 'sha256', from the length of a lower-case hex digest."""
    algorithm = ALGORITHM_BY_LENGTH.get(len(checksum))
    if algorithm is None or not set(checksum) <= _HEX:
        raise ChecksumError(
            f"checksum {checksum!r} is neither an md5 (32 hex digits) nor a sha256 (64)"
        )
    return algorithm


def hash_file(path: str | os.PathLike, algorithm: str) -> "hashlib._Hash":
    """The `hashlib` object of `algorithm` fed with the file's bytes, read in chunks."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 hex digest of a file."""
    return hash_file(path, "sha256").hexdigest()


def file_md5(path: str | os.PathLike) -> str:
    """md5 hex digest of a file."""
    return hash_file(path, "md5").hexdigest()


def file_checksum(path: str | os.PathLike, checksum: str) -> str:
    """Hex digest of a file in the algorithm of `checksum`, so `file_checksum(p, c) == c` checks it.

    Args:
        path: the file to hash.
        checksum: an expected hex digest (32 hex digits: md5, 64: sha256), or an algorithm name,
            "md5" or "sha256".

    Returns:
        The file's lower-case hex digest.

    Raises:
        ChecksumError: `checksum` is neither an md5, a sha256 nor one of their names.
    """
    checksum = checksum.strip().lower()
    algorithm = checksum if checksum in ("md5", "sha256") else checksum_algorithm(checksum)
    return hash_file(Path(path), algorithm).hexdigest()


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`: the identity of a config or a step's inputs."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
