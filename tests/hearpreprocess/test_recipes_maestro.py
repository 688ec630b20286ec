"""maestro recipe on its fake corpus (the small zip has no public copy; the full one is ~100 GB).

The expected notes of each fake performance come from the fake's own score with the pedal applied
by hand (fakes.maestro.sounding_notes), not from the parser under test.
"""

from __future__ import annotations

import shutil
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import mido
import numpy as np
import pandas as pd
import pytest
from fakes import extract_sources
from fakes import maestro as fake_maestro
from fakes import make_fake_corpus, mirror_location

from hearpreprocess.builtin.archives import wav_bytes
from hearpreprocess.config import load_task_config
from hearpreprocess.members import scan_and_extract
from hearpreprocess.recipes.maestro import extract_metadata
from hearpreprocess.sourceview import write_view_records

TASK = "maestro"
KEY = "train_test_valid"


@pytest.fixture(scope="module", params=["5h", "small"])
def fake(request, tmp_path_factory):
    """(config, extracted source folders, recipe rows) of the fake corpus of one mode."""
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus = make_fake_corpus(root / "mirror", config)
    config = load_task_config(TASK, request.param, corpus.overrides())
    sources = extract_sources(config, root / "mirror", root / "sources")
    return config, sources, extract_metadata(sources, config)


@pytest.fixture()
def copy_of(tmp_path):
    """A writable copy of a fake's source folder, and the path of its maestro-v3.0.0/."""

    def copy(sources):
        folder = tmp_path / "copy"
        shutil.copytree(sources[KEY], folder)
        return {KEY: folder}, folder / "maestro-v3.0.0"

    return copy


def _kept(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[rows["drop_reason"] == ""]


def test_rows_are_the_hand_computed_notes_in_ms(fake):
    config, sources, rows = fake
    present = fake_maestro.IN_SMALL if config.is_small else range(len(fake_maestro.PERFORMANCES))
    kept = _kept(rows)
    assert set(kept["split"]) == {"train"}  # the CSV split is discarded
    stems = kept["relpath"].map(lambda p: Path(p).stem)
    assert set(stems) == {fake_maestro.PERFORMANCES[k][1] for k in present}
    for k in present:
        year, stem = fake_maestro.PERFORMANCES[k][:2]
        mine = kept[stems == stem]
        assert set(mine["relpath"]) == {str(sources[KEY] / f"maestro-v3.0.0/{year}/{stem}.wav")}
        got = sorted(zip(mine["label"], mine["start"], mine["end"]), key=lambda e: (e[1], e[0]))
        expected = [(p, a * 1000, b * 1000) for p, a, b in fake_maestro.sounding_notes(k)]
        assert got == expected, stem
    assert all(type(label) is int for label in kept["label"])  # pitches stay ints
    # Pitches 20 and 109 (performance 0) are outside the 88 keys.
    assert not set(kept["label"]) & {20, 109}


def test_pedal_restrike_and_tempo_change_performances(fake):
    _, _, rows = fake
    kept = _kept(rows)
    stems = kept["relpath"].map(lambda p: Path(p).stem)
    first = kept[stems == fake_maestro.PERFORMANCES[0][1]]
    # 64 is released at 1.0 s under the pedal (down 0.875 s, up 1.375 s).
    assert first.loc[first["label"] == 64, ["start", "end"]].values.tolist() == [[500.0, 1375.0]]
    restruck = kept[stems == fake_maestro.PERFORMANCES[1][1]]
    assert sorted(restruck.loc[restruck["label"] == 62, "end"]) == [375.0, 625.0]


def test_small_mode_drops_rows_whose_midi_is_absent(fake):
    config, _, rows = fake
    dropped = rows[rows["drop_reason"] != ""]
    if not config.is_small:
        assert dropped.empty
        return
    absent = set(range(len(fake_maestro.PERFORMANCES))) - set(fake_maestro.IN_SMALL)
    stems = dropped["relpath"].map(lambda p: Path(p).stem)
    assert set(stems) == {fake_maestro.PERFORMANCES[k][1] for k in absent}
    assert set(dropped["drop_reason"]) == {"MIDI file missing (small mode)"}
    assert len(dropped) == len(absent)


def test_midi_that_does_not_parse(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    year, stem = fake_maestro.PERFORMANCES[0][:2]
    (root / f"{year}/{stem}.midi").write_bytes(b"RIFF, not MIDI")
    if not config.is_small:
        with pytest.raises(ValueError, match=rf"task maestro: MIDI file .*{stem}\.midi does not"):
            extract_metadata(copy, config)
        return
    rows = extract_metadata(copy, config)
    mine = rows[rows["relpath"].map(lambda p: Path(p).stem) == stem]
    assert len(mine) == 1
    assert mine["drop_reason"].iloc[0].startswith(f"MIDI file {year}/{stem}.midi does not parse (")


def test_midi_missing_in_5h_is_a_clear_error(fake, copy_of):
    config, sources, _ = fake
    if config.is_small:
        pytest.skip("small mode drops the row (test_small_mode_drops_rows_whose_midi_is_absent)")
    copy, root = copy_of(sources)
    year, stem = fake_maestro.PERFORMANCES[4][:2]
    (root / f"{year}/{stem}.midi").unlink()
    with pytest.raises(FileNotFoundError, match=rf"task maestro: MIDI file .*{stem}\.midi"):
        extract_metadata(copy, config)


def test_performance_without_piano_notes_is_a_clip_without_events(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    year, stem = fake_maestro.PERFORMANCES[0][:2]
    track = mido.MidiTrack([mido.Message("note_on", note=15, velocity=60, time=0)])
    track.append(mido.Message("note_off", note=15, time=2016))  # 2.625 s: the CSV duration
    mido.MidiFile(type=1, ticks_per_beat=384, tracks=[track]).save(
        str(root / f"{year}/{stem}.midi")
    )
    rows = extract_metadata(copy, config)
    mine = rows[rows["relpath"].map(lambda p: Path(p).stem) == stem]
    assert len(mine) == 1 and mine["label"].iloc[0] is None and np.isnan(mine["start"].iloc[0])


def test_csv_durations_off_the_midi_fail_the_check(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    table = pd.read_csv(root / "maestro-v3.0.0.csv")
    table["duration"] += 0.1
    table.to_csv(root / "maestro-v3.0.0.csv", index=False)
    with pytest.raises(ValueError, match=r"task maestro: .*CSV duration - MIDI total time\|.* is "
                       r"0\.1000 s, not below the threshold of 0\.05 s"):  # fmt: skip
        extract_metadata(copy, config)


def test_audio_durations_checked_in_5h_only(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    # One performance's audio 70 s long (8 kHz mono keeps it small): the mean over the files of
    # |audio - MIDI end| is (67.375 + 0.375 * (n - 1)) / n > 5 s for the fake's n <= 12.
    year, stem = fake_maestro.PERFORMANCES[0][:2]
    (root / f"{year}/{stem}.wav").write_bytes(wav_bytes(np.zeros(70 * 8000), 8000))
    if config.is_small:
        assert len(extract_metadata(copy, config))  # the audio checks do not run
        return
    with pytest.raises(ValueError, match=r"task maestro: .*\|audio duration - MIDI end\|.*"
                       r"threshold of 5 s \(furthest off: " + stem):  # fmt: skip
        extract_metadata(copy, config)


def test_audio_check_skips_missing_audio(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    year, stem = fake_maestro.PERFORMANCES[0][:2]
    (root / f"{year}/{stem}.wav").unlink()  # the pipeline reports it, not the recipe
    rows = extract_metadata(copy, config)
    assert stem in set(rows["relpath"].map(lambda p: Path(p).stem))


def test_csv_errors(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    csv = root / "maestro-v3.0.0.csv"
    table = pd.read_csv(csv)
    table.drop(columns="midi_filename").to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"task maestro: .*lacks the columns \['midi_filename'\]"):
        extract_metadata(copy, config)
    table.assign(duration="long").to_csv(csv, index=False)
    with pytest.raises(ValueError, match=r"task maestro: .*the duration of .* is not a number"):
        extract_metadata(copy, config)
    csv.unlink()
    with pytest.raises(FileNotFoundError, match=r"task maestro: .*maestro-v3\.0\.0\.csv is miss"):
        extract_metadata(copy, config)


def test_no_readable_midi_is_an_error(fake, copy_of):
    config, sources, _ = fake
    copy, root = copy_of(sources)
    for midi in root.rglob("*.midi"):
        midi.unlink()
    error = ValueError if config.is_small else FileNotFoundError
    with pytest.raises(error, match=r"task maestro: "):
        extract_metadata(copy, config)


def test_config_facts():
    five, small = load_task_config(TASK, "5h"), load_task_config(TASK, "small")
    assert (five.nfolds, five.sample_duration, five.max_task_duration_by_fold) == (5, 120.0, 4500.0)
    assert int(five.max_task_duration_by_fold / five.sample_duration) == 37
    assert (small.nfolds, small.sample_duration, small.max_task_duration_by_fold) == (4, 5.0, None)
    meta = five.task_metadata()
    assert meta["use_scoring_for_early_stopping"] is False
    assert meta["evaluation_params"] == {
        "event_postprocessing_grid": {"median_filter_ms": [150], "min_duration": [50]},
        "task_specific_param_grid": {"max_epochs": [50], "check_val_every_n_epoch": [1]},
    }
    assert meta["evaluation"] == ["event_onset_50ms_fms", "event_onset_offset_50ms_20perc_fms"]


def _partial_folder(archive: Path, folder: Path, patterns) -> Path:
    """The source folder the pipeline makes with `extract_first`: the matching members, the
    member list and the archive's location (the audio stays in the zip)."""
    names = scan_and_extract(archive, folder, lambda n: any(fnmatch(n, p) for p in patterns))
    write_view_records(folder, archive, names)
    return folder


@pytest.mark.parametrize("mode", ["5h", "small"])
def test_audio_left_in_the_zip_is_checked_in_place(tmp_path, mode):
    """With extract_first (CSV and MIDI only), the recipe reads the WAV headers from the zip
    members: the same rows, and a wrong audio duration still fails the 5h check."""
    config = load_task_config(TASK, mode)
    corpus = make_fake_corpus(tmp_path / "mirror", config)
    config = load_task_config(TASK, mode, corpus.overrides())
    [source] = config.sources
    archive = mirror_location(tmp_path / "mirror", source.url)
    full = extract_sources(config, tmp_path / "mirror", tmp_path / "full")
    folder = _partial_folder(archive, tmp_path / "partial", source.extract_first)
    assert not list(folder.rglob("*.wav")) and list(folder.rglob("*.midi"))
    rows = extract_metadata({KEY: folder}, config)
    expected = extract_metadata(full, config)
    relative = [rows, expected]
    for frame, root in zip(relative, (folder, full[KEY])):
        frame["relpath"] = frame["relpath"].map(lambda p, r=root: str(Path(p).relative_to(r)))
    pd.testing.assert_frame_equal(rows, expected)
    if config.is_small:
        return
    year, stem = fake_maestro.PERFORMANCES[0][:2]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(f"{year}/{stem}.wav"):
                data = wav_bytes(np.zeros(70 * 8000), 8000)
            out.writestr(info, data)
    folder = _partial_folder(bad, tmp_path / "partial-bad", source.extract_first)
    with pytest.raises(ValueError, match=r"\|audio duration - MIDI end\|.*furthest off: " + stem):
        extract_metadata({KEY: folder}, config)
