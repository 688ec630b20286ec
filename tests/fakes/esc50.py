"""Fake ESC-50: ten clips in the real `ESC-50-master/` zip layout.

Two 5 s, 44.1 kHz mono clips per official fold, five categories; like many real ESC-50 clips
they are a short sound padded with digital silence. Counts: fold00..fold04 hold 2 clips each;
labels are the five category names. In small mode meta/esc50.csv also lists two clips that the
zip does not hold, as the real small zip keeps the whole CSV (small mode drops those rows).
Scaled (fakes.Scale): n clips per fold, categories in turn, made-up freesound ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 44100
SECONDS = 5.0
TARGETS = {"dog": 0, "rooster": 1, "rain": 10, "chirping_birds": 14, "crying_baby": 20}
ESC10 = {"dog", "rooster", "rain", "crying_baby"}
# (fold, freesound clip id, take, category)
CLIPS = [
    (1, 100032, "A", "dog"),
    (1, 17367, "B", "rain"),
    (2, 118964, "A", "rooster"),
    (2, 39443, "C", "chirping_birds"),
    (3, 151273, "A", "crying_baby"),
    (3, 71964, "B", "dog"),
    (4, 99644, "A", "rain"),
    (4, 184575, "A", "rooster"),
    (5, 197121, "B", "chirping_birds"),
    (5, 233787, "A", "crying_baby"),
]
ABSENT_IN_SMALL = [(1, 208757, "C", "rain"), (3, 87936, "A", "dog")]
HEADER = "filename,fold,target,category,esc10,src_file,take\n"
SCALABLE = True


def scaled_clips(per_fold: int) -> list[tuple]:
    """`per_fold` clips in each of the 5 folds, the categories in turn."""
    categories = sorted(TARGETS)
    return [
        (fold, 300000 + fold * 10000 + i, "A", categories[i % len(categories)])
        for fold in range(1, 6)
        for i in range(per_fold)
    ]


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake ESC-50 zip for every source of `config` under `mirror_root`."""
    scale = current_scale()
    clips = CLIPS if scale is None else scaled_clips(scale.clips_per_split)
    seconds = SECONDS if scale is None else scale.seconds(SECONDS)
    listed = clips + (ABSENT_IN_SMALL if config.is_small else [])
    csv = HEADER + "".join(_csv_line(*clip) for clip in sorted(listed, key=_filename))
    members = {
        "ESC-50-master/README.md": b"Fake ESC-50\n",
        "ESC-50-master/LICENSE": b"CC BY-NC 3.0\n",
        "ESC-50-master/requirements.txt": b"numpy\n",
        "ESC-50-master/meta/esc50.csv": csv.encode(),
    }
    for clip in clips:
        name = _filename(clip)
        members[f"ESC-50-master/audio/{name}"] = wav_bytes(_clip(name, seconds), SR)
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    if scale is not None:
        return FakeCorpus(md5=md5, labels={category for *_, category in clips})
    return FakeCorpus(
        md5=md5,
        split_counts={f"fold{i:02d}": 2 for i in range(5)},
        labels=set(TARGETS),
        spot_checks=[
            SpotCheck("1-100032-A-0", "fold00", ("dog",)),
            SpotCheck("5-197121-B-14", "fold04", ("chirping_birds",)),
        ],
    )


def _filename(clip: tuple) -> str:
    fold, clip_id, take, category = clip
    return f"{fold}-{clip_id}-{take}-{TARGETS[category]}.wav"


def _csv_line(fold: int, clip_id: int, take: str, category: str) -> str:
    name = _filename((fold, clip_id, take, category))
    return f"{name},{fold},{TARGETS[category]},{category},{category in ESC10},{clip_id},{take}\n"


def _clip(name: str, seconds: float = SECONDS) -> np.ndarray:
    """A 0.4-1.5 s noisy tone burst somewhere in `seconds` (5) of digital silence."""
    rng = seeded_rng(name)
    out = np.zeros(round(seconds * SR))
    n = min(round(rng.uniform(0.4, 1.5) * SR), out.size - 1)
    at = rng.integers(0, out.size - n)
    t = np.arange(n) / SR
    burst = np.sin(2 * np.pi * rng.uniform(200, 4000) * t) + rng.normal(0, 0.3, n)
    out[at : at + n] = 0.4 * burst * np.hanning(n)
    return out
