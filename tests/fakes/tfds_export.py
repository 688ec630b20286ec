"""Fake TFDS export zips: the small mode of the four TFDS-backed tasks.

Like HEAR 2021's real small zips, each zip holds `audio/` with a few `tfds_id_*.wav` clips and a
`<split>_labels.csv` (filename,label) that also lists clips the zip does not hold (the real CSVs
list the whole TFDS split); small mode drops those rows. Clips have the real native rate and the
real small zips' lengths (gtzan 2 s, crema_d 1.6-2 s, spoken digits 0.17-1 s). Per task:

    tfds_gtzan               train: 12 clips of 4 genres, 22,050 Hz, 2 s; 10 folds (2,2,1,...)
    tfds_gtzan_music_speech  train: 12 clips, 6 music + 6 speech, 22,050 Hz, 2 s; 10 folds
    spoken_digit             train: 7 clips of 4 digits, 8 kHz, 0.2-1 s; 5 folds (2,2,1,1,1)
    tfds_crema_d             train/test/valid: 3 clips each, 16 kHz, 1.6-2 s; 5 folds (2,2,2,2,1)

The folds of the spot checks follow from HEAR's seeds (first seed: small mode skips the label
check); they were computed once by building, and are a regression check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

# task -> (TFDS name slug, native rate, {split key: (TFDS split name, shards, [(shard, index,
# label) present in the zip], [(shard, index, label) only listed in the CSV])})
TASKS = {
    "tfds_gtzan": (
        "gtzan",
        22050,
        {
            "train": (
                "train",
                32,
                [
                    (0, 1, "classical"),
                    (3, 7, "blues"),
                    (5, 7, "jazz"),
                    (5, 20, "classical"),
                    (9, 2, "blues"),
                    (11, 30, "metal"),
                    (16, 0, "jazz"),
                    (17, 4, "metal"),
                    (22, 16, "blues"),
                    (25, 9, "classical"),
                    (28, 3, "jazz"),
                    (31, 12, "metal"),
                ],
                [(0, 0, "pop"), (0, 2, "metal"), (14, 5, "rock"), (30, 1, "blues")],
            )
        },
    ),
    "tfds_gtzan_music_speech": (
        "gtzan-music-speech",
        22050,
        {
            "train": (
                "train",
                4,
                [(0, i, "music") for i in (2, 7, 20)]
                + [(1, i, "speech") for i in (4, 11)]
                + [(2, i, "music") for i in (0, 31)]
                + [(3, i, "speech") for i in (3, 9, 22, 28)]
                + [(3, 30, "music")],
                [(0, 0, "music"), (1, 1, "speech"), (2, 5, "speech")],
            )
        },
    ),
    "spoken_digit": (
        "spoken-digit",
        8000,
        {
            "train": (
                "train",
                1,
                [(0, 102, "8"), (0, 1084, "1"), (0, 1227, "3"), (0, 1532, "1")]
                + [(0, 1734, "8"), (0, 1942, "5"), (0, 2265, "3")],
                [(0, 0, "2"), (0, 1, "1"), (0, 2, "9"), (0, 2499, "7")],
            )
        },
    ),
    "tfds_crema_d": (
        "crema-d",
        16000,
        {
            "train": (
                "train",
                16,
                [(8, 293, "ANG"), (9, 295, "NEU"), (15, 144, "SAD")],
                [(0, 0, "ANG"), (0, 1, "HAP"), (12, 123, "DIS")],
            ),
            "test": (
                "test",
                4,
                [(1, 3, "FEA"), (2, 25, "HAP"), (3, 371, "DIS")],
                [(0, 0, "HAP"), (2, 180, "SAD")],
            ),
            "valid": (
                "validation",
                2,
                [(0, 205, "ANG"), (0, 357, "SAD"), (1, 252, "HAP")],
                [(0, 0, "ANG"), (0, 346, "NEU")],
            ),
        },
    ),
}

# Computed once by building (HEAR's first k-fold seed); a regression check.
SPOT_CHECKS = {
    "tfds_gtzan": [
        SpotCheck("tfds_id_gtzan-train-tfrecord-00005-of-00032-7", "fold00", ("jazz",)),
        SpotCheck("tfds_id_gtzan-train-tfrecord-00000-of-00032-1", "fold07", ("classical",)),
    ],
    "tfds_gtzan_music_speech": [
        SpotCheck(
            "tfds_id_gtzan-music-speech-train-tfrecord-00002-of-00004-0", "fold00", ("music",)
        ),
        SpotCheck(
            "tfds_id_gtzan-music-speech-train-tfrecord-00003-of-00004-9", "fold08", ("speech",)
        ),
    ],
    "spoken_digit": [
        SpotCheck("tfds_id_spoken-digit-train-tfrecord-00000-of-00001-1734", "fold01", (8,)),
        SpotCheck("tfds_id_spoken-digit-train-tfrecord-00000-of-00001-1942", "fold04", (5,)),
    ],
    "tfds_crema_d": [
        SpotCheck("tfds_id_crema-d-train-tfrecord-00015-of-00016-144", "fold00", ("SAD",)),
        SpotCheck("tfds_id_crema-d-validation-tfrecord-00001-of-00002-252", "fold01", ("HAP",)),
        SpotCheck("tfds_id_crema-d-test-tfrecord-00001-of-00004-3", "fold04", ("FEA",)),
    ],
}
# Clip lengths of the real small zips, (shortest, longest) in seconds.
CLIP_SECONDS = {
    "tfds_gtzan": (2.0, 2.0),
    "tfds_gtzan_music_speech": (2.0, 2.0),
    "spoken_digit": (0.17, 1.0),
    "tfds_crema_d": (1.6, 2.0),
}


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write one fake TFDS export zip per source of `config` (a small mode) under `mirror_root`."""
    if config.task_name not in TASKS:
        raise ValueError(f"no fake TFDS export for task {config.task_name!r}")
    slug, sr, splits = TASKS[config.task_name]
    md5, labels, present = {}, set(), 0
    for source in config.sources:
        tfds_split, shards, clips, absent = splits[source.key]
        rows = sorted(clips + absent)
        csv = "filename,label\n" + "".join(
            f"{stem_of(slug, tfds_split, shards, s, i)}.wav,{label}\n" for s, i, label in rows
        )
        members = {f"{source.key}_labels.csv": csv.encode()}
        for shard, index, label in clips:
            stem = stem_of(slug, tfds_split, shards, shard, index)
            members[f"audio/{stem}.wav"] = wav_bytes(_clip(stem, sr, config.task_name), sr)
        md5[source.url] = write_zip(mirror_location(mirror_root, source.url), members)
        labels |= {_final(label) for _, _, label in clips}
        present += len(clips)
    sizes = [len(a) for a in np.array_split(np.arange(present), len(config.splits))]
    return FakeCorpus(
        md5=md5,
        split_counts={f"fold{j:02d}": n for j, n in enumerate(sizes)},
        labels=labels,
        spot_checks=list(SPOT_CHECKS[config.task_name]),
    )


def stem_of(slug: str, tfds_split: str, shards: int, shard: int, index: int) -> str:
    """HEAR's file stem of a TFDS example: `tfds_id_` + the slugified tfds_id."""
    return f"tfds_id_{slug}-{tfds_split}-tfrecord-{shard:05d}-of-{shards:05d}-{index}"


def _final(label: str):
    """The label as the bundle writes it: digits become numbers."""
    return int(label) if label.isdigit() else label


def _clip(stem: str, sr: int, task: str) -> np.ndarray:
    """A noisy tone as long as the real small zips' clips of the task."""
    rng = seeded_rng(stem)
    seconds = rng.uniform(*CLIP_SECONDS[task])
    t = np.arange(round(seconds * sr)) / sr
    tone = np.sin(2 * np.pi * rng.uniform(100, sr / 4) * t) + rng.normal(0, 0.2, t.size)
    return 0.3 * tone * np.hanning(t.size)
