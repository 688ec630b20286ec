"""Fake GTZAN music_speech.tar.gz: 10 music and 10 speech excerpts.

Full mode: `music_speech/{music,speech}_wav/<name>.wav`, 22,050 Hz mono 16-bit, 1-3 s rather than
30 s (the pipeline pads them), one name with a dash (allowed by TFDS's path rule), plus a non-WAV
file the recipe must ignore. Twenty clips is the least that lets 10 folds each hold both labels,
which full mode requires: 2 clips per fold. Small mode is HEAR's TFDS export zip
(fakes.tfds_export). Scaled (fakes.Scale, full mode): n * 10 / 2 excerpts per label, named after
the fixed ones plus a number, of the scale's clip length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location, tfds_export

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_tar_gz
from hearpreprocess.config import TaskConfig

SR = 22050
NAMES = {
    "music": ["bagpipe", "ballad", "beat", "blues-rock", "brahms", "chaos", "copland", "didj"]
    + ["gravity", "jazz"],
    "speech": ["acomic", "allison", "amal", "austria", "bathroom", "comedy", "conversion"]
    + ["danie", "geography", "teachers"],
}


def SCALABLE(config: TaskConfig) -> bool:
    return config.recipe != "tfds_export"


def scaled_names(per_label: int) -> dict[str, list[str]]:
    """`per_label` names per label: the fixed names in turn, numbered."""
    return {
        label: [f"{names[i % len(names)]}{i // len(names) + 1}" for i in range(per_label)]
        for label, names in NAMES.items()
    }


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake music_speech.tar.gz (full) or TFDS export zip (small) under `mirror_root`."""
    if config.recipe == "tfds_export":
        return tfds_export.make_fake_corpus(mirror_root, config)
    members = {"music_speech/music_speech.mf": b"music_wav/bagpipe.wav\tmusic\n"}
    scale = current_scale()
    names_by_label, seconds = NAMES, None
    if scale is not None:
        per_label = scale.per_group(len(NAMES), len(config.splits))
        names_by_label, seconds = scaled_names(per_label), scale.clip_seconds
    for label, names in names_by_label.items():
        for name in names:
            path = f"music_speech/{label}_wav/{name}.wav"
            members[path] = wav_bytes(_excerpt(path, label, seconds), SR)
    (source,) = config.sources
    md5 = write_tar_gz(mirror_location(mirror_root, source.url), members)
    if scale is not None:
        return FakeCorpus(md5={source.url: md5}, labels=set(NAMES))
    return FakeCorpus(
        md5={source.url: md5},
        split_counts={f"fold{j:02d}": 2 for j in range(10)},
        labels=set(NAMES),
        spot_checks=[
            SpotCheck("blues-rock", "fold08", ("music",)),
            SpotCheck("comedy", "fold00", ("speech",)),
            SpotCheck("teachers", "fold01", ("speech",)),
        ],
    )


def _excerpt(name: str, label: str, seconds: float | None = None) -> np.ndarray:
    """Music: a noisy chord; speech: noise bursts at a syllable rate; 1-3 s, or `seconds`."""
    rng = seeded_rng(name)
    t = np.arange(round((rng.uniform(1.0, 3.0) if seconds is None else seconds) * SR)) / SR
    if label == "music":
        return 0.2 * sum(np.sin(2 * np.pi * f * t) for f in rng.uniform(100, 2000, 3))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t), 0, None)
    return 0.4 * envelope * rng.normal(0, 1, t.size).clip(-2.5, 2.5) / 2.5
