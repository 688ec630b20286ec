"""speech_commands recipe on its fake corpus (full and small) and on the real small archives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from fakes import make_fake_corpus, mirror_location
from shared_corpora import SHARED

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.speech_commands import extract_metadata

TASK = "speech_commands"
CORPORA = SHARED / "corpora"
LABELS_12 = {"down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes"} | {
    "_silence_",
    "_unknown_",
}


def _extract(archives: dict[str, Path], dest: Path) -> dict[str, Path]:
    sources = {}
    for key, archive in archives.items():
        shutil.unpack_archive(archive, dest / key)
        sources[key] = dest / key
    return sources


def _existing(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["relpath"].map(lambda p: Path(p).is_file())]


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus = make_fake_corpus(root / "mirror", config)
    archives = {s.key: mirror_location(root / "mirror", s.url) for s in config.sources}
    df = extract_metadata(_extract(archives, root / "x"), config)
    return config, corpus, df


def test_fake_counts_and_labels_match_declaration(fake):
    config, corpus, df = fake
    kept = _existing(df)
    # No mode cap binds on the fake, so the recipe's rows are the final clips.
    assert kept["split"].value_counts().to_dict() == corpus.split_counts
    assert set(kept["label"]) == corpus.labels
    assert kept["unique_filestem"].is_unique
    if config.is_small:
        # The small lists keep entries whose files are absent, as the real small zips do.
        assert len(df) == len(kept) + 1
    else:
        assert len(df) == len(kept)


def test_fake_silence_windows(fake):
    _, _, df = fake
    silence = df[df["source_start"].notna()].set_index("unique_filestem")
    expected = {
        "_silence__running_tap-0": "valid",
        "_silence__running_tap-8000": "valid",
        "_silence__running_tap-16000": "valid",
        "_silence__white_noise-0": "train",
        "_silence__white_noise-8000": "train",
    }
    assert silence["split"].to_dict() == expected
    assert (silence["source_stop"] - silence["source_start"] == 16000).all()
    assert (silence["label"] == "_silence_").all()
    assert silence["relpath"].map(lambda p: Path(p).parent.name).eq("_background_noise_").all()


def test_fake_lists_decide_splits_and_stems(fake):
    config, _, df = fake
    by_stem = df.set_index("unique_filestem")
    assert by_stem.loc["yes_1b4c9b89_nohash_0", "split"] == "valid"
    assert by_stem.loc["bed_65c73b55_nohash_0", ["split", "label"]].tolist() == [
        "valid",
        "_unknown_",
    ]
    assert by_stem.loc["marvin_7c83c5f6_nohash_0", ["split", "label"]].tolist() == [
        "train",
        "_unknown_",
    ]
    # Files of testing_list.txt leave train; the test split comes from the test archive only.
    assert "no_40b60ae9_nohash_0" not in by_stem.index
    assert "yes_2cec1d47_nohash_1" not in by_stem.index
    assert by_stem.loc["yes_0a7c2a8d_nohash_0", "split_key"] == "yes_0a7c2a8d"
    unknown = "_unknown__wow_c22d3f18_nohash_0" + (".wav" if config.is_small else "")
    assert by_stem.loc[unknown, ["split", "label"]].tolist() == ["test", "_unknown_"]
    assert by_stem.loc["_silence__1816", ["split", "label"]].tolist() == ["test", "_silence_"]


def test_missing_list_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    (tmp_path / "train" / "yes").mkdir(parents=True)
    (tmp_path / "test").mkdir()
    (tmp_path / "train" / "testing_list.txt").write_text("")
    with pytest.raises(FileNotFoundError, match=r"speech_commands.*validation_list\.txt"):
        extract_metadata({"train": tmp_path / "train", "test": tmp_path / "test"}, config)


def test_list_that_does_not_parse_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    (tmp_path / "train").mkdir()
    (tmp_path / "test").mkdir()
    (tmp_path / "train" / "validation_list.txt").write_text("yes/a.wav\n")
    (tmp_path / "train" / "testing_list.txt").write_text("<html>oops</html>\n")
    with pytest.raises(ValueError, match=r"speech_commands.*testing_list\.txt.*does not parse"):
        extract_metadata({"train": tmp_path / "train", "test": tmp_path / "test"}, config)


@pytest.fixture(scope="module")
def real_small(tmp_path_factory):
    config = load_task_config(TASK, "small")
    archives = {s.key: mirror_location(CORPORA, s.url) for s in config.sources}
    missing = [str(p) for p in archives.values() if not p.is_file()]
    if missing:
        pytest.skip(f"real small corpora missing: {', '.join(missing)} (needs ../shared/corpora)")
    df = extract_metadata(_extract(archives, tmp_path_factory.mktemp("real")), config)
    return df, _existing(df)


def test_real_small_counts_labels_and_stems(real_small):
    df, kept = real_small
    # validation_list.txt is whole (9,981 lines) in the small zip; its 11 present files are kept.
    assert (df["split"] == "valid").sum() == 9981 + 121
    assert kept["split"].value_counts().to_dict() == {"train": 56, "valid": 11 + 121, "test": 96}
    assert set(kept["label"]) == LABELS_12
    assert kept["unique_filestem"].is_unique
    assert "_unknown__seven_fb7eb481_nohash_1.wav" in set(kept["unique_filestem"])


def test_real_small_silence_windows_of_running_tap(real_small):
    _, kept = real_small
    silence = kept[kept["source_start"].notna()]
    # running_tap.wav: 978,488 frames -> starts 0, 8000, ..., 960000 (1 s windows, 0.5 s apart).
    assert sorted(silence["source_start"].astype(int)) == list(range(0, 960001, 8000))
    assert (silence["split"] == "valid").all()
    assert (silence["source_stop"] - silence["source_start"] == 16000).all()
    assert "_silence__running_tap-960000" in set(silence["unique_filestem"])
