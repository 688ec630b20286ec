"""gunshot_triangulation recipe: onset rule, shot cutting on fake raw files, pre-cut clips (fake
and real small zip)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
from fakes import make_fake_corpus, mirror_location
from fakes.gunshot_triangulation import SMALL_CLIPS, planted_onset_48k
from shared_corpora import CORPORA

from hearcore.archive import extract_archive
from hearpreprocess import splits
from hearpreprocess.config import load_task_config, read_card
from hearpreprocess.recipes import extract_metadata
from hearpreprocess.recipes import gunshot_triangulation as recipe
from hearpreprocess.recipes.gunshot_triangulation import (
    CLIP,
    LEAD,
    OFFSETS,
    PRE_ROLL,
    clip_frames,
    find_onsets,
    firearm,
)

TASK = "gunshot_triangulation"


def loop_onsets(signal, threshold=0.8, hold=25000, cap=22) -> list[int]:
    """The corpus authors' per-sample onset loop (create_data.m, as HEAR 2021 ran it), as it is."""
    in_shot, onsets = False, []
    for i, x in enumerate(signal):
        if not in_shot and abs(x) >= threshold and len(onsets) < cap:
            onsets.append(i)
            in_shot = True
        if in_shot and i - onsets[-1] > hold:
            in_shot = False
    return onsets


def _blocks(x: np.ndarray, sizes: list[int]):
    first = 0
    for size in sizes:
        yield first, x[first : first + size]
        first += size
    if first < len(x):
        yield first, x[first:]


def _layout(config, mirror: Path, dest: Path) -> dict[str, Path]:
    """The folders the pipeline gives the recipe: a file source as is, an archive extracted."""
    folders = {}
    for source in config.sources:
        folder = dest / source.key
        folder.mkdir(parents=True)
        if source.kind == "file":
            shutil.copyfile(mirror_location(mirror, source.url), folder / source.filename)
        else:
            extract_archive(mirror_location(mirror, source.url), folder)
        folders[source.key] = folder
    return folders


def _fold_counts(df: pd.DataFrame, config) -> dict[str, int]:
    rows, _ = splits.prepare_metadata(df, config.is_small)
    split = splits.create_splits(rows, config)
    return split["split"].value_counts().sort_index().to_dict()


# --- the onset rule ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_find_onsets_matches_the_loop_on_random_signals(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6000))
    x = rng.uniform(-0.79, 0.79, n).astype(np.float32)
    hits = rng.random(n) < rng.choice([0.002, 0.03, 0.3])
    x[hits] = rng.choice([0.8, -0.8, 0.95, -1.0], hits.sum())
    hold, cap = int(rng.choice([0, 1, 5, 40, 300])), int(rng.choice([1, 3, 22, 10_000]))
    expected = loop_onsets(x, hold=hold, cap=cap)
    assert find_onsets([(0, x)], hold=hold, cap=cap) == expected
    cuts = list(rng.integers(0, 700, 12))
    assert find_onsets(_blocks(x, cuts), hold=hold, cap=cap) == expected
    start = int(rng.integers(0, n))
    tail = [start + i for i in loop_onsets(x[start:], hold=hold, cap=cap)]
    assert find_onsets(_blocks(x, cuts), start=start, hold=hold, cap=cap) == tail


def test_find_onsets_rearms_two_samples_after_the_hold():
    x = np.zeros(200_000, dtype=np.float32)
    x[[1000, 1000 + 25_001, 1000 + 25_002, 60_000, 90_000]] = [0.8, 1.0, -0.9, 0.85, -0.8]
    assert loop_onsets(x) == [1000, 1000 + 25_002, 60_000, 90_000]
    assert find_onsets(_blocks(x, [26_001])) == loop_onsets(x)
    assert find_onsets([(0, x)], cap=2) == [1000, 1000 + 25_002]


def test_firearm_ids_and_clip_frames():
    assert [firearm(j) for j in range(22)] == [1] * 4 + [f for f in range(2, 8) for _ in range(3)]
    assert clip_frames(1_000_003, 48_000) == (1_000_003, 1_000_003 + CLIP)
    assert clip_frames(1_000_003, 8_000) == (166_667, 166_667 + 12_000)
    assert clip_frames(48_001, 44_100) == (44_101, 44_101 + 66_150)


def test_streamed_resampling_equals_resampling_whole(tmp_path, monkeypatch):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 30_011).astype(np.float32)
    sf.write(tmp_path / "a.wav", np.stack([x, -0.5 * x], axis=1), 8000, subtype="FLOAT")
    monkeypatch.setattr(recipe, "BLOCK", 4096)
    config = load_task_config(TASK, "full")
    blocks = list(recipe._blocks_48k(tmp_path / "a.wav", 0, config))
    assert [first for first, _ in blocks][:3] == [
        0,
        len(blocks[0][1]),
        sum(len(b) for _, b in blocks[:2]),
    ]
    whole = soxr.resample((x + -0.5 * x) / 2, 8000, 48_000, quality="HQ")
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), whole)


# --- full mode on the fake raw recordings ----------------------------------------------------


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    config = load_task_config(TASK, "full")
    root = tmp_path_factory.mktemp("fake-full")
    corpus = make_fake_corpus(root / "mirror", config)
    folders = _layout(config, root / "mirror", root / "x")
    return config, corpus, folders, extract_metadata(folders, config)


def test_full_rows_point_at_the_raw_files(full):
    config, corpus, folders, df = full
    assert len(df) == 88 and df["unique_filestem"].is_unique
    assert set(df["label"]) == corpus.labels and set(df["split"]) == {"train"}
    assert df.groupby("split_key").size().to_dict() == {
        "fid1": 16,
        **{f"fid{f}": 12 for f in range(2, 8)},
    }
    for mic, key in recipe.MIC_KEYS.items():
        rows = df[df["label"] == f"mic{mic}"]
        assert len(rows) == 22
        assert set(rows["relpath"]) == {str(folders[key] / f"{key}.wav")}
        assert Path(rows["relpath"].iloc[0]).is_absolute()
        assert (rows["source_stop"] - rows["source_start"]).eq(12_000).all()  # 1.5 s at 8 kHz
    row = df[df["unique_filestem"] == "mic3_shot9_fid3"].iloc[0]
    assert (row["label"], row["split_key"]) == ("mic3", "fid3")


def test_full_clips_start_an_eighth_of_a_second_before_each_mic1_onset(full):
    config, corpus, folders, df = full
    mic1 = df[df["label"] == "mic1"].reset_index(drop=True)
    # The burst before the aligned start, the second peak inside shot 3's hold window and the 23rd
    # shot are all skipped: clip j follows planted shot j. (Resampling moves onsets a few samples.)
    for shot, row in mic1.iterrows():
        onset_48k = row["source_start"] * 6 + PRE_ROLL
        assert abs(onset_48k - planted_onset_48k(1, shot)) <= 12, shot
    # Every mic is cut at the same aligned position: its own offset plus mic1's onset.
    for mic in (2, 3, 4):
        rows = df[df["label"] == f"mic{mic}"].reset_index(drop=True)
        shift = (OFFSETS[mic] - OFFSETS[1]) / 6
        assert (rows["source_start"] - mic1["source_start"] - shift).abs().le(1).all()


def test_full_folds_match_the_card(full):
    config, corpus, _, df = full
    counts = _fold_counts(df, config)
    assert counts == corpus.split_counts == read_card(TASK)["full_clips"]


def _write_48k(folders: dict[str, Path], mic1: np.ndarray, frames: int, subtype="PCM_16"):
    for mic, key in recipe.MIC_KEYS.items():
        x = mic1 if mic == 1 else np.zeros((frames, 1), dtype=np.float32)
        folders[key].mkdir(parents=True, exist_ok=True)
        sf.write(folders[key] / f"{key}.wav", x, 48_000, subtype=subtype)


SMALL_OFFSETS = {1: 60_000, 2: 58_000, 3: 56_000, 4: 54_000}


@pytest.fixture
def small_offsets(monkeypatch):
    monkeypatch.setattr(recipe, "OFFSETS", SMALL_OFFSETS)


def _stereo_shots(n_frames: int, onsets: list[int]) -> np.ndarray:
    x = np.zeros((n_frames, 2), dtype=np.float32)
    for at in onsets:
        x[at] = [0.85, 0.8]
    return x


def test_full_at_48k_native_cuts_exact_frames_on_the_channel_mean(tmp_path, small_offsets):
    config = load_task_config(TASK, "full")
    folders = {key: tmp_path / key for key in recipe.MIC_KEYS.values()}
    aligned = SMALL_OFFSETS[1] - LEAD
    onsets = [10_000 + 30_000 * j for j in range(22)]
    x = _stereo_shots(aligned + 760_000, [aligned + o for o in onsets])
    x[aligned + 5_000] = [1.0, 0.5]  # mean 0.75: below the threshold, though one channel is 1.0
    x[aligned - 3_000] = [1.0, 1.0]  # before the aligned start
    _write_48k(folders, x, 760_000)
    df = extract_metadata(folders, config)
    for mic in range(1, 5):
        starts = df.loc[df["label"] == f"mic{mic}", "source_start"].to_list()
        assert starts == [SMALL_OFFSETS[mic] - LEAD + o - PRE_ROLL for o in onsets]
    assert (df["source_stop"] - df["source_start"]).eq(CLIP).all()


def test_fewer_than_22_onsets_is_a_clear_error(tmp_path, small_offsets):
    config = load_task_config(TASK, "full")
    folders = {key: tmp_path / key for key in recipe.MIC_KEYS.values()}
    aligned = SMALL_OFFSETS[1] - LEAD
    _write_48k(
        folders,
        _stereo_shots(aligned + 760_000, [aligned + 10_000 + 30_000 * j for j in range(21)]),
        760_000,
    )
    with pytest.raises(ValueError, match=r"gunshot_triangulation: found 21 of 22 .*mic1raw\.wav"):
        extract_metadata(folders, config)


def test_a_clip_past_the_end_is_a_clear_error(tmp_path, small_offsets):
    config = load_task_config(TASK, "full")
    folders = {key: tmp_path / key for key in recipe.MIC_KEYS.values()}
    aligned = SMALL_OFFSETS[1] - LEAD
    onsets = [aligned + 10_000 + 30_000 * j for j in range(22)]
    _write_48k(folders, _stereo_shots(aligned + 760_000, onsets), 700_000)
    with pytest.raises(
        ValueError, match=r"gunshot_triangulation: shot 21 of mic2 .*mic2raw16b\.wav"
    ):
        extract_metadata(folders, config)


def test_an_onset_too_close_to_the_aligned_start_is_a_clear_error(tmp_path, small_offsets):
    config = load_task_config(TASK, "full")
    folders = {key: tmp_path / key for key in recipe.MIC_KEYS.values()}
    aligned = SMALL_OFFSETS[1] - LEAD
    onsets = [aligned + 5_999 + 30_000 * j for j in range(22)]
    _write_48k(folders, _stereo_shots(aligned + 760_000, onsets), 760_000)
    with pytest.raises(ValueError, match=r"gunshot_triangulation: the first shot onset .* 5999"):
        extract_metadata(folders, config)


def test_missing_or_unreadable_raw_files_are_clear_errors(tmp_path):
    config = load_task_config(TASK, "full")
    folders = {key: tmp_path / key for key in recipe.MIC_KEYS.values()}
    for folder in folders.values():
        folder.mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"gunshot_triangulation: .*mic1raw\.wav is missing"
    ):
        extract_metadata(folders, config)
    for key, folder in folders.items():
        (folder / f"{key}.wav").write_bytes(b"not a wav")
    with pytest.raises(ValueError, match=r"gunshot_triangulation: cannot read .*mic1raw\.wav"):
        extract_metadata(folders, config)
    with pytest.raises(ValueError, match=r"gunshot_triangulation: no source 'mic3raw'"):
        extract_metadata({k: v for k, v in folders.items() if k != "mic3raw"}, config)


# --- small mode: pre-cut clips ---------------------------------------------------------------


def test_small_fake_labels_and_folds(tmp_path):
    config = load_task_config(TASK, "small")
    corpus = make_fake_corpus(tmp_path / "mirror", config)
    df = extract_metadata(_layout(config, tmp_path / "mirror", tmp_path / "x"), config)
    assert len(df) == len(SMALL_CLIPS) and set(df["split"]) == {"train"}
    assert set(df["label"]) == corpus.labels
    row = df[df["unique_filestem"] == "mic2_shot9_fid3"].iloc[0]
    assert (row["label"], row["split_key"]) == ("mic2", "fid3")
    assert Path(row["relpath"]).is_file()
    assert _fold_counts(df, config) == corpus.split_counts


@pytest.mark.parametrize("name", ["mic5_shot0_fid1.wav", "mic1_shot0_fid8.wav", "shot.wav"])
def test_small_bad_names_are_clear_errors(tmp_path, name):
    config = load_task_config(TASK, "small")
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match=rf"gunshot_triangulation: .*{name}"):
        extract_metadata({"train": tmp_path}, config)


def test_small_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gunshot_triangulation: no \*\.wav"):
        extract_metadata({"train": tmp_path}, load_task_config(TASK, "small"))


def test_real_small_zip(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(_layout(config, CORPORA, tmp_path), config)
    assert len(df) == 40
    assert df["label"].value_counts().to_dict() == {"mic1": 11, "mic2": 11, "mic3": 10, "mic4": 8}
    assert sorted(set(df["split_key"])) == [f"fid{f}" for f in range(1, 8)]
    assert _fold_counts(df, config) == read_card(TASK)["small_clips"]
    # Every clip's firearm follows from its shot index, and every mic1 clip crosses the onset
    # threshold first at sample 6000: the 0.125 s lead of the cutting rule.
    for stem, path in zip(df["unique_filestem"], df["relpath"]):
        shot = int(stem.split("_")[1].removeprefix("shot"))
        assert stem.endswith(f"_fid{firearm(shot)}")
        if stem.startswith("mic1_"):
            x, sr = sf.read(path, dtype="float32")
            assert (sr, len(x)) == (48_000, CLIP)
            assert np.flatnonzero(np.abs(x) >= 0.8)[0] == PRE_ROLL, stem
