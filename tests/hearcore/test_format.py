"""The bundle format's names, spelled out literally: a change here breaks every reader."""

from hearcore import __version__
from hearcore.format import (
    SAMPLE_RATES,
    TAR_ROOT,
    TVT_SPLITS,
    audio_relpath,
    bundle_name,
    fold_name,
    fold_names,
    split_file,
    tarball_name,
)


def test_rates_splits_and_folds():
    assert SAMPLE_RATES == (16000, 22050, 32000, 44100, 48000)
    assert TVT_SPLITS == ("train", "valid", "test")
    assert fold_names(3) == ["fold00", "fold01", "fold02"] and fold_name(11) == "fold11"
    assert fold_names(0) == []


def test_file_and_folder_names():
    assert split_file("fold03") == "fold03.json"
    assert bundle_name("spoken_digit", "1.0.9", "small") == "spoken_digit-1.0.9-small"
    assert audio_relpath(16000, "test", "a.wav") == "16000/test/a.wav"
    assert (
        tarball_name("tones-1.0.0-full", 48000)
        == f"hear-{__version__}-tones-1.0.0-full-48000.tar.gz"
    )
    assert TAR_ROOT == f"hear-{__version__}/tasks"
