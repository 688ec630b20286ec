"""esc50 recipe on its fake corpus (full and small) and on the real small archive."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import extract_sources, mirror_location, unpack_fake
from shared_corpora import SHARED

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.esc50 import extract_metadata

TASK = "esc50"
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus, folders = unpack_fake(root, config)
    df = extract_metadata(folders, config)
    return config, corpus, df


def test_fake_folds_labels_and_paths(fake):
    config, corpus, df = fake
    exists = df["relpath"].map(lambda p: Path(p).is_file())
    assert len(df) == (12 if config.is_small else 10)
    kept = df[exists]
    assert kept["split"].value_counts().to_dict() == corpus.split_counts
    assert set(kept["label"]) == corpus.labels
    row = kept[kept["relpath"].str.endswith("/1-100032-A-0.wav")].iloc[0]
    assert (row["label"], row["split"]) == ("dog", "fold00")
    assert Path(row["relpath"]).is_absolute()
    assert kept[kept["relpath"].str.contains("/5-")]["split"].eq("fold04").all()


def test_missing_csv_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    (tmp_path / "ESC-50-master" / "audio").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"esc50.*meta/esc50\.csv"):
        extract_metadata({"all_folds": tmp_path}, config)


@pytest.mark.parametrize(
    "text, why",
    [
        ("filename,fold,target\n1-1-A-0.wav,1,0\n", "lacks the columns"),
        ("filename,fold,category\n1-1-A-0.wav,6,dog\n", "fold"),
        ("filename,fold,category\n1-1-A-0.wav,one,dog\n", "fold"),
    ],
)
def test_csv_that_does_not_parse_is_a_clear_error(tmp_path, text, why):
    config = load_task_config(TASK, "full")
    meta = tmp_path / "ESC-50-master" / "meta"
    meta.mkdir(parents=True)
    (meta / "esc50.csv").write_text(text)
    with pytest.raises(ValueError, match=rf"esc50.*esc50\.csv.*{why}"):
        extract_metadata({"all_folds": tmp_path}, config)


def test_real_small_folds_and_labels(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    # The CSV is whole: 2,000 clips, 400 per fold, 50 classes of 40.
    assert len(df) == 2000
    assert df["split"].value_counts().to_dict() == {f"fold{i:02d}": 400 for i in range(5)}
    assert df["label"].nunique() == 50 and df["label"].value_counts().eq(40).all()
    kept = df[df["relpath"].map(lambda p: Path(p).is_file())]
    assert kept["split"].value_counts().sort_index().to_dict() == {
        "fold00": 7,
        "fold01": 3,
        "fold02": 4,
        "fold03": 3,
        "fold04": 3,
    }
    row = kept[kept["relpath"].str.endswith("/2-118964-A-0.wav")].iloc[0]
    assert (row["label"], row["split"]) == ("dog", "fold01")
