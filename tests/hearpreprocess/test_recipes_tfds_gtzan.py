"""tfds_gtzan recipe (full mode) on its fake genres.tar.gz, and its label and error rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import unpack_fake

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.tfds_gtzan import GENRES, extract_metadata, label_of

TASK = "tfds_gtzan"


@pytest.fixture(scope="module")
def config():
    return load_task_config(TASK, "full")


@pytest.fixture(scope="module")
def fake(config, tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    corpus, folders = unpack_fake(root, config)
    return corpus, folders["train"], extract_metadata(folders, config)


def test_fake_rows(fake):
    corpus, folder, df = fake
    assert len(df) == sum(corpus.split_counts.values()) == 20
    assert set(df["split"]) == {"train"}
    assert set(df["label"]) == corpus.labels
    assert df["relpath"].map(lambda p: Path(p).is_file()).all()
    assert not df["relpath"].str.endswith(".mf").any()  # only *.wav
    row = df[df["relpath"] == str(folder / "genres/reggae/reggae.00003.wav")].iloc[0]
    assert row["label"] == "reggae"
    # No unique_filestem: the default stem is the file stem, `reggae.00003`.
    assert "unique_filestem" not in df.columns
    assert df["relpath"].is_monotonic_increasing


def test_genres_are_tfds_class_order():
    assert GENRES[0] == "blues" and GENRES[-1] == "rock" and len(GENRES) == 10


@pytest.mark.parametrize(
    "name, label",
    [("blues.00000.wav", "blues"), ("hiphop.00099.wav", "hiphop"), ("rock.wav", "rock")],
)
def test_label_is_the_prefix_before_the_first_dot(config, name, label):
    assert label_of(Path("genres/x") / name, config) == label


def test_unknown_genre_is_a_clear_error(config):
    with pytest.raises(ValueError, match=r"tfds_gtzan.*polka\.00001\.wav.*genre"):
        label_of(Path("genres/polka/polka.00001.wav"), config)


def test_walks_genres_recursively(config, tmp_path):
    for rel in ["genres/jazz/jazz.00001.wav", "genres/x/y/metal.00002.wav", "genres/pop.mf"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    df = extract_metadata({"train": tmp_path}, config)
    assert list(df["label"]) == ["jazz", "metal"]


def test_missing_genres_folder_is_a_clear_error(config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tfds_gtzan.*genres is missing"):
        extract_metadata({"train": tmp_path}, config)


def test_no_wav_is_a_clear_error(config, tmp_path):
    (tmp_path / "genres" / "blues").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"tfds_gtzan: no \*\.wav under"):
        extract_metadata({"train": tmp_path}, config)
