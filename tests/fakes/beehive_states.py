"""Fake NU-Hive archives for beehive_states_fold0 and _fold1.

Four archives, one per source key (hive1/12062018 QUEEN, hive1/31052018 NOQUEEN, hive3/14072017
NOQUEEN, hive3/28072017 QUEEN), each with three WAVs at its root under the real names (`Hive1
12_06_2018_QueenBee____16_20_00.wav`, with its space; `Hive3_..._NO_QueenBee____...` with
underscores), 16-bit at the native rates: Hive1 32 kHz, Hive3 44.1 kHz.

Full and 5h modes: no free tool writes RAR, so each `.rar` URL gets a ZIP in the RAR's layout
(WAVs at the root); the pipeline sniffs an archive's format from its content, not its name, so it
extracts it all the same (real RAR extraction is tested in test_archive.py). The real recordings
last 600 s, too long for a test at five rates, so the fake shrinks sample_duration to 2 s (the
config_overrides below) and writes clips of 1.5 s (padded), 2.7 s and 3 s (trimmed); one Hive3
clip is stereo (downmixed). Small mode mimics the real small zips: 2.0 s mono clips, no folder
entries. The 5h caps (533/66/66 clips at 30 s; 8000/1000/1000 at 2 s) keep every fake clip.

Counts, every mode and fold: the train hive's 6 stems give round(6 * 11.11%) = 1 valid, so
train 5, valid 1, test 6. Which stem goes to valid follows HEAR's seed; it was computed once by
building each task and mode, then declared below (VALID).

Scaled (fakes.Scale, full and 5h): n / 2 recordings per archive (at least 3), of the scale's clip
length, at the config's own sample_duration (no shrinking).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SHRUNK_DURATION = 2.0
RATES = {"hive1": 32000, "hive3": 44100}
# source key -> (file-name prefix, recording times)
ARCHIVES = {
    "hive1/12062018": ("Hive1 12_06_2018_QueenBee", ("16_20_00", "12_00_00", "23_40_00")),
    "hive1/31052018": ("Hive1 31_05_2018_NO_QueenBee", ("17_30_00", "13_50_00", "05_00_00")),
    "hive3/14072017": ("Hive3_14_07_2017_NO_QueenBee", ("13_10_00", "05_00_00", "17_40_00")),
    "hive3/28072017": ("Hive3_28_07_2017_QueenBee", ("13_40_00", "00_00_00", "08_10_00")),
}
# Full/5h durations of the three clips of each archive, in their order above.
DURATIONS = (1.5, 3.0, 2.7)
STEREO = "Hive3_28_07_2017_QueenBee____00_00_00"

# task -> the train hive's stem that becomes valid (the same in every mode), computed once by
# building.
VALID = {
    "beehive_states_fold0": "Hive1 12_06_2018_QueenBee____23_40_00",
    "beehive_states_fold1": "Hive3_14_07_2017_NO_QueenBee____17_40_00",
}


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def scaled_stems(key: str, count: int) -> list[str]:
    """`count` distinct recording names of one archive (hour_minute_second of the day)."""
    prefix = ARCHIVES[key][0]
    return [f"{prefix}____{i // 60 % 24:02d}_{i % 60:02d}_{i // 1440:02d}" for i in range(count)]


def stems(key: str) -> list[str]:
    """The file stems of one archive, in the order written."""
    prefix, times = ARCHIVES[key]
    return [f"{prefix}____{time}" for time in times]


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake archive of every source of `config` under `mirror_root`."""
    scale = current_scale()
    if scale is not None:
        return _scaled_corpus(mirror_root, config, scale)
    md5 = {}
    for source in config.sources:
        sr = RATES[source.split]
        members = {}
        for stem, seconds in zip(stems(source.key), DURATIONS):
            seconds = SHRUNK_DURATION if config.is_small else seconds
            channels = 2 if stem == STEREO and not config.is_small else 1
            members[f"{stem}.wav"] = wav_bytes(_hum(stem, sr, seconds, channels), sr)
        md5[source.url] = write_zip(
            mirror_location(mirror_root, source.url), members, with_dirs=False
        )
    train_hive = config.recipe_params["train_hive"]
    test_hive = next(hive for hive in RATES if hive != train_hive)
    valid = VALID[config.task_name]
    train = next(s for k in ARCHIVES if k.startswith(train_hive) for s in stems(k) if s != valid)
    test = [stems(k)[0] for k in ARCHIVES if k.startswith(test_hive)]
    return FakeCorpus(
        md5=md5,
        split_counts={"train": 5, "valid": 1, "test": 6},
        labels={"QUEEN", "NOQUEEN"},
        spot_checks=[
            SpotCheck(train, "train", (_label(train),)),
            SpotCheck(valid, "valid", (_label(valid),)),
            *(SpotCheck(stem, "test", (_label(stem),)) for stem in test),
        ],
        config_overrides={} if config.is_small else {"sample_duration": SHRUNK_DURATION},
    )


def _scaled_corpus(mirror_root: Path, config: TaskConfig, scale) -> FakeCorpus:
    """The scaled fake: every archive with n / 2 mono recordings of the scale's length."""
    # 3 per archive at least: 6 train stems, so that round(6 * 11.11%) = 1 goes to valid.
    md5, count = {}, max(3, -(-scale.clips_per_split // 2))
    seconds = scale.seconds(config.sample_duration or SHRUNK_DURATION)
    for source in config.sources:
        sr = RATES[source.split]
        members = {
            f"{stem}.wav": wav_bytes(_hum(stem, sr, seconds, 1), sr)
            for stem in scaled_stems(source.key, count)
        }
        path = mirror_location(mirror_root, source.url)
        md5[source.url] = write_zip(path, members, with_dirs=False)
    return FakeCorpus(md5=md5, labels={"QUEEN", "NOQUEEN"})


def _label(stem: str) -> str:
    return "NOQUEEN" if "_NO_" in stem else "QUEEN"


def _hum(name: str, sr: int, seconds: float, channels: int) -> np.ndarray:
    """A colony's hum: a 200-300 Hz buzz with harmonics, slowly modulated, in noise."""
    rng = seeded_rng(name)
    t = np.arange(round(seconds * sr)) / sr
    f0 = rng.uniform(200, 300)
    buzz = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in (1, 2, 3, 4))
    hum = buzz * (1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
    out = 0.15 * hum + rng.normal(0, 0.05, t.size)
    if channels == 2:
        out = np.stack([out, 0.8 * out + rng.normal(0, 0.02, t.size)], axis=1)
    return out
