"""Fake DCASE 2016 Task 2: three dev and three eval mixtures in the two real zip layouts.

Mixtures are 3 s at 44.1 kHz mono (the real ones are 120 s) with tab-separated annotations in
seconds. One annotation also holds an event straddling the 120 s cut (its end must be clipped to
120000 ms) and one past it (dropped); the dropped event is the only `keyboard`, so `keyboard` must
not reach the label vocabulary.

Counts: 6 stems, re-split at 60/20/20 (full) or 80/10/10 (small): valid = test = round(1.2) =
round(0.6) = 1, so train 4, valid 1, test 1 in both modes.

Scaled (fakes.Scale, full mode): 3n / 2 mixtures in each zip (3n in all, re-split 60/20/20), of
the scale's clip length, each with one event per 10 s of the ten classes in turn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 44100
SECONDS = 3.0
DEV = "dcase2016_task2_train_dev/dcase2016_task2_dev"
EVAL = "dcase2016_task2_test_public"
# folder -> mixture stem -> events (onset s, offset s, class)
MIXTURES = {
    DEV: {
        "dev_1_ebr_-6_nec_1_poly_0": [(0.25, 0.9, "speech"), (1.4, 2.1, "cough")],
        "dev_1_ebr_0_nec_2_poly_1": [
            (0.1, 0.6, "keys"),
            (0.4, 1.3, "knock"),
            (121.0, 123.5, "keyboard"),
        ],
        "dev_1_ebr_6_nec_3_poly_0": [(0.5, 1.1, "clearthroat"), (118.25, 121.5, "phone")],
    },
    EVAL: {
        "test_1_ebr_-6_nec_1_poly_0": [(0.3, 1.0, "doorslam"), (1.5, 2.6, "drawer")],
        "test_1_ebr_0_nec_2_poly_1": [(0.2, 1.7, "laughter"), (1.0, 1.8, "pageturn")],
        "test_1_ebr_6_nec_3_poly_0": [(0.7, 2.95, "speech")],
    },
}
LABELS = {
    "speech", "cough", "keys", "knock", "clearthroat", "phone",
    "doorslam", "drawer", "laughter", "pageturn",
}  # fmt: skip


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def scaled_mixtures(per_folder: int, seconds: float) -> dict[str, dict[str, list]]:
    """`per_folder` mixtures of `seconds` in each folder, one event per 10 s (at least one)."""
    classes = sorted(LABELS)
    out: dict[str, dict[str, list]] = {DEV: {}, EVAL: {}}
    for folder, prefix in ((DEV, "dev"), (EVAL, "test")):
        for i in range(per_folder):
            events = []
            for j in range(max(1, int(seconds // 10))):
                onset = 10.0 * j + 0.5 + (i % 7)
                label = classes[(i + j) % len(classes)]
                events.append((onset, min(onset + 1.5, seconds), label))
            ebr = (i % 3 - 1) * 6
            out[folder][f"{prefix}_{i + 1}_ebr_{ebr}_nec_{len(events)}_poly_{i % 2}"] = events
    return out


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake dev and eval zips for `config`'s sources under `mirror_root`."""
    scale = current_scale()
    mixtures, seconds = MIXTURES, SECONDS
    if scale is not None:
        seconds = scale.seconds(120.0)
        mixtures = scaled_mixtures(-(-3 * scale.clips_per_split // 2), seconds)
    members = {
        "dev": _dev_members(mixtures, seconds),
        "eval": _mixture_members(mixtures, EVAL, seconds),
    }
    md5 = {}
    for source in config.sources:
        path = mirror_location(mirror_root, source.url)
        md5[source.url] = write_zip(path, members[str(source.name)])  # names: dev, eval
    if scale is not None:
        used = {label for m in mixtures.values() for ev in m.values() for *_, label in ev}
        return FakeCorpus(md5=md5, labels=used)
    return FakeCorpus(
        md5=md5,
        split_counts={"train": 4, "valid": 1, "test": 1},
        labels=LABELS,
        spot_checks=[
            SpotCheck("dev_1_ebr_-6_nec_1_poly_0", "train", ("cough", "speech")),
            SpotCheck("dev_1_ebr_6_nec_3_poly_0", "valid", ("phone", "clearthroat")),
            SpotCheck("test_1_ebr_-6_nec_1_poly_0", "test", ("doorslam", "drawer")),
        ],
    )


def _dev_members(mixtures: dict, seconds: float) -> dict[str, bytes]:
    root = "dcase2016_task2_train_dev"
    members = {f"{root}/README.txt": b"Fake DCASE 2016 task 2 development set\n"}
    # Isolated examples ship in the same zip but are not used by HEAR.
    isolated = f"{root}/dcase2016_task2_train/keysDrop001.wav"
    members[isolated] = wav_bytes(_burst(isolated, 0.5), SR)
    members.update(_mixture_members(mixtures, DEV, seconds))
    return members


def _mixture_members(mixtures: dict, folder: str, seconds: float) -> dict[str, bytes]:
    members = {}
    for stem, events in mixtures[folder].items():
        lines = "".join(f"{on:.6f}\t{off:.6f}\t{label}\n" for on, off, label in events)
        members[f"{folder}/annotation/{stem}.txt"] = lines.encode()
        members[f"{folder}/sound/{stem}.wav"] = wav_bytes(_mixture(stem, events, seconds), SR)
    return members


def _burst(name: str, seconds: float) -> np.ndarray:
    rng = seeded_rng(name)
    n = round(seconds * SR)
    tone = np.sin(2 * np.pi * rng.uniform(300, 3000) * np.arange(n) / SR)
    return 0.3 * (tone + rng.normal(0, 0.2, n)) * np.hanning(n)


def _mixture(stem: str, events: list, seconds: float = SECONDS) -> np.ndarray:
    """Background noise with a burst at each event that falls inside the mixture (3 s)."""
    out = seeded_rng(stem).normal(0, 0.01, round(seconds * SR))
    for i, (on, off, _) in enumerate(events):
        a, b = round(on * SR), min(round(off * SR), out.size)
        if a < b:
            out[a:b] += _burst(f"{stem}-{i}", (b - a) / SR)[: b - a]
    return out
