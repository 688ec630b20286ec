"""Fake FSD50K: a few clips of varied length in the real layout and archive formats.

Full mode writes the audio as Info-ZIP-style split zips with as many parts as the TOML lists
(dev: .z01-.z05 + .zip, eval: .z01 + .zip), and the ground truth as a plain zip. Small mode writes
three plain zips, as the real small ones. Audio is 44.1 kHz 16-bit mono, 0.3-3.2 s in full mode
and at most 1 s in small mode (the real small clips were cut to 1 s or less).

Design (the same CSVs in both modes; the ground truth is whole in small mode, as the real one):
    dev train   64760, 16399, 210276, 386851, 40307 (0.3 s)   dev val   102857, 314961
    eval        37199, 175151, 290014
    the real corpus's twelve over-long dev clips, 11 train + 1 val (397150), labelled Engine/Vehicle
        only: they are dropped by the recipe's rule, so those labels must not reach the vocabulary.
        Their audio is in the full dev zip but short (the pipeline drops them before any audio
        work, so their real 30 s length is not worth the bytes); the small zip lacks it.
    -> full: train 5, valid 2, test 3; small (only the first clips of each list are present):
       train 3, valid 1, test 2.

Scaled (fakes.Scale, full mode): n made-up clips in each of dev train, dev val and eval, the five
label sets above in turn, each of the scale's clip length; the twelve over-long clips stay.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_split_zip, write_zip
from hearpreprocess.config import TaskConfig
from hearpreprocess.recipes.fsd50k import OVERLONG

SR = 44100
GUITAR = "Electric_guitar,Guitar,Plucked_string_instrument,Musical_instrument,Music"
DOG = "Bark,Dog,Domestic_animals_and_pets,Animal"
RAIN = "Rain,Water"
SPEECH = "Male_speech_and_man_speaking,Speech,Human_voice"
KNOCK = "Knock,Door"
ENGINE = "Engine,Vehicle"
# fname -> (labels cell, seconds) in dev.csv / eval.csv order; the first entries of each split are
# the ones present in small mode.
DEV_TRAIN = {
    "64760": (GUITAR, 2.4),
    "16399": (DOG, 0.75),
    "210276": (RAIN, 3.2),
    "386851": (SPEECH, 1.3),
    "40307": (KNOCK, 0.3),
}
DEV_VAL = {"102857": (DOG, 1.7), "314961": (f"{KNOCK},{SPEECH}", 0.55)}
EVAL = {"37199": (GUITAR, 1.1), "175151": (RAIN, 0.4), "290014": (SPEECH, 2.05)}
SMALL_PRESENT = {"train": 3, "valid": 1, "test": 2}
OVERLONG_SECONDS = 0.5
OVERLONG_VAL = "397150"  # the one over-long clip in dev's val split
LABEL_SETS = (GUITAR, DOG, RAIN, SPEECH, KNOCK)


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def scaled_clips(n: int, seconds: float, first: int) -> dict[str, tuple[str, float]]:
    """`n` clips numbered from `first` (clear of the over-long fnames), label sets in turn."""
    return {str(first + i): (LABEL_SETS[i % len(LABEL_SETS)], seconds) for i in range(n)}


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake FSD50K sources of `config` (full or small mode) under `mirror_root`."""
    small, scale = config.is_small, current_scale()
    train_clips, val_clips, eval_clips = DEV_TRAIN, DEV_VAL, EVAL
    if scale is not None:
        n, seconds = scale.clips_per_split, scale.seconds(7.6)
        train_clips = scaled_clips(n, seconds, 1_000_000)
        val_clips = scaled_clips(n, seconds, 2_000_000)
        eval_clips = scaled_clips(n, seconds, 3_000_000)
    overlong = {fname: (ENGINE, OVERLONG_SECONDS) for fname in OVERLONG}
    dev_val = {**val_clips, OVERLONG_VAL: overlong.pop(OVERLONG_VAL)}
    dev_train = {**train_clips, **overlong}
    keep = {"train": list(train_clips), "valid": list(val_clips), "test": list(eval_clips)}
    if small:
        keep = {split: fnames[: SMALL_PRESENT[split]] for split, fnames in keep.items()}
    dev_audio = keep["train"] + keep["valid"] + ([] if small else list(OVERLONG))
    dev = {**dev_train, **dev_val}
    members = {
        "train": _audio("FSD50K.dev_audio", {f: dev[f] for f in dev_audio}, small),
        "test": _audio("FSD50K.eval_audio", {f: eval_clips[f] for f in keep["test"]}, small),
        "ground_truth": _ground_truth(dev_train, dev_val, eval_clips),
    }
    md5 = {}
    for source in config.sources:
        if source.kind == "multipart_zip":
            md5.update(_write_parts(mirror_root, source, members[source.key]))
        else:
            md5[source.url] = write_zip(
                mirror_location(mirror_root, source.url), members[source.key]
            )
    kept = [train_clips[f] for f in keep["train"]] + [val_clips[f] for f in keep["valid"]]
    kept += [eval_clips[f] for f in keep["test"]]
    labels = {label for cell, _ in kept for label in cell.split(",")}
    if scale is not None:
        return FakeCorpus(md5=md5, labels=labels)
    return FakeCorpus(
        md5=md5,
        split_counts={split: len(fnames) for split, fnames in keep.items()},
        labels=labels,
        spot_checks=[
            SpotCheck("64760", "train", tuple(GUITAR.split(","))),
            SpotCheck("102857", "valid", tuple(DOG.split(","))),
            SpotCheck("37199", "test", tuple(GUITAR.split(","))),
        ],
    )


def _audio(folder: str, clips: dict[str, tuple[str, float]], small: bool) -> dict[str, bytes]:
    return {
        f"{folder}/{fname}.wav": wav_bytes(
            _clip(fname, min(seconds, 1.0) if small else seconds), SR
        )
        for fname, (_, seconds) in clips.items()
    }


def _ground_truth(dev_train: dict, dev_val: dict, eval_clips: dict) -> dict[str, bytes]:
    cells = [cell for cell, _ in [*dev_train.values(), *dev_val.values(), *eval_clips.values()]]
    labels = sorted({label for cell in cells for label in cell.split(",")})
    mid = {label: f"/m/0fk{i:03d}" for i, label in enumerate(labels)}  # made-up AudioSet mids

    def mids(cell: str) -> str:
        return ",".join(mid[label] for label in cell.split(","))

    # No header, `index,label,mid`, sorted by label as in FSD50K.
    vocabulary = "".join(f"{i},{label},{mid[label]}\n" for i, label in enumerate(labels))
    dev = "fname,labels,mids,split\n" + "".join(
        f'{fname},"{cell}","{mids(cell)}",{split}\n'
        for split, clips in (("train", dev_train), ("val", dev_val))
        for fname, (cell, _) in clips.items()
    )
    eval_ = "fname,labels,mids\n" + "".join(
        f'{fname},"{cell}","{mids(cell)}"\n' for fname, (cell, _) in eval_clips.items()
    )
    root = "FSD50K.ground_truth"
    return {
        f"{root}/eval.csv": eval_.encode(),
        f"{root}/dev.csv": dev.encode(),
        f"{root}/vocabulary.csv": vocabulary.encode(),
    }


def _write_parts(mirror_root: Path, source, members: dict[str, bytes]) -> dict[str, str]:
    """A split zip with exactly as many parts as `source` lists, at each part's URL; {url: md5}."""
    n_parts = len(source.parts)
    part_size = _part_size(members, n_parts)
    written = write_split_zip(mirror_location(mirror_root, source.url), members, part_size)
    by_path = {path.resolve(): md5 for path, md5 in written.items()}
    wanted = [mirror_location(mirror_root, part.url).resolve() for part in source.parts]
    if sorted(by_path) != sorted(wanted):
        raise AssertionError(f"split zip parts {sorted(by_path)} are not the TOML's {wanted}")
    return {part.url: by_path[path] for part, path in zip(source.parts, wanted)}


def _part_size(members: dict[str, bytes], n_parts: int) -> int:
    """The smallest part size (in 256-byte steps) from an even cut that gives `n_parts` parts."""
    with tempfile.TemporaryDirectory() as tmp:
        whole = write_split_zip(Path(tmp) / "one" / "x.zip", members, part_size=1 << 40)
        total = sum((Path(p).stat().st_size for p in whole), 0)
        size = -(-total // n_parts)
        for attempt in range(1000):
            parts = write_split_zip(Path(tmp) / f"t{attempt}" / "x.zip", members, size)
            if len(parts) == n_parts:
                return size
            if len(parts) < n_parts:
                break
            size += 256
    raise AssertionError(f"no part size splits the fake zip into {n_parts} parts")


def _clip(fname: str, seconds: float) -> np.ndarray:
    """A noisy tone with a decaying envelope, as long as the clip is."""
    rng = seeded_rng(fname)
    n = round(seconds * SR)
    t = np.arange(n) / SR
    tone = np.sin(2 * np.pi * rng.uniform(150, 3000) * t) + rng.normal(0, 0.2, n)
    return 0.5 * tone * np.exp(-t / max(seconds, 0.1))
