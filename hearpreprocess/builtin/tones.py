"""The built-in example corpus `tones`: synthetic notes in five pitch classes.

It exists so that the whole product runs on a fresh machine without internet: the runner generates
this archive, serves it on loopback and processes it through the same download -> extract -> ...
-> tarball path as every real corpus. Its md5 is pinned in recipes/tones.toml like any other.

Layout of `tones-v1.zip` (stored, not deflated, so the bytes do not depend on the zlib build):
    tones-v1/labels.csv            filename,label
    tones-v1/audio/<label>-<NNN>.wav  44.1 kHz stereo 16-bit, 0.7-1.3 s (trim and pad both occur)
"""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import numpy as np

from hearpreprocess.builtin.archives import wav_bytes, write_zip

SAMPLE_RATE = 44100
# Label -> fundamental frequency in Hz (A3, C4, E4, G4, A4).
PITCHES = {"a3": 220.0, "c4": 261.63, "e4": 329.63, "g4": 392.0, "a4": 440.0}
CLIPS_PER_LABEL = 40


def _note(rng: random.Random, f0: float) -> np.ndarray:
    """A stereo note with a random timbre, detune, level, length and noise floor."""
    n = int(SAMPLE_RATE * rng.uniform(0.7, 1.3))
    t = np.arange(n) / SAMPLE_RATE
    f = f0 * 2 ** (rng.uniform(-0.3, 0.3) / 12)
    harmonics = [rng.uniform(0.0, 1.0) / k for k in range(1, 6)]
    tone = sum(a * np.sin(2 * np.pi * f * k * t) for k, a in enumerate(harmonics, start=1))
    envelope = np.minimum(1.0, t / 0.01) * np.exp(-t * rng.uniform(0.5, 3.0))
    tone = tone / np.max(np.abs(tone)) * envelope * rng.uniform(0.2, 0.8)
    noise_rng = np.random.Generator(np.random.PCG64(rng.randrange(2**32)))
    left = tone + noise_rng.normal(0, 0.01, n)
    right = tone * rng.uniform(0.6, 1.0) + noise_rng.normal(0, 0.01, n)
    return np.stack([left, right], axis=1)


def write_archive(path: Path, clips_per_label: int = CLIPS_PER_LABEL) -> str:
    """Write the corpus zip to `path` (deterministic bytes) and return its md5."""
    rng = random.Random("tones-v1")
    rows = ["filename,label"]
    members = {}
    for label, f0 in PITCHES.items():
        for i in range(clips_per_label):
            name = f"{label}-{i:03d}.wav"
            members[f"tones-v1/audio/{name}"] = wav_bytes(_note(rng, f0), SAMPLE_RATE)
            rows.append(f"{name},{label}")
    members["tones-v1/labels.csv"] = ("\n".join(rows) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_zip(path, members, with_dirs=False, compression=zipfile.ZIP_STORED)
