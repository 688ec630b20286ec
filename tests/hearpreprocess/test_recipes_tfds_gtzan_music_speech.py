"""tfds_gtzan_music_speech recipe (full mode) on its fake archive, and TFDS's path rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import unpack_fake

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.tfds_gtzan_music_speech import extract_metadata, label_of

TASK = "tfds_gtzan_music_speech"


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
    assert df["label"].value_counts().to_dict() == {"music": 10, "speech": 10}
    assert df["relpath"].map(lambda p: Path(p).is_file()).all()
    row = df[df["relpath"] == str(folder / "music_speech/speech_wav/comedy.wav")].iloc[0]
    assert row["label"] == "speech"
    assert (df["relpath"] == str(folder / "music_speech/music_wav/blues-rock.wav")).any()


@pytest.mark.parametrize(
    "relpath, label",
    [
        ("music_speech/music_wav/bagpipe.wav", "music"),
        ("music_speech/speech_wav/comedy.wav", "speech"),
        ("music_speech/speech_wav/a-b_c2.wav", "speech"),  # word characters and dashes
        ("music_speech/speech_wav/extra/x.wav", "speech"),  # <anything> may hold folders
        ("music_speech/speech_wav/x.wav.bak", "speech"),  # not anchored at the end
        # The folder's own `music_` prefix: TFDS calls any other file in it music.
        ("music_speech/other/x.wav", "music"),
        ("music_speech/x.wav", "music"),
        ("music_speech/speech_wav/a b.wav", None),  # a space is not allowed
        ("music_speech/speech_wav/a.b.wav", None),  # nor a dot
        ("music_speech/speech_wav/x.WAV", None),
        ("music_speech/speech_wav/x.mf", None),
        ("other/x.wav", None),
    ],
)
def test_tfds_path_rule(relpath, label):
    assert label_of(relpath) == label


def _touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")


def test_files_outside_the_rule_are_skipped(config, tmp_path):
    _touch(tmp_path, "music_speech/music_wav/a.wav", "music_speech/speech_wav/b.wav")
    _touch(tmp_path, "music_speech/speech_wav/c d.wav", "music_speech/speech_wav/e.mf")
    _touch(tmp_path, "speech_wav/outside.wav")  # outside music_speech/: not walked
    df = extract_metadata({"train": tmp_path}, config)
    assert list(df["label"]) == ["music", "speech"]
    assert [Path(p).name for p in df["relpath"]] == ["a.wav", "b.wav"]


def test_missing_folder_is_a_clear_error(config, tmp_path):
    _touch(tmp_path, "speech_wav/x.wav")
    with pytest.raises(
        FileNotFoundError, match=r"tfds_gtzan_music_speech.*music_speech is missing"
    ):
        extract_metadata({"train": tmp_path}, config)


def test_nothing_matching_is_a_clear_error(config, tmp_path):
    _touch(tmp_path, "music_speech/speech_wav/a b.wav")
    with pytest.raises(ValueError, match=r"tfds_gtzan_music_speech: no file .* matches"):
        extract_metadata({"train": tmp_path}, config)
