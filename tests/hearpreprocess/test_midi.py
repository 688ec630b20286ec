"""hearpreprocess.midi on MIDI files written by hand with mido; expected notes computed by hand.

Unless a test says otherwise: 480 ticks per beat at the default 120 bpm, so 960 ticks = 1 s.
"""

from __future__ import annotations

from pathlib import Path

import mido
import pytest

from hearpreprocess.midi import (
    MidiError,
    Note,
    Pedal,
    apply_sustain,
    performance_notes,
    read_performance,
)

TPB = 480
S = 960  # ticks per second at 120 bpm


def on(tick, pitch, velocity=80, channel=0):
    return tick, mido.Message("note_on", note=pitch, velocity=velocity, channel=channel)


def off(tick, pitch, channel=0, zero_velocity_note_on=False):
    if zero_velocity_note_on:
        return tick, mido.Message("note_on", note=pitch, velocity=0, channel=channel)
    return tick, mido.Message("note_off", note=pitch, velocity=64, channel=channel)


def pedal(tick, value, channel=0, control=64):
    return tick, mido.Message("control_change", control=control, value=value, channel=channel)


def tempo(tick, us_per_beat):
    return tick, mido.MetaMessage("set_tempo", tempo=us_per_beat)


def write_midi(path: Path, *tracks, ticks_per_beat=TPB, midi_type=1) -> Path:
    """A MIDI file whose tracks are lists of (absolute tick, message), kept in the given order
    within a tick (the order a test means)."""
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track, now = mido.MidiTrack(), 0
        for tick, message in sorted(events, key=lambda e: e[0]):  # stable within a tick
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi.tracks.append(track)
    midi.save(str(path))
    return path


def played(path: Path) -> list[tuple]:
    """(pitch, start, end) of the notes as played, no pedal."""
    return [(n.pitch, n.start, n.end) for n in read_performance(path).notes]


def sounding(path: Path) -> list[tuple]:
    """(pitch, start, end) with the pedal applied, 88 keys only."""
    return [(n.pitch, n.start, n.end) for n in performance_notes(read_performance(path))]


def test_pairing_and_default_tempo(tmp_path):
    path = write_midi(
        tmp_path / "a.mid",
        [on(0, 60), on(480, 64), off(960, 60), off(1440, 64, zero_velocity_note_on=True)],
    )
    assert played(path) == [(60, 0.0, 1.0), (64, 0.5, 1.5)]
    performance = read_performance(path)
    assert [n.velocity for n in performance.notes] == [80, 80]
    assert performance.total_time == 1.5
    assert performance.end_time == 1.5


def test_tempo_map_with_changes_in_another_track(tmp_path):
    # 120 bpm for the first 2 beats (1 s), then 60 bpm (1 s per beat), then 240 bpm from beat 4.
    conductor = [tempo(0, 500000), tempo(960, 1000000), tempo(1920, 250000)]
    notes = [on(480, 60), off(1440, 60), on(1920, 62), off(2400, 62)]
    path = write_midi(tmp_path / "t.mid", conductor, notes)
    # 480 -> 0.5 s; 1440 -> 1 s + 480/480 * 1 s = 2 s; 1920 -> 3 s; 2400 -> 3 s + 1 * 0.25 s
    assert played(path) == [(60, 0.5, 2.0), (62, 3.0, 3.25)]
    # The same map, written in the notes' track (type 0 style), gives the same times.
    path = write_midi(tmp_path / "t0.mid", conductor + notes, midi_type=0)
    assert played(path) == [(60, 0.5, 2.0), (62, 3.0, 3.25)]


def test_later_tempo_at_same_tick_wins_and_other_resolution(tmp_path):
    conductor = [tempo(0, 500000), tempo(0, 1000000)]
    path = write_midi(tmp_path / "r.mid", conductor, [on(96, 60), off(192, 60)], ticks_per_beat=96)
    assert played(path) == [(60, 1.0, 2.0)]


def test_restrike_ends_the_sounding_note(tmp_path):
    path = write_midi(tmp_path / "s.mid", [on(0, 60, 50), on(480, 60, 90), off(960, 60)])
    notes = read_performance(path).notes
    assert [(n.pitch, n.start, n.end, n.velocity) for n in notes] == [
        (60, 0.0, 0.5, 50),
        (60, 0.5, 1.0, 90),
    ]


def test_restrike_written_note_on_before_the_old_note_off(tmp_path):
    # At tick 480 the new note-on comes first, then the old note's note-off.
    events = [on(0, 60), on(480, 60), off(480, 60), off(960, 60)]
    assert played(write_midi(tmp_path / "s.mid", events)) == [(60, 0.0, 0.5), (60, 0.5, 1.0)]
    # Written note-off first, the same two notes.
    events = [on(0, 60), off(480, 60), on(480, 60), off(960, 60)]
    assert played(write_midi(tmp_path / "t.mid", events)) == [(60, 0.0, 0.5), (60, 0.5, 1.0)]


def test_duplicate_note_on_stray_note_off_and_unterminated_note(tmp_path):
    events = [on(0, 60), on(0, 60, 100), off(480, 60), off(600, 61), on(960, 62)]
    events.append((1440, mido.Message("control_change", control=7, value=100)))
    path = write_midi(tmp_path / "d.mid", events)
    notes = read_performance(path).notes
    # One note for the doubled onset (the later velocity); the stray note-off of 61 is ignored;
    # 62 never released ends at the end of the file (1.5 s, the last message).
    assert [(n.pitch, n.start, n.end, n.velocity) for n in notes] == [
        (60, 0.0, 0.5, 100),
        (62, 1.0, 1.5, 80),
    ]


def test_channels_pair_separately(tmp_path):
    events = [on(0, 60, channel=0), on(240, 60, channel=1), off(480, 60, 0), off(960, 60, 1)]
    notes = read_performance(write_midi(tmp_path / "c.mid", events)).notes
    assert [(n.channel, n.start, n.end) for n in notes] == [(0, 0.0, 0.5), (1, 0.25, 1.0)]


def test_sustain_extends_notes_released_while_down(tmp_path):
    events = [
        on(0, 60), off(480, 60),  # released under the pedal (down 0.25 s -> up 1.5 s)
        on(720, 64), off(1200, 64),  # released under the pedal too
        on(1200, 67), off(1440, 67),  # released at the instant the pedal comes up: unchanged
        on(1680, 72), off(1920, 72),  # after the pedal: unchanged
        pedal(240, 100), pedal(1440, 0),
    ]  # fmt: skip
    path = write_midi(tmp_path / "p.mid", events)
    assert sounding(path) == [(60, 0.0, 1.5), (64, 0.75, 1.5), (67, 1.25, 1.5), (72, 1.75, 2.0)]
    # The total time is the latest release before the pedal is applied.
    assert read_performance(path).total_time == 2.0


def test_note_released_at_the_instant_the_pedal_goes_down_is_sustained(tmp_path):
    path = write_midi(tmp_path / "p.mid", [on(0, 60), off(480, 60), pedal(480, 127), pedal(960, 0)])
    assert sounding(path) == [(60, 0.0, 1.0)]


def test_restrike_under_the_pedal_ends_the_pedalled_note(tmp_path):
    events = [
        pedal(96, 100),
        on(0, 60), off(240, 60),  # held by the pedal until 60 is struck again at 1 s
        on(960, 60), off(1200, 60),  # held by the pedal until it comes up at 2 s
        on(480, 62), off(720, 62),  # another pitch: not ended by the re-strike of 60
        pedal(1920, 0),
    ]  # fmt: skip
    path = write_midi(tmp_path / "r.mid", events)
    assert sounding(path) == [(60, 0.0, 1.0), (62, 0.5, 2.0), (60, 1.0, 2.0)]


def test_overlapping_pedal_presses_and_thresholds(tmp_path):
    events = [
        # Press 1: 0.2 s (value 64 = down) .. 0.6 s (value 63 = up). Half-pedal values in between
        # keep it down and change nothing.
        pedal(192, 64), pedal(300, 90), pedal(400, 70), pedal(576, 63),
        # Press 2: 0.8 s .. 1.2 s.
        pedal(768, 127), pedal(1152, 0),
        on(0, 60), off(384, 60),  # released in press 1 -> ends at 0.6 s
        on(480, 62), off(672, 62),  # held across the release of press 1, freed between presses
        on(672, 64), off(864, 64),  # released in press 2 -> ends at 1.2 s
        on(528, 65), off(1056, 65),  # held through press 1's release, released in press 2
        pedal(300, 127, control=66), pedal(400, 127, control=67),  # sostenuto, soft: not applied
    ]  # fmt: skip
    path = write_midi(tmp_path / "o.mid", events)
    assert sounding(path) == [(60, 0.0, 0.6), (62, 0.5, 0.7), (65, 0.55, 1.2), (64, 0.7, 1.2)]


def test_pedal_of_another_channel_does_not_sustain(tmp_path):
    events = [pedal(0, 127, channel=1), on(0, 60), off(480, 60), pedal(960, 0, channel=1)]
    assert sounding(write_midi(tmp_path / "c.mid", events)) == [(60, 0.0, 0.5)]


def test_pedal_still_down_at_the_end_holds_until_the_last_event(tmp_path):
    events = [pedal(0, 127), on(0, 60), off(480, 60), on(480, 62), off(960, 62)]
    assert sounding(write_midi(tmp_path / "e.mid", events)) == [(60, 0.0, 1.0), (62, 0.5, 1.0)]


def test_zero_length_notes_dropped_unless_the_pedal_holds_them(tmp_path):
    events = [on(0, 60), off(0, 60), on(480, 62), off(480, 62), pedal(240, 127), pedal(960, 0)]
    path = write_midi(tmp_path / "z.mid", events)
    assert played(path) == [(60, 0.0, 0.0), (62, 0.5, 0.5)]
    assert sounding(path) == [(62, 0.5, 1.0)]


def test_pitch_filter_keeps_the_88_keys(tmp_path):
    events = [e for p in (20, 21, 60, 108, 109) for e in (on(0, p), off(480, p))]
    path = write_midi(tmp_path / "k.mid", events)
    assert [p for p, _, _ in sounding(path)] == [21, 60, 108]
    assert [n.pitch for n in performance_notes(read_performance(path), (60, 127))] == [60, 108, 109]


def test_apply_sustain_on_notes_directly():
    notes = [Note(60, 80, 0.0, 0.5), Note(60, 80, 1.0, 1.1), Note(61, 80, 0.2, 0.3, channel=1)]
    pedals = [Pedal(0.4, True), Pedal(2.0, False), Pedal(0.25, True, 1), Pedal(0.28, False, 1)]
    out = apply_sustain(notes, pedals)
    assert [(n.pitch, n.start, n.end, n.channel) for n in out] == [
        (60, 0.0, 1.0, 0),
        (61, 0.2, 0.3, 1),
        (60, 1.0, 2.0, 0),
    ]
    assert notes[0].end == 0.5  # the input is not changed


@pytest.mark.parametrize(
    "content, why",
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "does not parse"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90", "does not"),
        (b"", "does not parse"),
    ],
    ids=["not-midi", "truncated", "empty"],
)
def test_unreadable_file_is_a_midi_error_naming_it(tmp_path, content, why):
    path = tmp_path / "broken.midi"
    path.write_bytes(content)
    with pytest.raises(MidiError, match=rf"broken\.midi {why}"):
        read_performance(path)


def test_type_2_and_smpte_files_are_refused(tmp_path):
    path = write_midi(tmp_path / "two.mid", [on(0, 60), off(480, 60)], midi_type=2)
    with pytest.raises(MidiError, match=r"two\.mid is type 2"):
        read_performance(path)
    smpte = bytearray(write_midi(tmp_path / "x.mid", [on(0, 60), off(480, 60)]).read_bytes())
    smpte[12:14] = bytes([0xE7, 0x28])  # -25 frames per second, 40 ticks per frame
    (tmp_path / "smpte.mid").write_bytes(bytes(smpte))
    with pytest.raises(MidiError, match="SMPTE"):
        read_performance(tmp_path / "smpte.mid")
