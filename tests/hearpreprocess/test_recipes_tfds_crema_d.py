"""tfds_crema_d recipe (full mode) on a folder laid out like its file list's output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes import make_fake_corpus, mirror_location

from hearpreprocess.config import load_task_config
from hearpreprocess.filelist import parse_manifest
from hearpreprocess.recipes.tfds_crema_d import (
    EMOTIONS,
    MISSING_ON_GITHUB,
    extract_metadata,
    label_of,
    read_names,
)

TASK = "tfds_crema_d"
HEADER = '"","FileName","VoiceVote"\n'


@pytest.fixture(scope="module")
def config():
    return load_task_config(TASK, "full")


@pytest.fixture(scope="module")
def fake(config, tmp_path_factory):
    """The fake's manifest and listed files, laid out as the file_list source does: every listed
    file flat in the folder under its URL's file name."""
    root = tmp_path_factory.mktemp("fake")
    corpus = make_fake_corpus(root / "mirror", config)
    (source,) = config.sources
    assert source.kind == "file_list"
    manifest = mirror_location(root / "mirror", source.url)
    folder = root / "train"
    folder.mkdir()
    for listed in parse_manifest(manifest.read_text(), str(manifest)):
        shutil.copy(mirror_location(root / "mirror", listed.url), folder / listed.filename)
    return corpus, folder, extract_metadata({"train": folder}, config)


def test_fake_rows(fake):
    corpus, folder, df = fake
    assert len(df) == sum(corpus.split_counts.values()) == 18
    assert set(df["split"]) == {"train"}
    assert set(df["label"]) == corpus.labels
    # The four names TFDS skips are in the fake's table but not in its manifest.
    assert df["relpath"].map(lambda p: Path(p).is_file()).all()
    assert not df["relpath"].map(lambda p: Path(p).stem).isin(MISSING_ON_GITHUB).any()
    row = df[df["relpath"] == str(folder / "1001_DFA_ANG_XX.wav")].iloc[0]
    assert row["label"] == "ANG"


def test_emotions_are_tfds_class_order():
    assert EMOTIONS == ("NEU", "HAP", "SAD", "ANG", "FEA", "DIS")


def test_second_field_quotes_stripped_and_skips(config, tmp_path):
    table = tmp_path / "summaryTable.csv"
    table.write_text(
        HEADER
        + '"1","1001_DFA_ANG_XX","A"\n'
        + "\n"
        + '"2","","N"\n'
        + '"3","1040_ITH_SAD_XX","S"\n'
        + "4,1002_IEO_dis_HI,D\n".replace("dis", "DIS")
        + '"5","1017_IWW_FEA_XX","F"\n'
        + '"6","1091_WSI_NEU_XX"\n'
    )
    assert read_names(table, config) == ["1001_DFA_ANG_XX", "1002_IEO_DIS_HI", "1091_WSI_NEU_XX"]
    df = extract_metadata({"train": tmp_path}, config)
    assert list(df["label"]) == ["ANG", "DIS", "NEU"]
    assert list(df["relpath"]) == [str(tmp_path / f"{n}.wav") for n in read_names(table, config)]


def test_all_four_missing_names_are_skipped(config, tmp_path):
    lines = [f'"{i}","{name}"' for i, name in enumerate(sorted(MISSING_ON_GITHUB))]
    (tmp_path / "summaryTable.csv").write_text(
        HEADER + "\n".join(lines + ['"9","1001_DFA_HAP_LO"'])
    )
    assert list(extract_metadata({"train": tmp_path}, config)["label"]) == ["HAP"]
    assert MISSING_ON_GITHUB == {
        "1040_ITH_SAD_XX",
        "1006_TIE_NEU_XX",
        "1013_WSI_DIS_XX",
        "1017_IWW_FEA_XX",
    }


@pytest.mark.parametrize("name", ["1001_DFA_XXX_XX", "1001_DFA", "1001_DFA_ang_XX"])
def test_bad_emotion_is_a_clear_error(config, name):
    with pytest.raises(ValueError, match=rf"tfds_crema_d.*{name}.*emotion"):
        label_of(name, config)


@pytest.mark.parametrize(
    "body, why",
    [
        ("no-second-field\n", "line 2 has no second field"),
        ('"1","1001_DFA_ANG_XX"\n"2","1001_DFA_ANG_XX"\n', "more than once"),
        ("", "names no clip"),
    ],
)
def test_bad_table_is_a_clear_error(config, tmp_path, body, why):
    (tmp_path / "summaryTable.csv").write_text(HEADER + body)
    with pytest.raises(ValueError, match=rf"tfds_crema_d.*summaryTable\.csv.*{why}"):
        extract_metadata({"train": tmp_path}, config)


def test_missing_table_is_a_clear_error(config, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"tfds_crema_d.*summaryTable\.csv is missing"):
        extract_metadata({"train": tmp_path}, config)
