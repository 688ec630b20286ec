"""tfds_export recipe (small mode of the four TFDS-backed tasks): fakes, real zips, error paths."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import extract_sources, mirror_location, unpack_fake
from shared_corpora import CORPORA

from hearpreprocess import splits
from hearpreprocess.config import load_task_config, read_card
from hearpreprocess.recipes.tfds_export import extract_metadata

TASKS = ["tfds_gtzan", "tfds_gtzan_music_speech", "spoken_digit", "tfds_crema_d"]
# task -> (rows of the labels CSVs, clips in the zips, label vocabulary of the CSVs)
REAL = {
    "tfds_gtzan": (1000, 20, 10),
    "tfds_gtzan_music_speech": (128, 20, 2),
    "spoken_digit": (2500, 100, 10),
    "tfds_crema_d": (5144 + 1556 + 738, 60, 6),
}


def _build_rows(config, folders) -> pd.DataFrame:
    """What the pipeline's metadata steps make of the recipe's rows (no audio)."""
    rows = extract_metadata(folders, config, **config.recipe_params)
    rows, _ = splits.prepare_metadata(rows, config.is_small)
    rows, _ = splits.subsample(splits.create_splits(rows, config), config)
    return rows


@pytest.fixture(scope="module", params=TASKS)
def fake(request, tmp_path_factory):
    config = load_task_config(request.param, "small")
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus, folders = unpack_fake(root, config)
    return config, corpus, folders


def test_small_modes_use_this_recipe():
    for task in TASKS:
        config = load_task_config(task, "small")
        assert config.recipe == "tfds_export"
        assert [s.key for s in config.sources] == [s.split for s in config.sources]


def test_fake_rows(fake):
    config, corpus, folders = fake
    df = extract_metadata(folders, config, **config.recipe_params)
    assert list(df.columns) == ["relpath", "label", "split", "unique_filestem"]
    assert set(df["split"]) == set(folders)
    for key, folder in folders.items():
        part = df[df["split"] == key]
        listed = pd.read_csv(folder / f"{key}_labels.csv", dtype=str)
        assert list(part["relpath"]) == [str(folder / "audio" / n) for n in listed["filename"]]
        assert list(part["label"]) == list(listed["label"])
    assert all(Path(p).is_absolute() for p in df["relpath"])
    assert (df["unique_filestem"] == df["relpath"].map(lambda p: Path(p).stem)).all()
    assert df["label"].map(type).eq(str).all()  # digits stay strings until the bundle
    present = df[df["relpath"].map(lambda p: Path(p).is_file())]
    assert 0 < len(present) < len(df)  # the CSVs list absent clips, as the real ones do
    assert {int(x) if x.isdigit() else x for x in present["label"]} == corpus.labels


def test_fake_folds_match_the_declared_spot_checks(fake):
    config, corpus, folders = fake
    rows = _build_rows(config, folders)
    assert rows["split"].value_counts().to_dict() == corpus.split_counts
    for spot in corpus.spot_checks:
        row = rows[rows["unique_filestem"] == spot.stem].iloc[0]
        assert row["split"] == spot.split
        assert str(row["label"]) == str(spot.labels[0])


def _write(folder: Path, split: str, text: str) -> dict[str, Path]:
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    (folder / f"{split}_labels.csv").write_text(text)
    return {split: folder}


def test_missing_csv_is_a_clear_error(tmp_path):
    config = load_task_config("tfds_gtzan", "small")
    (tmp_path / "audio").mkdir()
    with pytest.raises(FileNotFoundError, match=r"tfds_gtzan.*train_labels\.csv is missing"):
        extract_metadata({"train": tmp_path}, config)


@pytest.mark.parametrize(
    "text, why",
    [
        ("name,label\na.wav,pop\n", "lacks the columns"),
        ("filename,label\na.wav,\n", "row 2"),
        ("filename,label\na.wav,pop\nb.mp3,pop\n", "row 3"),
        ("filename,label\naudio/a.wav,pop\n", "row 2"),
        ("filename,label\na.wav,pop\na.wav,rock\n", "more than once"),
        ("filename,label\na.wav,polka\n", r"labels \['polka'\] outside"),
    ],
)
def test_bad_csv_is_a_clear_error(tmp_path, text, why):
    config = load_task_config("tfds_gtzan", "small")
    folders = _write(tmp_path, "train", text)
    with pytest.raises(ValueError, match=rf"tfds_gtzan.*train_labels\.csv.*{why}"):
        extract_metadata(folders, config, **config.recipe_params)


def test_labels_are_only_checked_when_given(tmp_path):
    config = load_task_config("tfds_gtzan", "small")
    df = extract_metadata(_write(tmp_path, "train", "filename,label\na.wav,polka\n"), config)
    assert list(df["label"]) == ["polka"]


def test_source_key_must_be_a_split(tmp_path):
    config = load_task_config("tfds_gtzan", "small")
    with pytest.raises(ValueError, match=r"tfds_gtzan.*'train/x' is not a split"):
        extract_metadata({"train/x": tmp_path}, config)


@pytest.mark.parametrize("task", TASKS)
def test_real_small_zips(task, tmp_path):
    config = load_task_config(task, "small")
    archives = [mirror_location(CORPORA, s.url) for s in config.sources]
    absent = [a for a in archives if not a.is_file()]
    if absent:
        pytest.skip(f"real small corpus missing: {absent[0]} (needs ../shared/corpora)")
    folders = extract_sources(config, CORPORA, tmp_path)
    df = extract_metadata(folders, config, **config.recipe_params)
    n_rows, n_clips, n_labels = REAL[task]
    assert (len(df), df["label"].nunique()) == (n_rows, n_labels)
    assert df["relpath"].map(lambda p: Path(p).is_file()).sum() == n_clips
    rows = _build_rows(config, folders)
    counts = rows["split"].value_counts().sort_index().to_dict()
    assert counts == read_card(task)["small_clips"]


def test_real_spoken_digit_labels_and_stems(tmp_path):
    config = load_task_config("spoken_digit", "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(
        extract_sources(config, CORPORA, tmp_path), config, **config.recipe_params
    )
    row = df[df["unique_filestem"] == "tfds_id_spoken-digit-train-tfrecord-00000-of-00001-0"]
    assert (row["label"].iloc[0], row["split"].iloc[0]) == ("2", "train")
    assert df["label"].value_counts().eq(250).all()
