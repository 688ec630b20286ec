"""spoken_digit recipe (full mode) on its fake FSDD tarball, and its label and error rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import unpack_fake

from hearpreprocess.config import is_extra_task, load_task_config
from hearpreprocess.recipes.spoken_digit import RECORDINGS, extract_metadata, label_of

TASK = "spoken_digit"


@pytest.fixture(scope="module")
def config():
    return load_task_config(TASK, "full")


@pytest.fixture(scope="module")
def fake(config, tmp_path_factory):
    root = tmp_path_factory.mktemp("fake")
    corpus, folders = unpack_fake(root, config)
    return corpus, folders["train"], extract_metadata(folders, config)


def test_is_an_extra_task():
    assert is_extra_task(TASK)


def test_fake_rows(fake):
    corpus, folder, df = fake
    assert len(df) == sum(corpus.split_counts.values()) == 21
    assert set(df["split"]) == {"train"}
    # Strings here; the bundle writes them as numbers (corpus.labels are ints).
    assert set(df["label"]) == {str(d) for d in corpus.labels}
    assert df["relpath"].map(lambda p: Path(p).is_file()).all()
    row = df[df["relpath"] == str(folder / RECORDINGS / "9_george_12.wav")].iloc[0]
    assert row["label"] == "9"
    assert "unique_filestem" not in df.columns  # default stem: `9_george_12`


@pytest.mark.parametrize(
    "name, label", [("0_jackson_0.wav", "0"), ("7_theo_49.wav", "7"), ("5_yweweler_3.wav", "5")]
)
def test_label_is_the_first_token(config, name, label):
    assert label_of(Path(name), config) == label


@pytest.mark.parametrize("name", ["10_jackson_0.wav", "x_jackson_0.wav", "jackson.wav"])
def test_bad_name_is_a_clear_error(config, name):
    with pytest.raises(ValueError, match=rf"spoken_digit.*{name}.*digit"):
        label_of(Path(name), config)


def test_wavs_under_recordings_are_read_recursively(config, tmp_path):
    (tmp_path / RECORDINGS / "sub").mkdir(parents=True)
    for rel in ["1_theo_0.wav", "2_theo_0.wav", "sub/3_theo_0.wav", "notes.txt"]:
        (tmp_path / RECORDINGS / rel).write_bytes(b"")
    (tmp_path / RECORDINGS / ".." / "4_theo_0.wav").write_bytes(b"")  # outside: not read
    df = extract_metadata({"train": tmp_path}, config)
    assert list(df["label"]) == ["1", "2", "3"]


def test_missing_recordings_is_a_clear_error(config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"spoken_digit.*recordings is missing"):
        extract_metadata({"train": tmp_path}, config)


def test_no_wav_is_a_clear_error(config, tmp_path):
    (tmp_path / RECORDINGS).mkdir(parents=True)
    with pytest.raises(ValueError, match=r"spoken_digit: no \*\.wav under"):
        extract_metadata({"train": tmp_path}, config)
