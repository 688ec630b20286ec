"""vox_lingua_top10 recipe on its fake corpus (full and small), the top-10 rule and its tie-break,
the depth of the language folders, error paths, and the real small archive when it is in
../shared/corpora."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fakes import extract_sources, mirror_location, unpack_fake
from fakes.vox_lingua_top10 import FULL_CLIPS, FULL_KEPT, SMALL_CLIPS, SMALL_KEPT
from shared_corpora import CORPORA

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.vox_lingua_top10 import extract_metadata, top_labels

TASK = "vox_lingua_top10"


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus, folders = unpack_fake(root, config)
    return config, corpus, folders, extract_metadata(folders, config)


def test_fake_keeps_the_top_ten_with_the_tie_broken_by_code(fake):
    config, corpus, folders, df = fake
    clips, kept = (SMALL_CLIPS, SMALL_KEPT) if config.is_small else (FULL_CLIPS, FULL_KEPT)
    assert set(df["label"]) == corpus.labels == set(kept)
    assert df["label"].value_counts().to_dict() == {lang: len(clips[lang]) for lang in kept}
    assert len(df) == sum(corpus.split_counts.values()) == (13 if config.is_small else 51)
    assert set(df["split"]) == {"train"}
    # The tie at rank 10: lv (full) or lv and mk (small) have as many clips as a kept language.
    lost = set(clips) - set(kept)
    assert "lv" in lost and len(clips["lv"]) == min(len(clips[lang]) for lang in kept)


def test_fake_label_is_the_parent_folder_at_either_depth(fake):
    config, _, folders, df = fake
    depth = 2 if config.is_small else 3  # full: dev/<lang>/<clip>.wav
    for relpath, label in zip(df["relpath"], df["label"]):
        path = Path(relpath)
        assert path.is_absolute() and path.is_file()
        assert path.parent.name == label
        assert len(path.relative_to(folders["train"]).parts) == depth


def test_top_labels_orders_by_count_then_code():
    labels = pd.Series(["uk"] * 3 + ["ar"] * 2 + ["mk"] * 2 + ["lv"] * 2 + ["de"])
    assert top_labels(labels, 3) == ["uk", "ar", "lv"]
    assert top_labels(labels, 10) == ["uk", "ar", "lv", "mk", "de"]


def test_top_labels_does_not_depend_on_row_order():
    labels = pd.Series(
        [lang for lang, n in [("b", 2), ("a", 2), ("c", 2), ("d", 1)] for _ in range(n)]
    )
    expected = top_labels(labels, 2)
    assert expected == ["a", "b"]
    for seed in range(20):
        assert top_labels(labels.sample(frac=1, random_state=seed), 2) == expected


def _tree(root: Path, counts: dict[str, int], prefix: str = "") -> None:
    for lang, n in counts.items():
        folder = root / prefix / lang
        folder.mkdir(parents=True)
        for i in range(n):
            (folder / f"{lang}{i:02d}x__U__S{i}---0000.000-0002.000.wav").write_bytes(b"")


@pytest.mark.parametrize("prefix", ["", "dev", "a/b"])
def test_depth_of_the_language_folders_does_not_matter(tmp_path, prefix):
    config = load_task_config(TASK, "full")
    counts = {f"l{i:02d}": 12 - i for i in range(12)}  # l00 has 12 clips ... l11 has 1
    _tree(tmp_path, counts, prefix)
    df = extract_metadata({"train": tmp_path}, config)
    assert sorted(set(df["label"])) == [f"l{i:02d}" for i in range(10)]
    assert len(df) == sum(12 - i for i in range(10))


def test_macos_tree_and_appledouble_files_are_skipped(tmp_path):
    config = load_task_config(TASK, "full")
    _tree(tmp_path, {"fr": 2, "ru": 1})
    _tree(tmp_path, {"fr": 5}, prefix="__MACOSX")
    (tmp_path / "fr" / "._fr00x.wav").write_bytes(b"")
    df = extract_metadata({"train": tmp_path}, config)
    assert df["label"].value_counts().to_dict() == {"fr": 2, "ru": 1}


def test_clip_outside_a_language_folder_or_no_clips_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    with pytest.raises(ValueError, match=r"vox_lingua_top10: no \*\.wav under"):
        extract_metadata({"train": tmp_path}, config)
    _tree(tmp_path, {"fr": 1})
    (tmp_path / "loose.wav").write_bytes(b"")
    with pytest.raises(ValueError, match=r"vox_lingua_top10: .*loose\.wav is not in a language"):
        extract_metadata({"train": tmp_path}, config)


def test_real_small_archive(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    assert 0 < df["label"].nunique() <= 10
    assert (df["relpath"].map(lambda p: Path(p).parent.name) == df["label"]).all()
    # The real small zip has its language folders at the zip root.
    assert (
        df["relpath"].map(lambda p: len(Path(p).relative_to(tmp_path / "train").parts)).eq(2).all()
    )
