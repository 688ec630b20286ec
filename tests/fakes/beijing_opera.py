"""Fake Beijing Opera Percussion: a few strokes in the real flat zip layout.

`beijing_opera_percussion_instrument_1.0/<freesoundid>__ajaysm__<instrument>-<NN>.wav`, 44.1 kHz
mono, alternately 32-bit IEEE-float and 16-bit PCM WAV (the real corpus mixes both), decaying
noise-and-tone strokes of 0.2-1.2 s, plus one of 0.07 s (the real minimum) and one of 6 s
(longer than sample_duration, so it is trimmed).

Full mode: 6 strokes per instrument (24): folds of 5/5/5/5/4, found at seed
`split_k_folds_retry_102` (the first that puts all four instruments in every fold). Small mode:
takes 02 and 03 of each instrument (8, the 0.07 s and 6 s strokes among them), split without the
label check, so by the first seed: folds of 2/2/2/1/1. Scaled (fakes.Scale, full mode): n * 5 / 4
strokes per instrument, of the scale's clip length.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 44100
ROOT = "beijing_opera_percussion_instrument_1.0"
INSTRUMENTS = ("bangu", "daluo", "naobo", "xiaoluo")
PER_INSTRUMENT = 6
SMALL_TAKES = (2, 3)  # the takes (NN) the small fake keeps of each instrument
FIRST_ID = 205960
SECONDS = {"205962__ajaysm__bangu-02": 0.07, "205975__ajaysm__daluo-03": 6.0}


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def stems(per_instrument: int = PER_INSTRUMENT) -> list[tuple[str, str, int]]:
    """(stem, instrument, take) of every stroke of the full fake, in freesound id order."""
    out = []
    id_step = 12 if per_instrument <= 12 else per_instrument  # the fixed fake's ids stay
    for i, instrument in enumerate(INSTRUMENTS):
        for take in range(1, per_instrument + 1):
            freesound_id = FIRST_ID + i * id_step + take
            out.append((f"{freesound_id}__ajaysm__{instrument}-{take:02d}", instrument, take))
    return out


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake zip for every source of `config` under `mirror_root`."""
    scale = current_scale()
    if scale is None:
        kept = [s for s in stems() if not config.is_small or s[2] in SMALL_TAKES]
    else:
        kept = stems(scale.per_group(len(INSTRUMENTS), len(config.splits)))
    members = {}
    for n, (stem, _, _) in enumerate(kept):
        seconds = SECONDS.get(stem, None) if scale is None else scale.clip_seconds
        samples = _stroke(stem, seconds)
        data = float_wav_bytes(samples, SR) if n % 2 == 0 else wav_bytes(samples, SR)
        members[f"{ROOT}/{stem}.wav"] = data
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    if scale is not None:
        return FakeCorpus(md5=md5, labels=set(INSTRUMENTS))
    if config.is_small:
        counts = dict(zip(config.splits, (2, 2, 2, 1, 1)))
        checks = [
            SpotCheck("205962__ajaysm__bangu-02", "fold04", ("bangu",)),
            SpotCheck("205975__ajaysm__daluo-03", "fold02", ("daluo",)),
            SpotCheck("205998__ajaysm__xiaoluo-02", "fold00", ("xiaoluo",)),
        ]
    else:
        counts = dict(zip(config.splits, (5, 5, 5, 5, 4)))
        checks = [
            SpotCheck("205962__ajaysm__bangu-02", "fold01", ("bangu",)),
            SpotCheck("205975__ajaysm__daluo-03", "fold04", ("daluo",)),
            SpotCheck("205987__ajaysm__naobo-03", "fold02", ("naobo",)),
        ]
    return FakeCorpus(md5=md5, split_counts=counts, labels=set(INSTRUMENTS), spot_checks=checks)


def float_wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    """Mono 32-bit IEEE-float WAV bytes (format tag 3, with the `fact` chunk non-PCM needs).

    Written by hand rather than with soundfile, whose float files carry a PEAK chunk stamped
    with the current time, which would make the fake's md5 change between runs.
    """
    data = np.asarray(samples, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, sr, sr * 4, 4, 32)
    chunks = [(b"fmt ", fmt), (b"fact", struct.pack("<I", len(samples))), (b"data", data)]
    body = b"WAVE" + b"".join(tag + struct.pack("<I", len(c)) + c for tag, c in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _stroke(stem: str, seconds: float | None) -> np.ndarray:
    """A struck-metal or drum-like sound: decaying noise plus a decaying partial."""
    rng = seeded_rng(stem)
    seconds = seconds if seconds is not None else rng.uniform(0.2, 1.2)
    n = max(1, round(seconds * SR))
    t = np.arange(n) / SR
    decay = np.exp(-t * rng.uniform(4, 12))
    partial = np.sin(2 * np.pi * rng.uniform(150, 1500) * t)
    return 0.6 * decay * (0.6 * partial + 0.4 * rng.normal(0, 0.5, n))
