"""nsynth_pitch: NSynth v2.2.3, the MIDI pitch of single musical notes.

The corpus: 305,979 notes of 4 s (16 kHz, mono, 16-bit WAV), each one pitch of one instrument
(acoustic, electronic or synthetic) at one velocity, in NSynth's own splits: train 289,205,
valid 12,678, test 4,096 notes. Shared by two tasks:

    nsynth_pitch        NSynth's train/valid/test as given
    nsynth_pitch_kfold  the three splits pooled (split "train"), then 10 new folds by instrument

Raw layout (source key -> extracted folder; the small zips are assumed to mirror it):
    train/  nsynth-train.jsonwav.tar.gz (small mode: nsynth-train-small.zip)
        nsynth-train/examples.json        a JSON object: note_str -> {note, note_str, instrument,
                                          instrument_str, pitch, velocity, sample_rate, qualities,
                                          qualities_str, instrument_family(_str),
                                          instrument_source(_str)}
        nsynth-train/audio/<note_str>.wav
    valid/  nsynth-valid/..., test/  nsynth-test/... (the same layout)

Quirks:
    * note_str = `<instrument_str>-<pitch:03d>-<velocity:03d>`, e.g. bass_synthetic_033-022-050:
      stem = note_str, split key = instrument_str (the text before the first `-`). The split key
      only matters to the k-fold variant: HEAR 2021's k-fold split ignored the archives' splits
      and grouped the pooled notes by it, so one instrument's notes share a fold.
    * Only the notes with pitch_range_min <= pitch <= pitch_range_max (21..108, the piano's keys;
      the TOML's keys, so there is one definition) are kept; the others get a `drop_reason`, so
      the pipeline drops them first and reports them, as HEAR 2021 dropped them in its recipe.
    * label = the pitch as a string ("60"); the bundle writes JSON numbers and sorts the
      vocabulary numerically, so idx = pitch - 21 when all 88 pitches occur (chroma_acc needs it).
    * Only examples.json is read, never a listing of audio/: the pipeline may unpack only the
      audio it keeps from the ~22 GB train archive. The small zips keep examples.json whole
      (HEAR's fixtures keep metadata whole), so most listed notes are absent in small mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hearcore.format import TVT_SPLITS
from hearpreprocess.config import TaskConfig

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

EXAMPLES = "examples.json"


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per note of each split's examples.json; notes out of the pitch range are marked
    with a `drop_reason`."""
    low, high = pitch_range(config)
    pooled = config.split_mode != "trainvaltest"
    frames = []
    for key in sorted(sources):
        if key not in TVT_SPLITS:
            raise ValueError(
                f"task {config.task_name}: source key {key!r} is not a split name "
                f"({', '.join(TVT_SPLITS)}); declare each NSynth archive with its split, no `name`"
            )
        root = Path(sources[key]) / f"nsynth-{key}"
        notes = read_examples(root / EXAMPLES, config)
        frames.append(
            pd.DataFrame(
                {
                    "relpath": [str(root / "audio" / f"{note}.wav") for note in notes],
                    "label": [str(pitch) for pitch in notes.values()],
                    "split": "train" if pooled else key,
                    "unique_filestem": list(notes),
                    "split_key": [note.split("-", 1)[0] for note in notes],
                    "drop_reason": [
                        "" if low <= pitch <= high else f"pitch {pitch} outside {low}..{high}"
                        for pitch in notes.values()
                    ],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def pitch_range(config: TaskConfig) -> tuple[int, int]:
    """(pitch_range_min, pitch_range_max) of the task, inclusive.

    Raises:
        ValueError: the TOML does not set both as integers with min <= max.
    """
    low = config.extras.get("pitch_range_min")
    high = config.extras.get("pitch_range_max")
    if (
        not isinstance(low, int)
        or isinstance(low, bool)
        or not isinstance(high, int)
        or isinstance(high, bool)
        or low > high
    ):
        raise ValueError(
            f"task {config.task_name}: pitch_range_min and pitch_range_max must be MIDI pitches "
            f"with min <= max (got {low!r} and {high!r}); set them in its recipe TOML"
        )
    return low, high


def read_examples(path: Path, config: TaskConfig) -> dict[str, int]:
    """note_str -> pitch of one split's examples.json, sorted by note_str, checked.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: it does not parse, is not an object of notes, or a note lacks an integer
            pitch, has a note_str unlike its key, or a key that cannot be a stem and split key.
    """
    task = config.task_name
    if not path.is_file():
        raise FileNotFoundError(
            f"task {task}: {path} is missing; each NSynth archive must unpack to "
            "nsynth-<split>/examples.json (re-extract the archive or check its md5)"
        )
    try:
        with open(path, encoding="utf-8") as f:
            examples = json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"task {task}: {path} does not parse as JSON: {e}") from e
    if not isinstance(examples, dict) or not examples:
        got = "an empty object" if examples == {} else f"a {type(examples).__name__}"
        raise ValueError(
            f"task {task}: {path} must be a JSON object of notes keyed by note_str, not "
            f"{got} (is this NSynth's examples.json?)"
        )
    notes = {}
    for note in sorted(examples):
        fields = examples[note]
        pitch = fields.get("pitch") if isinstance(fields, dict) else None
        if not isinstance(pitch, int) or isinstance(pitch, bool):
            why = "is not an object" if not isinstance(fields, dict) else f"has pitch {pitch!r}"
            raise ValueError(f"task {task}: {path}: note {note!r} {why}; expected an int pitch")
        # The stem must be a file name and the split key (text before "-") non-empty.
        if "/" in note or "\\" in note or not note.split("-", 1)[0] or "-" not in note:
            raise ValueError(
                f"task {task}: {path}: key {note!r} is not a note_str "
                "(<instrument_str>-<pitch>-<velocity>)"
            )
        if fields.get("note_str", note) != note:
            raise ValueError(
                f"task {task}: {path}: key {note!r} holds note_str {fields['note_str']!r}; "
                "the two must agree"
            )
        notes[note] = pitch
    return notes
