"""Fake Speech Commands v0.02: a handful of clips in the real layout and archive formats.

Full and 5h modes get two tar.gz without a top-level folder, small mode two zips with directory
entries, as the real archives. Design (counts by the recipe's split rules, identical in every mode):

    train archive: yes/ x3, no/ x2, bed/ x2 (unknown), marvin/ x1 (unknown); one clip is 0.6 s
        validation_list: yes/...0002, bed/...0002   testing_list: no/...0002, yes/...0003
        _background_noise_/running_tap.wav 2.3 s -> 3 windows (valid)
        _background_noise_/white_noise.wav 2.0 s -> 2 windows (train; start 16000 is not < 16000)
    test archive: yes, no, _unknown_/wow_..., _silence_/ one clip each
    -> train 4 words + 2 silence = 6, valid 2 + 3 = 5, test 4; labels yes no _unknown_ _silence_

Small mode mimics the real small zips: the lists keep entries whose files are absent (dropped in
small mode), and test `_unknown_` files carry a doubled `.wav.wav` suffix.

Scaled (fakes.Scale, full and 5h): the train archive holds 2n clips of each of yes, no, bed, marvin
(of the scale's clip length), of which n / 2 each go to validation_list and n / 4 each to
testing_list; the test archive n clips of yes, no, _unknown_ and _silence_ in turn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_tar_gz, write_zip
from hearpreprocess.config import TaskConfig

SR = 16000
TRAIN_WORDS = {
    "yes": ["0a7c2a8d_nohash_0", "1b4c9b89_nohash_0", "2cec1d47_nohash_1"],
    "no": ["3102f006_nohash_0", "40b60ae9_nohash_0"],
    "bed": ["5104f2f4_nohash_0", "65c73b55_nohash_0"],
    "marvin": ["7c83c5f6_nohash_0"],
}
SHORT_CLIP = "bed/5104f2f4_nohash_0.wav"
VALID_LIST = ["yes/1b4c9b89_nohash_0.wav", "bed/65c73b55_nohash_0.wav"]
TEST_LIST = ["no/40b60ae9_nohash_0.wav", "yes/2cec1d47_nohash_1.wav"]
ABSENT_IN_SMALL = {"valid": "up/8c7b691a_nohash_0.wav", "test": "left/9d32f10a_nohash_1.wav"}
NOISES = {"running_tap": 2.3, "white_noise": 2.0}
TEST_FILES = ["yes/a2473d62_nohash_0", "no/b0f5b16d_nohash_1", "_silence_/1816"]
TEST_UNKNOWN = "_unknown_/wow_c22d3f18_nohash_0"
TEST_FOLDERS = ("yes", "no", "_unknown_", "_silence_")


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake train and test archives for `config`'s sources under `mirror_root`."""
    small, scale = config.is_small, current_scale()
    if scale is None:
        members = {"train": _train_members(small), "test": _test_members(small)}
    else:
        members = _scaled_members(scale.clips_per_split, scale.seconds(1.0))
    md5 = {}
    for source in config.sources:
        path = mirror_location(mirror_root, source.url)
        write = write_zip if source.filename.endswith(".zip") else write_tar_gz
        md5[source.url] = write(path, members[source.split])
    if scale is not None:
        return FakeCorpus(md5=md5, labels={"yes", "no", "_unknown_", "_silence_"})
    unknown_suffix = ".wav" if config.is_small else ""  # the small zip's doubled suffix
    return FakeCorpus(
        md5=md5,
        split_counts={"train": 6, "valid": 5, "test": 4},
        labels={"yes", "no", "_unknown_", "_silence_"},
        spot_checks=[
            SpotCheck("_silence__white_noise-8000", "train", ("_silence_",)),
            SpotCheck("_silence__running_tap-16000", "valid", ("_silence_",)),
            SpotCheck(f"_unknown__wow_c22d3f18_nohash_0{unknown_suffix}", "test", ("_unknown_",)),
        ],
    )


def _train_members(small: bool) -> dict[str, bytes]:
    members = {"README.md": b"Fake Speech Commands v0.02\n", "LICENSE": b"CC BY 4.0\n"}
    for word, stems in TRAIN_WORDS.items():
        for stem in stems:
            name = f"{word}/{stem}.wav"
            members[name] = wav_bytes(_utterance(name, 0.6 if name == SHORT_CLIP else 1.0), SR)
    for noise, seconds in NOISES.items():
        name = f"_background_noise_/{noise}.wav"
        members[name] = wav_bytes(_noise(name, seconds), SR)
    valid = VALID_LIST + ([ABSENT_IN_SMALL["valid"]] if small else [])
    test = TEST_LIST + ([ABSENT_IN_SMALL["test"]] if small else [])
    members["validation_list.txt"] = "".join(f"{p}\n" for p in valid).encode()
    members["testing_list.txt"] = "".join(f"{p}\n" for p in test).encode()
    return members


def _scaled_members(n: int, seconds: float) -> dict[str, dict[str, bytes]]:
    """The train and test archives' members of a scaled fake (see the module docstring)."""
    train = {"README.md": b"Fake Speech Commands v0.02\n", "LICENSE": b"CC BY 4.0\n"}
    valid, test = [], []
    for w, word in enumerate(TRAIN_WORDS):
        for i in range(2 * n):
            name = f"{word}/{w:02x}{i:06x}_nohash_0.wav"
            train[name] = wav_bytes(_utterance(name, seconds), SR)
            if i % 4 == 1:
                valid.append(name)
            elif i % 8 == 2:
                test.append(name)
    for noise, noise_seconds in NOISES.items():
        name = f"_background_noise_/{noise}.wav"
        train[name] = wav_bytes(_noise(name, noise_seconds), SR)
    train["validation_list.txt"] = "".join(f"{p}\n" for p in valid).encode()
    train["testing_list.txt"] = "".join(f"{p}\n" for p in test).encode()
    # "ff" keeps the test archive's speaker ids apart from the train archive's ("00".."03").
    names = [f"{TEST_FOLDERS[i % 4]}/ff{i:06x}_nohash_0.wav" for i in range(n)]
    return {
        "train": train,
        "test": {name: wav_bytes(_utterance(name, seconds), SR) for name in names},
    }


def _test_members(small: bool) -> dict[str, bytes]:
    names = [f"{stem}.wav" for stem in TEST_FILES]
    names.append(f"{TEST_UNKNOWN}.wav.wav" if small else f"{TEST_UNKNOWN}.wav")
    return {name: wav_bytes(_utterance(name, 1.0), SR) for name in names}


def _utterance(name: str, seconds: float) -> np.ndarray:
    """A voiced-sounding burst (harmonics under an envelope) over a low noise floor."""
    rng = seeded_rng(name)
    t = np.arange(round(seconds * SR)) / SR
    f0 = rng.uniform(90, 250)
    voice = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
    envelope = np.exp(-(((t - seconds / 2) / (seconds / 5)) ** 2))
    return 0.3 * voice * envelope / 2.3 + rng.normal(0, 0.005, t.size)


def _noise(name: str, seconds: float) -> np.ndarray:
    return seeded_rng(name).normal(0, 0.1, round(seconds * SR))
