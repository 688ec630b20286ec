"""Fake gunshot triangulation: four raw recordings (full) or a flat zip of pre-cut clips (small).

Full mode writes the four raw WAVs (kind `file`, not archives) at 8 kHz 16-bit mono, long enough
for the real alignment offsets (mic1 runs about 347 s): digital silence, with the shots placed so
that they fall on the aligned timeline at 1.0 + 0.75 j s (j = 0..22). On mic1 a shot starts with a
step to 0.95; the other mics carry the same shots, later and quieter. Mic1 also holds what the
onset rule must skip: a loud burst before its aligned start, a second peak inside the hold window
of shot 3, and a 23rd shot past the cap of 22. Counts: 88 clips, 12 per fold, 16 in fid1's fold04.

Small mode mimics the real zip: 15 clips `mic{m}_shot{j}_fid{F}.wav` flat at the root (48 kHz
16-bit mono, 1.5 s, onset at 0.125 s), at least two per firearm and every mic present.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, mirror_location

from hearcore.atomic import atomic_write_bytes
from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.gunshot_triangulation import LEAD, MIC_KEYS, OFFSETS, SR, firearm

FAKE_SR = 8000
RATIO = SR // FAKE_SR
# Shot onsets on the aligned 48 kHz timeline (36,000 samples apart, beyond the 25,000 hold); the
# last one is a 23rd shot, which the cap of 22 drops.
ONSETS_48K = [48_000 + 36_000 * j for j in range(23)]
END_48K = ONSETS_48K[-1] + 48_000  # aligned length of every recording
DELAY_48K = {1: 0, 2: 150, 3: 2_800, 4: 3_000}  # later arrival at the other mics
LEVEL = {1: 0.95, 2: 0.6, 3: 0.5, 4: 0.55}
DOUBLE_PEAK_SHOT, DOUBLE_PEAK_AFTER = 3, 14_400  # inside the hold window: not a new onset
# Folds of the firearms (split_k_folds seed over the sorted keys fid1..fid7).
FOLD = {3: "fold00", 2: "fold01", 5: "fold02", 4: "fold03", 1: "fold04", 7: "fold05", 6: "fold06"}
SMALL_CLIPS = [
    (1, 0), (2, 3), (4, 1),  # fid1
    (3, 4), (4, 6),  # fid2
    (1, 7), (2, 9),  # fid3
    (3, 10), (4, 12),  # fid4
    (1, 13), (2, 15),  # fid5
    (3, 16), (4, 18),  # fid6
    (1, 19), (2, 21),  # fid7
]  # fmt: skip
SPOT_CHECKS = {
    "full": [
        SpotCheck("mic1_shot0_fid1", "fold04", ("mic1",)),
        SpotCheck("mic3_shot9_fid3", "fold00", ("mic3",)),
        SpotCheck("mic4_shot21_fid7", "fold05", ("mic4",)),
        SpotCheck("mic2_shot13_fid5", "fold02", ("mic2",)),
    ],
    "small": [
        SpotCheck("mic4_shot1_fid1", "fold04", ("mic4",)),
        SpotCheck("mic2_shot9_fid3", "fold00", ("mic2",)),
        SpotCheck("mic3_shot16_fid6", "fold06", ("mic3",)),
    ],
}


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake raw recordings (full) or the fake pre-cut zip (small) under `mirror_root`."""
    corpus = FakeCorpus(labels={f"mic{m}" for m in MIC_KEYS}, spot_checks=SPOT_CHECKS[config.mode])
    if config.is_small:
        members = {_small_name(mic, shot): wav_bytes(_small_clip(mic, shot), SR)
                   for mic, shot in SMALL_CLIPS}  # fmt: skip
        (source,) = config.sources
        corpus.md5[source.url] = write_zip(
            mirror_location(mirror_root, source.url), members, with_dirs=False
        )
        folds = [FOLD[firearm(shot)] for _, shot in SMALL_CLIPS]
    else:
        mic_of_key = {key: mic for mic, key in MIC_KEYS.items()}
        for source in config.sources:
            data = raw_recording(mic_of_key[source.key])
            atomic_write_bytes(mirror_location(mirror_root, source.url), data)
            corpus.md5[source.url] = hashlib.md5(data).hexdigest()
        folds = [FOLD[firearm(shot)] for _ in MIC_KEYS for shot in range(22)]
    corpus.split_counts = {fold: folds.count(fold) for fold in sorted(set(folds))}
    return corpus


def planted_onset_48k(mic: int, shot: int) -> int:
    """The raw 48 kHz-timeline sample where the fake puts the step of `shot` on `mic`."""
    native = round((OFFSETS[mic] - LEAD + ONSETS_48K[shot] + DELAY_48K[mic]) / RATIO)
    return native * RATIO


def raw_recording(mic: int) -> bytes:
    """WAV bytes of one fake raw recording: 8 kHz 16-bit mono, silence and shots."""
    x = np.zeros(round((OFFSETS[mic] - LEAD + END_48K) / RATIO), dtype=np.float32)
    for shot in range(len(ONSETS_48K)):
        _add_shot(x, planted_onset_48k(mic, shot) // RATIO, LEVEL[mic], f"mic{mic}-{shot}")
    if mic == 1:
        # A loud burst 0.5 s before the aligned start, which the detection must not see.
        _add_shot(x, (OFFSETS[1] - LEAD - 24_000) // RATIO, 0.95, "before-alignment")
        at = (planted_onset_48k(1, DOUBLE_PEAK_SHOT) + DOUBLE_PEAK_AFTER) // RATIO
        x[at : at + 3] = 0.9
    return wav_bytes(x, FAKE_SR)


def _add_shot(x: np.ndarray, at: int, level: float, name: str) -> None:
    """A 0.2 s decaying noise burst starting with a step to `level`."""
    n = FAKE_SR // 5
    noise = seeded_rng(name).uniform(-1, 1, n) * np.exp(-np.arange(n) / (0.03 * FAKE_SR))
    burst = np.clip(noise, -0.7 * level, 0.7 * level)
    burst[:3] = level
    x[at : at + n] = burst


def _small_name(mic: int, shot: int) -> str:
    return f"mic{mic}_shot{shot}_fid{firearm(shot)}.wav"


def _small_clip(mic: int, shot: int) -> np.ndarray:
    x = np.zeros(72_000, dtype=np.float32)
    n = SR // 5
    noise = seeded_rng(_small_name(mic, shot)).uniform(-1, 1, n) * np.exp(-np.arange(n) / 1440)
    x[6_000 : 6_000 + n] = np.clip(noise, -0.7, 0.7)
    x[6_000:6_003] = 0.95
    return x
