"""Fake FSDD v1.0.9 tarball: 21 recordings of three digits in the real layout.

Full mode: GitHub's tag archive layout, `free-spoken-digit-dataset-1.0.9/recordings/
<digit>_<speaker>_<take>.wav`, 8 kHz mono 16-bit, 0.2-0.9 s (some longer than the task's 0.56 s,
so trimmed; some shorter, so padded), plus the repository's other files. Three digits of seven
recordings each (five speakers) give 5 folds of 5/4/4/4/4 that can each hold every digit, which
full mode requires. Labels are JSON numbers in the bundle. Small mode is HEAR's TFDS export zip
(fakes.tfds_export). Scaled (fakes.Scale, full mode): the three digits, n * 5 / 3 takes each by
five made-up speakers in turn, each as long as the scale's clip length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location, tfds_export

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_tar_gz
from hearpreprocess.config import TaskConfig

SR = 8000
ROOT = "free-spoken-digit-dataset-1.0.9"
DIGITS = (0, 4, 9)
TAKES = [("jackson", 0), ("jackson", 1), ("nicolas", 0), ("theo", 0), ("theo", 49)]
TAKES += [("yweweler", 3), ("george", 12)]
SPEAKERS = ("jackson", "nicolas", "theo", "yweweler", "george")


def SCALABLE(config: TaskConfig) -> bool:
    return config.recipe != "tfds_export"


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake v1.0.9.tar.gz (full) or TFDS export zip (small) under `mirror_root`."""
    if config.recipe == "tfds_export":
        return tfds_export.make_fake_corpus(mirror_root, config)
    members = {
        f"{ROOT}/README.md": b"# Free Spoken Digit Dataset (fake)\n",
        f"{ROOT}/acquire_data/say_numbers_prompt.py": b"print('say a digit')\n",
        f"{ROOT}/utils/__init__.py": b"",
    }
    scale = current_scale()
    takes, seconds = TAKES, None
    if scale is not None:
        n = scale.per_group(len(DIGITS), len(config.splits))
        takes = [(SPEAKERS[i % len(SPEAKERS)], i) for i in range(n)]
        seconds = scale.clip_seconds
    for digit in DIGITS:
        for speaker, take in takes:
            name = f"{ROOT}/recordings/{digit}_{speaker}_{take}.wav"
            members[name] = wav_bytes(_utterance(name, seconds), SR)
    (source,) = config.sources
    md5 = write_tar_gz(mirror_location(mirror_root, source.url), members)
    if scale is not None:
        return FakeCorpus(md5={source.url: md5}, labels=set(DIGITS))
    return FakeCorpus(
        md5={source.url: md5},
        split_counts={"fold00": 5, "fold01": 4, "fold02": 4, "fold03": 4, "fold04": 4},
        labels=set(DIGITS),
        spot_checks=[
            SpotCheck("0_jackson_0", "fold01", (0,)),
            SpotCheck("9_george_12", "fold02", (9,)),
            SpotCheck("4_george_12", "fold00", (4,)),
        ],
    )


def _utterance(name: str, seconds: float | None = None) -> np.ndarray:
    """A short gliding tone, as trimmed to the word as FSDD's recordings: 0.2-0.9 s, or
    `seconds`."""
    rng = seeded_rng(name)
    n = round((rng.uniform(0.2, 0.9) if seconds is None else seconds) * SR)
    f = np.linspace(rng.uniform(150, 300), rng.uniform(100, 250), n)
    return 0.5 * np.sin(2 * np.pi * np.cumsum(f) / SR) * np.hanning(n) + rng.normal(0, 0.01, n)
