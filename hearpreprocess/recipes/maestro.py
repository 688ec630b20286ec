"""maestro: MAESTRO v3.0.0, piano performances with note-exact MIDI .

The corpus: 1,276 piano performances from the International Piano-e-Competition, recorded on
Disklavier grands that also captured the keys and pedals as MIDI, aligned with the audio (the
dataset's own description; hours and alignment accuracy not restated here, unverified). Audio is
WAV, 44.1 or 48 kHz, 16-bit, stereo (downmixed to mono by the pipeline). The task is
transcription: every note is an event labelled with its MIDI pitch.

Raw layout (archive key `train_test_valid`, maestro-v3.0.0.zip):
    maestro-v3.0.0/maestro-v3.0.0.csv   one row per performance, columns canonical_composer,
                                        canonical_title, split (train/validation/test), year,
                                        midi_filename, audio_filename, duration (s, from the MIDI)
    maestro-v3.0.0/maestro-v3.0.0.json  the same table as JSON (not read)
    maestro-v3.0.0/<year>/<name>.wav    per-year folders 2004/ .. 2018/, e.g.
                                        2018/MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1.wav
    maestro-v3.0.0/<year>/<name>.midi   its MIDI (keys and sustain, sostenuto, soft pedals)
The small zip keeps the CSV whole but holds a few performances only (unverified: no public copy).

Quirks:
    * Notes come from hearpreprocess.midi: note-on/off pairing (a re-strike ends the sounding
      note), the tempo map, then the sustain pedal as note_seq applies it, then the 88 keys
      (pitch 21..108). Event times are ms; label = pitch (an int, a JSON number in the bundle).
    * Stem = the audio file's stem (no year folder); split key = stem. The CSV's split is
      discarded: every row is "train", re-split into k folds.
    * Sanity checks (HEAR 2021 asserted them; here a ValueError names the statistic): the mean
      |CSV duration - MIDI total time before the pedal| must be below 0.05 s, always (over the
      performances read). In every mode but small, i.e. 5h here (the mode that reads the full
      archive; HEAR 2021 ran these checks in its full mode, which is not a mode here), the mean
      |audio duration - MIDI end (the last release, pedal applied)| and the mean |audio duration -
      CSV duration| must be below 5 s; audio durations come from the WAV headers. HEAR 2021 also
      wrote a duration_stats.csv; a recipe has no output folder, so the errors name the worst file.
    * A MIDI file that is absent or does not parse is an error, except in small mode, where its
      row is dropped (drop_reason) and reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hearcore.wav import HEAD_BYTES, parse_wav_header
from hearpreprocess import sourceview
from hearpreprocess.config import TaskConfig
from hearpreprocess.midi import PIANO_PITCHES, MidiError, apply_sustain, read_performance

# Bump when a rule below changes the rows: it rebuilds the metadata and everything after it.
CODE_VERSION = 1

ROOT = "maestro-v3.0.0"
CSV_NAME = "maestro-v3.0.0.csv"
COLUMNS: tuple[str, ...] = (
    "canonical_composer",
    "canonical_title",
    "split",
    "year",
    "midi_filename",
)
COLUMNS += ("audio_filename", "duration")
MIDI_TOLERANCE_S = 0.05  # mean |CSV duration - MIDI total time|
AUDIO_TOLERANCE_S = 5.0  # mean |audio duration - MIDI end| and |audio duration - CSV duration|


def extract_metadata(sources: dict[str, Path], config: TaskConfig) -> pd.DataFrame:
    """One row per note (21 <= pitch <= 108) of every performance the CSV lists, in ms."""
    root = Path(sources["train_test_valid"]) / ROOT
    table = _read_table(root / CSV_NAME, config)
    rows: dict[str, list[Any]] = {
        "relpath": [],
        "label": [],
        "start": [],
        "end": [],
        "drop_reason": [],
    }
    stats = []  # (audio path, CSV duration, MIDI total time, MIDI end) per performance read

    def add(audio: Path, label, start: float, end: float, drop_reason: str = "") -> None:
        for key, value in zip(rows, (str(audio), label, start, end, drop_reason)):
            rows[key].append(value)

    for audio_name, midi_name, duration in table.itertuples(index=False):
        audio, midi = root / audio_name, root / midi_name
        if not midi.is_file():
            if not config.is_small:
                raise FileNotFoundError(
                    f"task {config.task_name}: MIDI file {midi} listed in {CSV_NAME} is missing; "
                    "re-extract the archive (check its md5)"
                )
            add(audio, None, float("nan"), float("nan"), "MIDI file missing (small mode)")
            continue
        try:
            performance = read_performance(midi)
        except MidiError as e:
            if not config.is_small:
                raise ValueError(
                    f"task {config.task_name}: {e}; re-extract the archive (check its md5)"
                ) from e
            # The name from the CSV, not the path: the report must not depend on the work folder.
            add(audio, None, float("nan"), float("nan"), f"MIDI file {midi_name} {e.why}")
            continue
        sounding = apply_sustain(performance.notes, performance.pedals)
        stats.append(
            (audio, duration, performance.total_time, max((n.end for n in sounding), default=0.0))
        )
        low, high = PIANO_PITCHES
        notes = [n for n in sounding if low <= n.pitch <= high]
        for note in notes:
            add(audio, note.pitch, note.start * 1000.0, note.end * 1000.0)
        if not notes:  # a clip with no event is still a clip (a negative example)
            add(audio, None, float("nan"), float("nan"))
    if not stats:
        raise ValueError(
            f"task {config.task_name}: not one MIDI file listed in {root / CSV_NAME} could be "
            "read; the archive is not the one the recipe expects (check its md5)"
        )
    check_durations(stats, config)
    out = pd.DataFrame(rows)
    out["label"] = pd.Series(rows["label"], dtype=object)  # ints stay ints beside None
    out["split"] = "train"  # the CSV's split is discarded: k-fold reassigns every file
    return out


def _read_table(path: Path, config: TaskConfig) -> pd.DataFrame:
    """(audio_filename, midi_filename, duration as float) of every CSV row, sorted by audio."""
    if not path.is_file():
        raise FileNotFoundError(
            f"task {config.task_name}: {path} is missing; the archive must unpack to "
            f"{ROOT}/{CSV_NAME} and {ROOT}/<year>/<name>.wav|.midi (re-extract it, check its md5)"
        )
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"task {config.task_name}: {path} lacks the columns {missing}; expected {list(COLUMNS)}"
        )
    duration = pd.to_numeric(table["duration"].str.strip(), errors="coerce")
    if duration.isna().any():
        bad = table.loc[duration.isna(), "audio_filename"].iloc[0]
        raise ValueError(f"task {config.task_name}: {path}: the duration of {bad} is not a number")
    table = table.assign(duration=duration).sort_values("audio_filename", kind="stable")
    return table[["audio_filename", "midi_filename", "duration"]]


def check_durations(stats: list[tuple[Path, float, float, float]], config: TaskConfig) -> None:
    """HEAR 2021's duration sanity checks (module docstring), as ValueErrors naming the task, the
    statistic, its value, the threshold and the file that is furthest off.

    Args:
        stats: (audio path, CSV duration, MIDI total time before the pedal, MIDI end after it)
            of each performance read, all in seconds.
        config: the task; the audio checks run in every mode but small.
    """
    frame = pd.DataFrame(stats, columns=["audio", "csv", "midi_total", "midi_end"])
    checks = [("CSV duration - MIDI total time", frame["csv"] - frame["midi_total"], frame)]
    threshold = {checks[0][0]: MIDI_TOLERANCE_S}
    if not config.is_small:
        # Only files that exist: a missing one is the pipeline's error, with its own message.
        frame = frame[frame["audio"].map(sourceview.exists)].copy()
        frame["seconds"] = frame["audio"].map(lambda p: _audio_seconds(p, config))
        checks.append(("audio duration - MIDI end", frame["seconds"] - frame["midi_end"], frame))
        checks.append(("audio duration - CSV duration", frame["seconds"] - frame["csv"], frame))
        threshold.update({name: AUDIO_TOLERANCE_S for name, _, _ in checks[1:]})
    for name, difference, of in checks:
        if not len(of):
            continue
        value, limit = float(difference.abs().mean()), threshold[name]
        if not value < limit:
            worst = of["audio"].loc[difference.abs().idxmax()]
            raise ValueError(
                f"task {config.task_name}: duration check failed: mean |{name}| over {len(of)} "
                f"performances is {value:.4f} s, not below the threshold of {limit:g} s (furthest "
                f"off: {Path(worst).stem}, {float(difference.abs().max()):.3f} s); the audio, MIDI "
                f"and {CSV_NAME} do not match (check the archive's md5)"
            )


def _audio_seconds(path: Path, config: TaskConfig) -> float:
    """Duration from the WAV header (no decoding), read from the file or, in a source extracted
    `extract_first`, from its member in the archive."""
    try:
        with sourceview.open_file(path, head=HEAD_BYTES) as f:
            head = f.read(HEAD_BYTES)
        return parse_wav_header(head, sourceview.file_size(path)).seconds
    except (OSError, ValueError) as e:
        raise ValueError(
            f"task {config.task_name}: cannot read the header of {path} ({e}); re-extract the "
            "archive (check its md5)"
        ) from e
