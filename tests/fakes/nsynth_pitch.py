"""Fake NSynth v2.2.3: a few notes per split in the real archive layout.

Each archive holds `nsynth-<split>/examples.json` (a JSON object keyed by note_str, with every
field of the real file, keys in no sorted order) and `nsynth-<split>/audio/<note_str>.wav` (4 s,
16 kHz, mono, 16-bit: a decaying harmonic tone at the note's pitch). Full-ish modes (5h, 50h) get
tar.gz, small mode zips that keep examples.json whole but lack the audio of 5 listed notes.

    train: 9 instruments x pitches 21, 60, 108 (27 kept) + pitches 9, 20, 109 (dropped by rule)
    valid: reed_acoustic_011, vocal_synthetic_003 x 21, 60, 108 at velocity 25 (6) + pitch 20
    test:  the same two instruments x 21, 60, 108 at velocity 127 (6) + pitch 109

The 21/20 and 108/109 pairs test the inclusive range. valid and test share two instruments, so the
k-fold variant must put both archives' notes of one instrument in one fold. 11 instruments make
10 folds (fold00 gets two); every instrument has every kept pitch, so each fold holds every label.

config_overrides shrink clips to 1 s and scale the caps so that 5h and 50h still subsample:
    nsynth_pitch        5h: 6/2/2 of 27/6/6;  50h: 12/4/6 (test whole, as in the real 50h)
    nsynth_pitch_kfold  5h: 2 per fold;       50h: 4 per fold (3 where a fold has fewer)
Labels are the ints 21, 60, 108 in the bundle (numeric order).

Scaled (fakes.Scale): n / 3 made-up instruments for train (at least 10, one per k-fold fold) and
n / 3 shared by valid and test, each playing the three kept pitches, of the scale's clip length,
with the config's own sample_duration and caps (no overrides).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_tar_gz, write_zip
from hearpreprocess.config import TaskConfig

SR = 16000
SECONDS = 4.0
KEPT = (21, 60, 108)
LABELS = set(KEPT)
TRAIN_INSTRUMENTS = [
    "bass_synthetic_033",
    "brass_acoustic_006",
    "flute_synthetic_000",
    "guitar_electronic_012",
    "keyboard_electronic_001",
    "mallet_acoustic_047",
    "organ_electronic_007",
    "string_acoustic_014",
    "synth_lead_synthetic_002",
]
SHARED_INSTRUMENTS = ["reed_acoustic_011", "vocal_synthetic_003"]  # in valid and in test
VELOCITIES = (50, 75, 100)
FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string"]
FAMILIES += ["synth_lead", "vocal"]
SOURCES = ["acoustic", "electronic", "synthetic"]
QUALITIES = ["bright", "dark", "distortion", "fast_decay", "long_release", "multiphonic"]
QUALITIES += ["nonlinear_env", "percussive", "reverb", "tempo-synced"]
# Listed in examples.json but without audio in the small zips (as HEAR's fixtures keep it whole).
ABSENT_IN_SMALL = {
    "guitar_electronic_012-060-075",
    "mallet_acoustic_047-021-100",
    "string_acoustic_014-108-050",
    "reed_acoustic_011-060-025",
    "vocal_synthetic_003-021-127",
}


# (instrument, pitch, velocity) of the notes each split lists outside 21..108 (dropped by rule).
OUT_OF_RANGE = {
    "train": [(TRAIN_INSTRUMENTS[0], 20, 50), (TRAIN_INSTRUMENTS[4], 109, 75)]
    + [(TRAIN_INSTRUMENTS[8], 9, 100)],
    "valid": [(SHARED_INSTRUMENTS[0], 20, 25)],
    "test": [(SHARED_INSTRUMENTS[1], 109, 127)],
}


SCALABLE = True


def notes(
    split: str, train: list[str] = TRAIN_INSTRUMENTS, shared: list[str] = SHARED_INSTRUMENTS
) -> list[tuple[str, int, int]]:
    """(instrument_str, pitch, velocity) of every note of one split's examples.json."""
    if split == "train":
        kept = [
            (inst, pitch, VELOCITIES[(i + j) % 3])
            for i, inst in enumerate(train)
            for j, pitch in enumerate(KEPT)
        ]
    else:
        velocity = 25 if split == "valid" else 127
        kept = [(inst, pitch, velocity) for inst in shared for pitch in KEPT]
    return kept + OUT_OF_RANGE[split]


def scaled_instruments(count: int, first: int) -> list[str]:
    """`count` made-up instrument names, family and source in turn, numbered from `first`."""
    return [
        f"{FAMILIES[i % len(FAMILIES)]}_{SOURCES[i % len(SOURCES)]}_{first + i:03d}"
        for i in range(count)
    ]


def note_str(instrument: str, pitch: int, velocity: int) -> str:
    return f"{instrument}-{pitch:03d}-{velocity:03d}"


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake archive of each of `config`'s sources (train, valid, test)."""
    scale, md5 = current_scale(), {}
    train, shared, seconds = TRAIN_INSTRUMENTS, SHARED_INSTRUMENTS, SECONDS
    if scale is not None:
        per_split = -(-scale.clips_per_split // len(KEPT))
        train = scaled_instruments(max(10, per_split), 100)
        shared = scaled_instruments(per_split, 100 + len(train))
        seconds = scale.seconds(SECONDS)
    # The out-of-range notes keep the fixed fake's instruments, so these stay numbered too.
    everyone = list(dict.fromkeys(train + shared + TRAIN_INSTRUMENTS + SHARED_INSTRUMENTS))
    for source in config.sources:
        listed = notes(source.split, train, shared)
        members = _members(source.split, config.is_small, listed, everyone, seconds)
        path = mirror_location(mirror_root, source.url)
        write = write_zip if source.filename.endswith(".zip") else write_tar_gz
        md5[source.url] = write(path, members)
    if scale is not None:
        return FakeCorpus(md5=md5, labels=set(LABELS))
    kfold = config.split_mode == "new_split_kfold"
    overrides: dict = {"sample_duration": 1.0}
    if config.mode in ("5h", "50h"):
        if kfold:
            overrides["max_task_duration_by_fold"] = 2.0 if config.mode == "5h" else 4.0
        else:
            caps = (6.0, 2.0, 2.0) if config.mode == "5h" else (12.0, 4.0, 8.0)
            overrides["max_task_duration_by_split"] = dict(zip(("train", "valid", "test"), caps))
    counts, checks = (_kfold if kfold else _tvt)[config.mode]
    return FakeCorpus(
        md5=md5,
        split_counts=dict(counts),
        labels=set(LABELS),
        spot_checks=[SpotCheck(stem, split, (pitch,)) for stem, split, pitch in checks],
        config_overrides=overrides,
    )


# mode -> (clips per split, [(stem, split, pitch)]), computed once by building (a regression check).
# Both k-fold variants take the first seed: every instrument has every pitch. Its folds:
# fold00 guitar + mallet, fold01 reed (valid and test notes), fold09 vocal, one train instrument
# in each other fold.
_tvt = {
    "5h": (
        {"train": 6, "valid": 2, "test": 2},
        [
            ("guitar_electronic_012-021-050", "train", 21),
            ("vocal_synthetic_003-060-025", "valid", 60),
            ("reed_acoustic_011-108-127", "test", 108),
        ],
    ),
    "50h": (
        {"train": 12, "valid": 4, "test": 6},
        [
            ("organ_electronic_007-108-100", "train", 108),
            ("reed_acoustic_011-021-025", "valid", 21),
            ("vocal_synthetic_003-021-127", "test", 21),
        ],
    ),
    "small": (
        {"train": 24, "valid": 5, "test": 5},
        [
            ("synth_lead_synthetic_002-108-075", "train", 108),
            ("reed_acoustic_011-108-025", "valid", 108),
            ("vocal_synthetic_003-060-127", "test", 60),
        ],
    ),
}
_kfold_sizes = {
    "5h": (2,) * 10,
    "50h": (4, 4, 3, 3, 3, 3, 3, 3, 3, 4),
    "small": (4, 5, 3, 3, 3, 3, 3, 2, 3, 5),
}
_kfold_checks = {
    "5h": [
        ("reed_acoustic_011-108-025", "fold01", 108),  # from valid
        ("reed_acoustic_011-108-127", "fold01", 108),  # from test, same instrument, same fold
        ("mallet_acoustic_047-021-100", "fold00", 21),
    ],
    "50h": [
        ("reed_acoustic_011-021-025", "fold01", 21),
        ("reed_acoustic_011-060-127", "fold01", 60),
        ("bass_synthetic_033-060-075", "fold08", 60),
    ],
    "small": [
        ("vocal_synthetic_003-021-025", "fold09", 21),
        ("vocal_synthetic_003-060-127", "fold09", 60),
        ("guitar_electronic_012-108-100", "fold00", 108),
    ],
}
_kfold = {
    mode: ({f"fold{i:02d}": n for i, n in enumerate(sizes)}, _kfold_checks[mode])
    for mode, sizes in _kfold_sizes.items()
}


def _members(
    split: str, small: bool, listed: list[tuple], everyone: list[str], seconds: float
) -> dict[str, bytes]:
    """One archive's members: examples.json of the `listed` notes and their audio."""
    root = f"nsynth-{split}"
    examples = {}
    for number, (instrument, pitch, velocity) in enumerate(listed):
        name = note_str(instrument, pitch, velocity)
        examples[name] = _fields(number, name, instrument, pitch, velocity, everyone)
    members = {f"{root}/examples.json": json.dumps(examples, indent=4).encode()}
    for instrument, pitch, _velocity in listed:
        name = note_str(instrument, pitch, _velocity)
        if not (small and name in ABSENT_IN_SMALL):
            members[f"{root}/audio/{name}.wav"] = wav_bytes(_tone(name, pitch, seconds), SR)
    return members


def _fields(
    number: int, name: str, instrument: str, pitch: int, velocity: int, all_instruments: list[str]
) -> dict:
    """The fields of one examples.json entry, as the real file has them."""
    family = next(f for f in sorted(FAMILIES, key=len, reverse=True) if instrument.startswith(f))
    source = instrument[len(family) + 1 :].split("_")[0]
    rng = seeded_rng(f"qualities-{name}")
    qualities = [int(q) for q in rng.random(len(QUALITIES)) < 0.2]
    return {
        "note": 1000 + number * 7 + all_instruments.index(instrument),
        "note_str": name,
        "instrument": all_instruments.index(instrument) * 31,
        "instrument_str": instrument,
        "pitch": pitch,
        "velocity": velocity,
        "sample_rate": SR,
        "qualities": qualities,
        "qualities_str": [q for q, on in zip(QUALITIES, qualities) if on],
        "instrument_family": FAMILIES.index(family),
        "instrument_family_str": family,
        "instrument_source": SOURCES.index(source),
        "instrument_source_str": source,
    }


def _tone(name: str, pitch: int, seconds: float = SECONDS) -> np.ndarray:
    """`seconds` (4) of a decaying harmonic tone at the MIDI pitch (partials below Nyquist) over
    faint noise; like NSynth notes, held for 3 s then released."""
    rng = seeded_rng(name)
    t = np.arange(round(seconds * SR)) / SR
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    partials = [k for k in range(1, 9) if k * f0 < SR / 2 - 500]
    tone = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k for k in partials)
    envelope = np.exp(-t * rng.uniform(0.5, 2.0)) * np.where(t < 3.0, 1.0, np.exp(-(t - 3.0) * 8))
    return 0.3 * np.asarray(tone) * envelope + rng.normal(0, 0.002, t.size)
