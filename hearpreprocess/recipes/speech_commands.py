"""speech_commands: Google Speech Commands v0.02, 12-way keyword spotting.

The corpus: about 105,000 one-second utterances of 35 words by 2,618 speakers, 16 kHz mono 16-bit.
HEAR keeps TFDS's 12 classes: ten target words, `_unknown_` (every other word) and `_silence_`.

Raw layout (archive key -> extracted folder):
    train/  (speech_commands_v0.02.tar.gz, no top-level folder)
        <word>/<speakerhash>_nohash_<n>.wav      35 word folders
        _background_noise_/<noise>.wav           six long noise recordings (running_tap ~61 s, ...)
        validation_list.txt, testing_list.txt    one `<word>/<file>.wav` per line
    test/   (speech_commands_test_set_v0.02.tar.gz)
        <target word>/*.wav, _unknown_/<word>_<hash>_nohash_<n>.wav, _silence_/*.wav

Quirks:
    * `_silence_` training clips do not exist as files: they are 1 s windows (hop 0.5 s) of the
      background noise recordings. Rather than writing them out, each window is a row pointing at
      the noise file with `source_start`/`source_stop` frame indices; only the WAV header is read.
      The windows of running_tap.wav go to valid, all others to train (TFDS's rule).
    * valid = the paths of validation_list.txt; train = every word file in neither list. The small
      archives keep both lists whole, so most listed files are absent there (small mode drops them).
    * The small test zip names its `_unknown_` files `<word>_..._nohash_<n>.wav.wav`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import soundfile as sf

from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

TARGET_WORDS = frozenset(["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"])
SILENCE = "_silence_"
UNKNOWN = "_unknown_"
NOISE_DIR = "_background_noise_"
VALID_NOISE = "running_tap"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per clip (word file or silence window) with label, split and stem."""
    train_root, test_root = Path(sources["train"]), Path(sources["test"])
    valid_list = _read_list(train_root / "validation_list.txt", config)
    test_list = _read_list(train_root / "testing_list.txt", config)
    rows = [_clip_row(train_root / rel, "valid") for rel in sorted(valid_list)]
    for path in sorted(train_root.glob("*/*.wav")):
        rel = f"{path.parent.name}/{path.name}"
        if not path.parent.name.startswith("_") and rel not in valid_list | test_list:
            rows.append(_clip_row(path, "train"))
    rows += [_clip_row(path, "test") for path in sorted(test_root.glob("*/*.wav"))]
    for noise in sorted((train_root / NOISE_DIR).glob("*.wav")):
        rows += _silence_rows(noise, "valid" if noise.stem == VALID_NOISE else "train", config)
    return pd.DataFrame(rows)


def label_of(folder: str) -> str:
    """The class of a clip from its folder name: a target word, `_silence_` or `_unknown_`."""
    return folder if folder in TARGET_WORDS or folder == SILENCE else UNKNOWN


def _read_list(path: Path, config: TaskConfig) -> set[str]:
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the train archive must contain it "
            "(re-extract the archive or check its md5)"
        )
    lines = path.read_text(encoding="utf-8").split()
    bad = [line for line in lines if not line.endswith(".wav") or line.count("/") != 1]
    if bad:
        raise ValueError(
            f"task {config.task_name}: {path} does not parse: expected `<word>/<file>.wav` "
            f"lines, got {bad[0]!r}"
        )
    return set(lines)


def _clip_row(path: Path, split: str) -> dict:
    folder = path.parent.name
    stem = f"{folder}_{path.stem}"
    return {
        "relpath": str(path),
        "label": label_of(folder),
        "split": split,
        "unique_filestem": stem,
        # Speaker grouping; unused because all three splits are given.
        "split_key": stem.split("_nohash_")[0],
    }


def _silence_rows(noise: Path, split: str, config: TaskConfig) -> list[dict]:
    """1 s windows with a 0.5 s hop, starts 0, sr/2, sr, ... while start < len - sr (TFDS)."""
    try:
        info = sf.info(str(noise))
    except RuntimeError as e:
        raise ValueError(f"task {config.task_name}: cannot read the header of {noise}: {e}") from e
    if info.channels != 1:
        raise ValueError(f"task {config.task_name}: {noise} must be mono, has {info.channels}")
    sr, n = info.samplerate, info.frames
    rows = []
    for start in range(0, n - sr, sr // 2):
        stem = f"{SILENCE}_{noise.stem}-{start}"
        rows.append(
            {
                "relpath": str(noise),
                "label": SILENCE,
                "split": split,
                "unique_filestem": stem,
                "split_key": stem,
                "source_start": start,
                "source_stop": start + sr,
            }
        )
    return rows
