"""Fake CREMA-D file list: TFDS's manifest and the files it lists.

Full mode (a `file_list` source): the manifest `crema_d.txt` lists summaryTable.csv and 18 WAVs
(`URL SIZE SHA256` per line), each written where its URL points: three emotions of six clips
(six actors), 16 kHz mono 16-bit, 1.2-5 s. summaryTable.csv has the header, a blank line and,
besides the 18 clips, the four names TFDS skips because their audio is missing on GitHub (not in
the manifest either: the build fails if the recipe does not skip them). Folds: 4/4/4/3/3, each
able to hold every emotion, which full mode requires. The md5 declared is the manifest's. Small
mode is HEAR's three TFDS export zips (fakes.tfds_export). Scaled (fakes.Scale, full mode): n * 5
clips, actors 1001-1091 and sentences in turn, the three emotions, of the scale's clip length.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location, tfds_export

from hearcore.atomic import atomic_write_bytes
from hearpreprocess.builtin.archives import seeded_rng, wav_bytes
from hearpreprocess.config import TaskConfig

SR = 16000
TABLE_URL = (
    "https://raw.githubusercontent.com/CheyneyComputerScience/CREMA-D/master/"
    "processedResults/summaryTable.csv"
)
WAV_URL = (
    "https://media.githubusercontent.com/media/CheyneyComputerScience/CREMA-D/master/AudioWAV/"
)
SENTENCES = ("DFA", "IEO", "ITH", "TIE", "WSI", "IWW")
LEVELS = ("XX", "HI", "LO", "MD", "XX", "XX")
EMOTIONS = ("ANG", "HAP", "NEU")
CLIPS = [
    f"{1001 + i}_{SENTENCES[i]}_{emotion}_{LEVELS[(i + j) % 6]}"
    for j, emotion in enumerate(EMOTIONS)
    for i in range(6)
]
MISSING = ["1040_ITH_SAD_XX", "1006_TIE_NEU_XX", "1013_WSI_DIS_XX", "1017_IWW_FEA_XX"]
HEADER = '"","FileName","VoiceVote","VoiceLevel","FaceVote","FaceLevel","MultiModalVote",'
HEADER += '"MultiModalLevel"'
ACTORS = 91


def SCALABLE(config: TaskConfig) -> bool:
    return config.recipe != "tfds_export"


def scaled_clips(per_emotion: int) -> list[str]:
    """`per_emotion` distinct names per emotion: actor, sentence and level in turn."""
    out = []
    for j, emotion in enumerate(EMOTIONS):
        for i in range(per_emotion):
            actor, sentence = 1001 + i % ACTORS, SENTENCES[(i // ACTORS) % len(SENTENCES)]
            level = LEVELS[1 + (i // (ACTORS * len(SENTENCES))) % 3]  # HI, LO, MD
            out.append(f"{actor}_{sentence}_{emotion}_{level}")
    if len(set(out)) != len(out):
        raise ValueError(f"a scaled CREMA-D fake holds at most {ACTORS * 18} clips per emotion")
    return out


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake manifest and listed files (full) or export zips (small) under
    `mirror_root`."""
    if config.recipe == "tfds_export":
        return tfds_export.make_fake_corpus(mirror_root, config)
    scale = current_scale()
    clips, seconds = CLIPS, None
    if scale is not None:
        per_emotion = scale.per_group(len(EMOTIONS), len(config.splits))
        clips, seconds = scaled_clips(per_emotion), scale.clip_seconds
    names = sorted(clips + MISSING)
    lines = [HEADER, ""] + [_table_line(n, name) for n, name in enumerate(names, 1)]
    listed = {TABLE_URL: ("\n".join(lines) + "\n").encode()}
    for name in clips:
        listed[f"{WAV_URL}{name}.wav"] = wav_bytes(_sentence(name, seconds), SR)
    manifest = ""
    for url, data in listed.items():
        atomic_write_bytes(mirror_location(mirror_root, url), data)
        manifest += f"{url} {len(data)} {hashlib.sha256(data).hexdigest()}\n"
    (source,) = config.sources
    atomic_write_bytes(mirror_location(mirror_root, source.url), manifest.encode())
    if scale is not None:
        return FakeCorpus(md5={source.url: hashlib.md5(manifest.encode()).hexdigest()},
                          labels=set(EMOTIONS))  # fmt: skip
    return FakeCorpus(
        md5={source.url: hashlib.md5(manifest.encode()).hexdigest()},
        split_counts={"fold00": 4, "fold01": 4, "fold02": 4, "fold03": 3, "fold04": 3},
        labels=set(EMOTIONS),
        spot_checks=[
            SpotCheck("1001_DFA_ANG_XX", "fold04", ("ANG",)),
            SpotCheck("1006_IWW_NEU_HI", "fold00", ("NEU",)),
            SpotCheck("1003_ITH_HAP_MD", "fold01", ("HAP",)),
        ],
    )


def _table_line(number: int, name: str) -> str:
    """A summaryTable.csv row: index, name, then votes and levels (made up; the recipe ignores
    them)."""
    vote = name.split("_")[2][0]
    return f'"{number}","{name}","{vote}","{60 + number % 40}","{vote}","80","{vote}","70"'


def _sentence(name: str, seconds: float | None = None) -> np.ndarray:
    """1.2-5 s (or `seconds`) of a wobbling voiced tone."""
    rng = seeded_rng(name)
    t = np.arange(round((rng.uniform(1.2, 5.0) if seconds is None else seconds) * SR)) / SR
    pitch = rng.uniform(100, 250) * (1 + 0.1 * np.sin(2 * np.pi * 2 * t))
    voice = np.sin(2 * np.pi * np.cumsum(pitch) / SR)
    return 0.4 * voice * np.hanning(t.size) + rng.normal(0, 0.01, t.size)
