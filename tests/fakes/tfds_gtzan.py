"""Fake GTZAN genres.tar.gz: 20 short excerpts of two genres in the real layout.

Full mode: `genres/<genre>/<genre>.<NNNNN>.wav`, ten blues and ten reggae excerpts, 22,050 Hz mono
16-bit, 1-3 s rather than 30 s (the pipeline pads them), plus a non-WAV file that the recipe must
ignore. Twenty clips is the least that lets 10 folds each hold both labels, which full mode
requires: 2 clips per fold. Small mode is HEAR's TFDS export zip (fakes.tfds_export).
Scaled (fakes.Scale, full mode): n * 10 / 2 excerpts per genre of the scale's clip length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location, tfds_export

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_tar_gz
from hearpreprocess.config import TaskConfig

SR = 22050
GENRES = ("blues", "reggae")
PER_GENRE = 10


def SCALABLE(config: TaskConfig) -> bool:
    return config.recipe != "tfds_export"


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake genres.tar.gz (full) or TFDS export zip (small) under `mirror_root`."""
    if config.recipe == "tfds_export":
        return tfds_export.make_fake_corpus(mirror_root, config)
    members = {"genres/input.mf": b"genres/blues/blues.00000.wav\tblues\n"}
    scale = current_scale()
    per_genre, seconds = PER_GENRE, None
    if scale is not None:
        per_genre = scale.per_group(len(GENRES), len(config.splits))
        seconds = scale.clip_seconds
    for genre in GENRES:
        for n in range(per_genre):
            name = f"genres/{genre}/{genre}.{n:05d}.wav"
            members[name] = wav_bytes(_excerpt(name, seconds), SR)
    (source,) = config.sources
    md5 = write_tar_gz(mirror_location(mirror_root, source.url), members)
    if scale is not None:
        return FakeCorpus(md5={source.url: md5}, labels=set(GENRES))
    return FakeCorpus(
        md5={source.url: md5},
        split_counts={f"fold{j:02d}": 2 for j in range(10)},
        labels=set(GENRES),
        spot_checks=[
            SpotCheck("blues.00000", "fold04", ("blues",)),
            SpotCheck("reggae.00009", "fold01", ("reggae",)),
            SpotCheck("blues.00007", "fold00", ("blues",)),
        ],
    )


def _excerpt(name: str, seconds: float | None = None) -> np.ndarray:
    """A few seconds (1-3, or `seconds`) of a noisy chord."""
    rng = seeded_rng(name)
    t = np.arange(round((rng.uniform(1.0, 3.0) if seconds is None else seconds) * SR)) / SR
    chord = sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 2000, 3))
    return 0.2 * chord + rng.normal(0, 0.05, t.size)
