"""Piano performances from Standard MIDI Files: notes in seconds, with the sustain pedal applied.

mido reads the file's bytes into messages; everything else is ours. The rules:

Timing: the tempo map is the union of the `set_tempo` events of every track (a type-0 or type-1
file; the standard puts them in the first track, and a player honours them wherever they are),
500000 us per beat until the first one. A tick becomes seconds by summing over the tempo
segments before it. Type-2 files (independent sequences) and SMPTE time division are refused.

Notes, per (channel, pitch), the tracks' messages merged in time order (file order within a
tick):
    * note-on with velocity > 0 starts a note. If that pitch is already sounding on the channel,
      the sounding note ends here first (a re-strike); if it began at this very tick it is a
      duplicate note-on and is discarded.
    * note-off, or note-on with velocity 0, ends the sounding note. Exception: when the sounding
      note began at this tick by re-striking, the note-off belongs to the note it ended (files
      often write the new note-on before the old note-off at one tick), so it is consumed and the
      new note goes on sounding.
    * a note-off with nothing sounding is ignored; a note still sounding at the end of the file
      ends at the file's last tick (end of track).

Sustain pedal (CC 64, value >= 64 down), per channel, as note_seq (Magenta, Onsets and Frames)
applies it: the notes' onsets and releases and the pedal's presses and releases are processed in
time order, and within one instant pedal-down, pedal-up, note-on, note-off. A note released while
the pedal is down keeps sounding until the pedal comes up or the same pitch is struck again; a
note still held by the pedal after the last event ends at the last event's time. The sostenuto
(CC 66) and soft (CC 67) pedals are not applied (note_seq does not apply them either). Notes that
last 0 s once the pedal is applied are dropped: they have no sound.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, replace
from pathlib import Path

import mido

DEFAULT_TEMPO = 500000  # us per beat (120 bpm), the MIDI default until a set_tempo
SUSTAIN_CONTROL = 64
PEDAL_DOWN_FROM = 64  # CC 64 values >= this mean "down"
PIANO_PITCHES = (21, 108)  # A0 .. C8, the 88 keys
# Event kinds of the sustain pass, in the order they apply within one instant (note_seq's).
_PEDAL_DOWN, _PEDAL_UP, _NOTE_ON, _NOTE_OFF = range(4)


class MidiError(ValueError):
    """A MIDI file cannot be read; the message names the file and says why (`why` alone)."""

    def __init__(self, path: str | Path, why: str):
        super().__init__(f"MIDI file {path} {why}")
        self.path, self.why = path, why


@dataclass(frozen=True)
class Note:
    """One note: MIDI pitch and velocity, channel, onset and release in seconds."""

    pitch: int
    velocity: int
    start: float
    end: float
    channel: int = 0


@dataclass(frozen=True)
class Pedal:
    """A sustain-pedal change: `down` from `time` (seconds) on, on one channel."""

    time: float
    down: bool
    channel: int = 0


@dataclass(frozen=True)
class Performance:
    """What a MIDI file holds: its notes as played (no pedal), its sustain-pedal changes, and its
    length (the time of its last message, end of track included), all in seconds."""

    notes: list[Note]
    pedals: list[Pedal]
    end_time: float

    @property
    def total_time(self) -> float:
        """The latest note release before the pedal is applied (note_seq's `total_time`)."""
        return max((n.end for n in self.notes), default=0.0)


class TempoMap:
    """Ticks -> seconds for a file's `set_tempo` changes [(tick, us per beat)]."""

    def __init__(self, ticks_per_beat: int, changes: list[tuple[int, int]]):
        self.ticks_per_beat = ticks_per_beat
        self.ticks, self.tempos, self.seconds = [0], [DEFAULT_TEMPO], [0.0]
        for tick, tempo in sorted(changes, key=lambda c: c[0]):  # stable: file order per tick
            elapsed = self._span(tick - self.ticks[-1], self.tempos[-1])
            if tick == self.ticks[-1]:  # a later change at the same tick wins
                self.tempos[-1] = tempo
                continue
            self.ticks.append(tick)
            self.tempos.append(tempo)
            self.seconds.append(self.seconds[-1] + elapsed)

    def _span(self, ticks: int, tempo: int) -> float:
        return ticks * tempo / 1e6 / self.ticks_per_beat

    def time(self, tick: int) -> float:
        """Seconds from the start of the file to `tick`."""
        i = bisect.bisect_right(self.ticks, tick) - 1
        return self.seconds[i] + self._span(tick - self.ticks[i], self.tempos[i])


def read_performance(path: str | Path) -> Performance:
    """Read a MIDI file into its notes (paired as the module docstring says) and pedal changes.

    Raises:
        MidiError: the file does not parse, is a type-2 file or uses SMPTE time division.
    """
    try:
        midi = mido.MidiFile(str(path), clip=False)
    except Exception as e:  # mido raises OSError, EOFError, ValueError, KeyError... on bad bytes
        raise MidiError(path, f"does not parse ({type(e).__name__}: {e})") from e
    if midi.type == 2:
        raise MidiError(path, "is type 2 (independent sequences); not supported")
    if midi.ticks_per_beat <= 0 or midi.ticks_per_beat & 0x8000:
        raise MidiError(path, "uses SMPTE time division; not supported")
    messages = []  # (tick, track, index, message), merged in time order below
    tempo_changes = []
    for track_no, track in enumerate(midi.tracks):
        tick = 0
        for index, message in enumerate(track):
            tick += message.time
            if message.type == "set_tempo":
                tempo_changes.append((tick, message.tempo))
            messages.append((tick, track_no, index, message))
    messages.sort(key=lambda m: m[:3])
    tempo = TempoMap(midi.ticks_per_beat, tempo_changes)
    last_tick = messages[-1][0] if messages else 0

    notes: list[tuple[int, int, int, int, int]] = []  # (start, end, pitch, velocity, channel)
    sounding: dict[tuple[int, int], list] = {}  # (channel, pitch) -> [start, velocity, restrike]
    pedals = []
    for tick, _, _, message in messages:
        kind = message.type
        if kind == "note_on" and message.velocity > 0:
            key = (message.channel, message.note)
            previous = sounding.get(key)
            if previous is not None and previous[0] < tick:
                notes.append((previous[0], tick, message.note, previous[1], message.channel))
            sounding[key] = [tick, message.velocity, previous is not None]
        elif kind in ("note_on", "note_off"):
            key = (message.channel, message.note)
            current = sounding.get(key)
            if current is None:
                continue
            if current[0] == tick and current[2]:
                current[2] = False  # the note-off of the note this re-strike ended
                continue
            notes.append((current[0], tick, message.note, current[1], message.channel))
            del sounding[key]
        elif kind == "control_change" and message.control == SUSTAIN_CONTROL:
            pedals.append(
                Pedal(tempo.time(tick), message.value >= PEDAL_DOWN_FROM, message.channel)
            )
    for (channel, pitch), (start, velocity, _) in sounding.items():
        notes.append((start, last_tick, pitch, velocity, channel))
    notes.sort()
    return Performance(
        notes=[Note(p, v, tempo.time(a), tempo.time(b), c) for a, b, p, v, c in notes],
        pedals=pedals,
        end_time=tempo.time(last_tick),
    )


def apply_sustain(notes: list[Note], pedals: list[Pedal]) -> list[Note]:
    """The notes as they sound with the sustain pedal (note_seq semantics, module docstring).

    Args:
        notes: notes as played, each with its own release.
        pedals: sustain-pedal changes, in file order.

    Returns:
        New notes sorted by (start, pitch, end), zero-length ones dropped.
    """
    events = [(p.time, _PEDAL_DOWN if p.down else _PEDAL_UP, i) for i, p in enumerate(pedals)]
    events += [(n.start, _NOTE_ON, i) for i, n in enumerate(notes)]
    events += [(n.end, _NOTE_OFF, i) for i, n in enumerate(notes)]
    events.sort(key=lambda e: e[:2])  # stable: file order within one instant and kind
    ends = [n.end for n in notes]
    active: dict[int, list[int]] = {}  # channel -> indices of sounding notes
    down: dict[int, bool] = {}
    time = 0.0
    for time, kind, i in events:
        if kind in (_PEDAL_DOWN, _PEDAL_UP):
            channel = pedals[i].channel
            down[channel] = kind == _PEDAL_DOWN
            if kind == _PEDAL_UP:  # notes released under the pedal stop now
                still = []
                for j in active.get(channel, []):
                    if ends[j] < time:
                        ends[j] = time
                    else:
                        still.append(j)
                active[channel] = still
            continue
        channel = notes[i].channel
        sounding = active.setdefault(channel, [])
        if kind == _NOTE_ON:
            if down.get(channel, False):  # a re-strike ends the pedalled note of that pitch
                for j in [j for j in sounding if notes[j].pitch == notes[i].pitch]:
                    ends[j] = time
                    sounding.remove(j)
            sounding.append(i)
        elif not down.get(channel, False) and i in sounding:
            sounding.remove(i)
    for channel_notes in active.values():  # still held by the pedal after the last event
        for j in channel_notes:
            ends[j] = max(ends[j], time)
    out = [replace(n, end=e) for n, e in zip(notes, ends) if e > n.start]
    return sorted(out, key=lambda n: (n.start, n.pitch, n.end))


def performance_notes(
    performance: Performance, pitch_range: tuple[int, int] = PIANO_PITCHES
) -> list[Note]:
    """The sounding notes of a performance: the sustain pedal applied, then the notes within
    `pitch_range` (inclusive; the 88 piano keys by default) kept."""
    low, high = pitch_range
    return [
        n for n in apply_sustain(performance.notes, performance.pedals) if low <= n.pitch <= high
    ]
