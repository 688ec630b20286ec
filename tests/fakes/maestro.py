"""Fake MAESTRO v3.0.0: twelve performances in the real `maestro-v3.0.0/` zip layout.

`maestro-v3.0.0/maestro-v3.0.0.csv` (and its `.json` twin, pandas' column-oriented JSON) lists
twelve performances in per-year folders, each a `<name>.wav` (3 s, 16-bit stereo, 44.1 kHz up to
2009 and 48 kHz after) and a `<name>.midi` (type 1, 384 ticks per beat, tempo map in track 0,
notes and pedals in track 1). The CSV `duration` is the last note release, computed here from the
fake's own note list, not by the parser under test.

Every performance k (0..11) plays pitch 60+k (0.25-0.75 s), 64+k (0.5-1.0 s, released under the
sustain pedal, down 0.875-1.375 s, so it lasts until 1.375 s), 40+k (1.5-2.5 s: its end is
clipped at the 2 s cut) and 80+k (2.25-2.625 s: it starts after the cut and is dropped, so 80..91
never reach the vocabulary). All times lie on the tick grid (1/8 s steps). Quirks spread over the
files: note-on velocity 0 as note-off (odd k), a soft-pedal CC 67 (ignored), pitches 20 and 109
(outside the 88 keys, k = 0), a re-strike of sounding pitch 62 written note-on first, then the
old note's note-off at the same tick (k = 1: two 62 events), a tempo change at 1 s (k = 3: 120 ->
240 bpm).

Modes, with config_overrides so the build stays small: sample_duration 2 s in both. 5h: the 12
performances in 5 folds (3, 3, 2, 2, 2), capped at 4 s = 2 clips per fold, so 10 clips. small:
the CSV stays whole but only 7 wav + midi pairs are in the zip (as the real small zip, said to
hold 7 performances); the 5 others are dropped (MIDI missing), and 7 clips make 4 folds (2, 2,
2, 1).

Scaled (fakes.Scale, 5h): n * 5 performances, the twelve above in turn (stems numbered after the
first round), each `<clip length>` s of audio with the same notes, at the config's own
sample_duration and caps (no overrides).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import mido
import numpy as np
import pandas as pd
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

ROOT = "maestro-v3.0.0"
TICKS_PER_BEAT = 384
TEMPO = 500000  # us per beat: 768 ticks per second
FAST_TEMPO = 250000  # from 1 s on in performance TEMPO_CHANGE: 1536 ticks per second
TEMPO_CHANGE = 3
AUDIO_SECONDS = 3.0
SAMPLE_DURATION = 2.0
# (year, audio stem, composer, title, CSV split)
PERFORMANCES = [
    (2004, "MIDI-Unprocessed_SMF_02_R1_2004_01-05_ORIG_MID--AUDIO_02_R1_2004_05_Track05_wav",
     "Franz Schubert", "Sonata in A Major, D. 959", "train"),
    (2004, "MIDI-Unprocessed_SMF_05_R1_2004_02-03_ORIG_MID--AUDIO_05_R1_2004_06_Track06_wav",
     "Frédéric Chopin", "Etude Op. 10 No. 4", "test"),
    (2006, "MIDI-Unprocessed_07_R1_2006_01-04_ORIG_MID--AUDIO_07_R1_2006_04_Track04_wav",
     "Johann Sebastian Bach", "Prelude and Fugue in C Minor, WTC I", "train"),
    (2008, "MIDI-Unprocessed_03_R1_2008_01-04_ORIG_MID--AUDIO_03_R1_2008_wav--2",
     "Ludwig van Beethoven", "Sonata No. 23 in F Minor, Op. 57", "validation"),
    (2009, "MIDI-Unprocessed_11_R1_2009_06-09_ORIG_MID--AUDIO_11_R1_2009_11_R1_2009_07_WAV",
     "Franz Liszt", "Mephisto Waltz No. 1", "train"),
    (2011, "MIDI-Unprocessed_05_R1_2011_MID--AUDIO_R1-D2_11_Track11_wav",
     "Sergei Rachmaninoff", "Prelude in G Minor, Op. 23 No. 5", "train"),
    (2013, "ORIG-MIDI_02_7_7_13_Group__MID--AUDIO_12_R1_2013_wav--3",
     "Claude Debussy", "Estampes", "test"),
    (2014, "MIDI-UNPROCESSED_04-06_R1_2014_MID--AUDIO_05_R1_2014_wav--1",
     "Robert Schumann", "Kreisleriana, Op. 16", "train"),
    (2015, "MIDI-Unprocessed_R1_D2-13-20_mid--AUDIO-from_mp3_17_R1_2015_wav--2",
     "Joseph Haydn", "Sonata in E-flat Major, Hob. XVI:52", "validation"),
    (2017, "MIDI-Unprocessed_066_PIANO066_MID--AUDIO-split_07-07-17_Piano-e_3-02_wav--3",
     "Alexander Scriabin", "Sonata No. 5, Op. 53", "train"),
    (2018, "MIDI-Unprocessed_Chamber3_MID--AUDIO_10_R3_2018_wav--1",
     "Wolfgang Amadeus Mozart", "Sonata in D Major, K. 576", "train"),
    (2018, "MIDI-Unprocessed_Recital9-11_MID--AUDIO_11_R1_2018_wav--2",
     "Maurice Ravel", "Gaspard de la nuit", "test"),
]  # fmt: skip
# The performances the small zip holds (one from each CSV split among them).
IN_SMALL = (0, 1, 3, 5, 6, 8, 10)
TAIL_PITCH = 33  # the scaled fake's last note, below every other kept pitch


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def scaled_performances(count: int) -> list[tuple[int, str]]:
    """(template k, audio stem) of `count` performances: the twelve in turn, renamed after the
    first round."""
    out = []
    for j in range(count):
        k, round_ = j % len(PERFORMANCES), j // len(PERFORMANCES)
        stem = PERFORMANCES[k][1]
        out.append((k, stem if round_ == 0 else f"{stem}--{round_ + 1}"))
    return out


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake MAESTRO zip for `config`'s source under `mirror_root`."""
    scale = current_scale()
    if scale is not None:
        return _scaled_corpus(mirror_root, config, scale.clips_per_split * len(config.splits),
                              scale.seconds(config.sample_duration or AUDIO_SECONDS))  # fmt: skip
    present = IN_SMALL if config.is_small else range(len(PERFORMANCES))
    members = {}
    for k in present:
        year, stem = PERFORMANCES[k][:2]
        members[f"{ROOT}/{year}/{stem}.midi"] = midi_bytes(k)
        members[f"{ROOT}/{year}/{stem}.wav"] = wav_bytes(_audio(k), sample_rate(k))
    table = csv_table()
    members[f"{ROOT}/{ROOT}.csv"] = table.to_csv(index=False).encode()
    members[f"{ROOT}/{ROOT}.json"] = table.to_json().encode()
    (source,) = config.sources
    md5 = {source.url: write_zip(mirror_location(mirror_root, source.url), members)}
    if config.is_small:
        return FakeCorpus(
            md5=md5,
            split_counts={"fold00": 2, "fold01": 2, "fold02": 2, "fold03": 1},
            labels={p + k for k in IN_SMALL for p in (40, 60, 64)} | {62},
            spot_checks=[
                SpotCheck(PERFORMANCES[1][1], "fold03", (41, 61, 62, 62, 65)),
                SpotCheck(PERFORMANCES[5][1], "fold00", (45, 65, 69)),
                SpotCheck(PERFORMANCES[0][1], "fold01", (40, 60, 64)),
            ],
            config_overrides={"sample_duration": SAMPLE_DURATION},
        )
    kept = (0, 1, 3, 4, 5, 6, 7, 8, 10, 11)  # 2 and 9 are over their folds' caps
    return FakeCorpus(
        md5=md5,
        split_counts={f"fold{i:02d}": 2 for i in range(5)},
        labels={p + k for k in kept for p in (40, 60, 64)} | {62},
        spot_checks=[
            SpotCheck(PERFORMANCES[1][1], "fold04", (41, 61, 62, 62, 65)),
            SpotCheck(PERFORMANCES[TEMPO_CHANGE][1], "fold02", (43, 63, 67)),
            SpotCheck(PERFORMANCES[11][1], "fold03", (51, 71, 75)),
            SpotCheck(PERFORMANCES[0][1], "fold01", (40, 60, 64)),
        ],
        # 2 s clips, and a cap of 2 clips per fold, so that 5h still subsamples.
        config_overrides={"sample_duration": SAMPLE_DURATION, "max_task_duration_by_fold": 4.0},
    )


def _scaled_corpus(mirror_root: Path, config: TaskConfig, count: int, seconds: float) -> FakeCorpus:
    """The scaled fake: `count` performances of `seconds` each, and their CSV and JSON."""
    members, rows = {}, []
    until = math.floor(seconds * 8) / 8  # the recipe checks audio length against the MIDI's end
    for k, stem in scaled_performances(count):
        year = PERFORMANCES[k][0]
        members[f"{ROOT}/{year}/{stem}.midi"] = midi_bytes(k, until)
        audio = _audio(k, seconds, until)
        members[f"{ROOT}/{year}/{stem}.wav"] = wav_bytes(audio, sample_rate(k))
        rows.append(_csv_row(k, stem, until))
    table = pd.DataFrame(rows)
    members[f"{ROOT}/{ROOT}.csv"] = table.to_csv(index=False).encode()
    members[f"{ROOT}/{ROOT}.json"] = table.to_json().encode()
    (source,) = config.sources
    md5 = {source.url: write_zip(mirror_location(mirror_root, source.url), members)}
    # No labels declared: which notes are labels depends on the clip length (see above).
    return FakeCorpus(md5=md5)


def sample_rate(k: int) -> int:
    return 44100 if PERFORMANCES[k][0] <= 2009 else 48000


def score(
    k: int, until: float | None = None
) -> tuple[list[tuple[int, float, float]], list[tuple[float, int]]]:
    """Performance k's notes as played (pitch, onset s, release s) and its pedal changes
    (time s, CC 64 value), before the sustain pedal is applied. With `until` (on the 1/8 s
    grid), a last low note ends there, so that a longer recording matches its MIDI's end."""
    notes = [(60 + k, 0.25, 0.75), (64 + k, 0.5, 1.0), (40 + k, 1.5, 2.5), (80 + k, 2.25, 2.625)]
    if until is not None and until > 3.0:
        notes.append((TAIL_PITCH, until - 0.5, until))
    if k == 0:
        notes += [(20, 0.125, 0.375), (109, 0.25, 0.375)]
    if k == 1:  # 62 re-struck at 0.375 s while sounding; a note-off at 0.625 s ends the second
        notes += [(62, 0.125, 0.375), (62, 0.375, 0.625)]
    pedals = [(0.875, 100), (1.375, 0)]
    return notes, pedals


def sounding_notes(k: int, until: float | None = None) -> list[tuple[int, float, float]]:
    """What the recipe must make of performance k (pedal applied, 88 keys), computed by hand."""
    notes, _ = score(k, until)
    out = [(p, a, 1.375 if p == 64 + k else b) for p, a, b in notes if 21 <= p <= 108]
    return sorted(out, key=lambda n: (n[1], n[0]))


def csv_duration(k: int, until: float | None = None) -> float:
    """The CSV's duration: the last release before the pedal (note_seq's total time)."""
    return max(b for _, _, b in score(k, until)[0])


def _tick(k: int, seconds: float) -> int:
    """Ticks of a time in seconds; the fake's times are all on the tick grid."""
    ticks = 768 + (seconds - 1.0) * 1536 if k == TEMPO_CHANGE and seconds > 1.0 else seconds * 768
    assert ticks == int(ticks), f"{seconds} s is not on the tick grid"
    return int(ticks)


def midi_bytes(k: int, until: float | None = None) -> bytes:
    """Performance k as a type-1 MIDI file, as a Disklavier export lays one out."""
    notes, pedals = score(k, until)
    events = []  # (tick, order, message): order puts a note-off before a note-on at one tick
    restruck = k == 1
    for pitch, on, off in notes:
        if restruck and pitch == 62 and on == 0.375:
            # The re-strike: note-on while 62 sounds, then the old note's note-off, same tick.
            events.append((_tick(k, on), 0, mido.Message("note_on", note=62, velocity=70)))
            events.append((_tick(k, on), 1, mido.Message("note_off", note=62, velocity=0)))
            events.append((_tick(k, off), 1, mido.Message("note_off", note=62, velocity=0)))
            continue
        if restruck and pitch == 62:
            events.append((_tick(k, on), 0, mido.Message("note_on", note=62, velocity=50)))
            continue
        events.append((_tick(k, on), 2, mido.Message("note_on", note=pitch, velocity=64 + k)))
        release = (
            mido.Message("note_on", note=pitch, velocity=0)
            if k % 2
            else mido.Message("note_off", note=pitch, velocity=40)
        )
        events.append((_tick(k, off), 1, release))
    for seconds, value in pedals:
        events.append(
            (_tick(k, seconds), 0, mido.Message("control_change", control=64, value=value))
        )
    events.append((_tick(k, 0.625), 0, mido.Message("control_change", control=67, value=90)))
    events.append((_tick(k, 0.75), 0, mido.Message("control_change", control=67, value=0)))
    events.sort(key=lambda e: (e[0], e[1]))

    tempo_track = mido.MidiTrack()
    tempo_track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
    tempo_track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    if k == TEMPO_CHANGE:
        tempo_track.append(mido.MetaMessage("set_tempo", tempo=FAST_TEMPO, time=768))
    tempo_track.append(mido.MetaMessage("end_of_track", time=1))
    piano = mido.MidiTrack([mido.Message("program_change", program=0, time=0)])
    now = 0
    for tick, _, message in events:
        piano.append(message.copy(time=tick - now))
        now = tick
    piano.append(mido.MetaMessage("end_of_track", time=1))
    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, tracks=[tempo_track, piano])
    buf = io.BytesIO()
    midi.save(file=buf)
    return buf.getvalue()


def csv_table() -> pd.DataFrame:
    """maestro-v3.0.0.csv of the fake: every performance, in the real column order."""
    return pd.DataFrame([_csv_row(k, p[1]) for k, p in enumerate(PERFORMANCES)])


def _csv_row(k: int, stem: str, until: float | None = None) -> dict:
    """The CSV row of performance k (its audio under `stem`)."""
    year, _, composer, title, split = PERFORMANCES[k]
    return {
        "canonical_composer": composer,
        "canonical_title": title,
        "split": split,
        "year": year,
        "midi_filename": f"{year}/{stem}.midi",
        "audio_filename": f"{year}/{stem}.wav",
        "duration": csv_duration(k, until),
    }


def _audio(k: int, seconds: float = AUDIO_SECONDS, until: float | None = None) -> np.ndarray:
    """A decaying sine per sounding note plus a little noise, stereo (left louder)."""
    sr = sample_rate(k)
    n = round(seconds * sr)
    mono = seeded_rng(PERFORMANCES[k][1]).normal(0, 0.003, n)
    for pitch, a, b in sounding_notes(k, until):
        i, j = round(a * sr), min(round(b * sr), n)
        t = np.arange(j - i) / sr
        mono[i:j] += 0.1 * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t) * np.exp(-3 * t)
    return np.stack([0.9 * mono, 0.7 * mono], axis=1)
