"""Fake LibriCount10 0 dB: a few mixtures in the real zip layout.

`test/<k>_<hexid>.wav` (5 s, 16 kHz, 16-bit mono) with a same-named `.json` of its speakers, and
the `__MACOSX/` tree a macOS zip carries: `__MACOSX/._test` and a `__MACOSX/test/._<name>`
AppleDouble stub beside every file; those stubs end in `.wav` but are not audio, so a search not
rooted at `test/` fails to decode them.

Full mode: the counts 0, 1, 2 and 10 (a subset of 0..10 that keeps the fake small yet shows the
numeric sort: 2 before 10), 6 mixtures each (24): folds of 5/5/5/5/4, found at seed
`split_k_folds_retry_102`. Small mode mimics the real small fixture, which keeps every JSON whole:
all 24 JSONs but only 8 WAVs (first seed: folds of 2/2/2/1/1). Labels are ints in the bundle.
Scaled (fakes.Scale, full mode): n * 5 / 4 mixtures per count, of the scale's clip length.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 16000
SECONDS = 5.0
COUNTS = (0, 1, 2, 10)
PER_COUNT = 6
SMALL_STEP = 3  # the small fake keeps the WAV of every third mixture in name order (8)


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def mixtures(per_count: int = PER_COUNT) -> list[tuple[str, int]]:
    """(name without extension, speaker count) of every mixture, in name order."""
    out = []
    for k in COUNTS:
        for i in range(per_count):
            hexid = seeded_rng(f"libricount-{k}-{i}").bytes(16).hex()
            out.append((f"{k}_{hexid}", k))
    return sorted(out)


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake zip for every source of `config` under `mirror_root`."""
    scale = current_scale()
    seconds = SECONDS if scale is None else scale.seconds(SECONDS)
    if scale is None:
        everything = mixtures()
    else:
        everything = mixtures(scale.per_group(len(COUNTS), len(config.splits)))
    with_wav = everything[::SMALL_STEP] if config.is_small else everything
    members = {}
    for name, k in everything:
        audio, speakers = _mixture(name, k, seconds)
        if (name, k) in with_wav:
            members[f"test/{name}.wav"] = wav_bytes(audio, SR)
        members[f"test/{name}.json"] = json.dumps(speakers).encode()
    members["__MACOSX/._test"] = _apple_double()
    for member in [m for m in members if m.startswith("test/")]:
        members[f"__MACOSX/test/._{member[len('test/'):]}"] = _apple_double()
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    if scale is not None:
        return FakeCorpus(md5=md5, labels=set(COUNTS))
    if config.is_small:
        counts = dict(zip(config.splits, (2, 2, 2, 1, 1)))
        checks = [
            SpotCheck("10_5d15efda83b02024dcc8b462a095a4b7", "fold01", (10,)),
            SpotCheck("0_2b76bf81397276b19716fc762e7bf1df", "fold04", (0,)),
            SpotCheck("2_182eada9484608d6322e1ed7c70ca6aa", "fold00", (2,)),
        ]
    else:
        counts = dict(zip(config.splits, (5, 5, 5, 5, 4)))
        checks = [
            SpotCheck("0_2fb6fb1ce6bd290a44b0137fa0818af0", "fold01", (0,)),
            SpotCheck("10_c37e78463497e00e1357317bfc4fa2cd", "fold00", (10,)),
            SpotCheck("2_5d25403b13781e279b4bfc167a167cdb", "fold02", (2,)),
        ]
    return FakeCorpus(md5=md5, split_counts=counts, labels=set(COUNTS), spot_checks=checks)


def _mixture(name: str, k: int, seconds: float = SECONDS) -> tuple[np.ndarray, list[dict]]:
    """`seconds` (5) of k "speakers" (voiced buzz with syllable-rate gating) and their JSON
    entries."""
    rng = seeded_rng(name)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    audio = rng.normal(0, 0.002, n)  # a faint noise floor; k = 0 is nothing else
    speakers = []
    for _ in range(k):
        f0 = rng.uniform(90, 260)
        voice = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 6))
        start, stop = sorted(int(x) for x in rng.integers(0, n, 2))
        gate = np.zeros(n)
        gate[start:stop] = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * t[start:stop])
        audio += 0.5 / max(k, 1) * gate * voice
        speakers.append(
            {
                "sex": str(rng.choice(["F", "M"])),
                "speaker_id": int(rng.integers(19, 8000)),
                "activity": [[start, stop]],
            }
        )
    return audio, speakers


def _apple_double() -> bytes:
    """An AppleDouble header (magic 0x00051607, version 2) with one empty Finder-info entry."""
    return struct.pack(">II16sHIII", 0x00051607, 0x00020000, b"Mac OS X        ", 1, 9, 38, 0)
