"""nsynth_pitch recipe (shared by nsynth_pitch and nsynth_pitch_kfold) on its fake corpus: rows,
pitch-range rule, stems and split keys, pooling for k-fold, reading only examples.json, the error
paths, and on the real small archives when they are in ../shared/corpora."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from fakes import extract_sources, make_fake_corpus, mirror_location
from fakes.nsynth_pitch import ABSENT_IN_SMALL, KEPT, note_str, notes
from shared_corpora import CORPORA

from hearcore.vocabulary import coerce_labels, label_vocabulary
from hearpreprocess import splits
from hearpreprocess.config import load_task_config, read_recipe
from hearpreprocess.recipes.nsynth_pitch import extract_metadata, pitch_range

TVT = ("train", "valid", "test")
LISTED = {split: {note_str(*n): n[1] for n in notes(split)} for split in TVT}


@pytest.fixture(
    scope="module",
    params=[("nsynth_pitch", "5h"), ("nsynth_pitch", "small"), ("nsynth_pitch_kfold", "50h")],
    ids=lambda p: "-".join(p),
)
def fake(request, tmp_path_factory):
    task, mode = request.param
    root = tmp_path_factory.mktemp(f"fake-{task}-{mode}")
    corpus = make_fake_corpus(root / "mirror", load_task_config(task, mode))
    config = load_task_config(task, mode, corpus.overrides())
    folders = extract_sources(config, root / "mirror", root / "x")
    return config, corpus, folders, extract_metadata(folders, config)


def test_one_row_per_listed_note_with_stem_path_and_split_key(fake):
    config, _, folders, df = fake
    assert len(df) == sum(len(v) for v in LISTED.values()) == 44
    assert df["unique_filestem"].is_unique
    for row in df.itertuples():
        split = next(s for s in TVT if row.unique_filestem in LISTED[s])
        expected = folders[split] / f"nsynth-{split}" / "audio" / f"{row.unique_filestem}.wav"
        assert row.relpath == str(expected) and Path(row.relpath).is_absolute()
        assert row.label == str(LISTED[split][row.unique_filestem])
        assert row.split_key == row.unique_filestem.split("-")[0]
        assert row.split == ("train" if config.split_mode == "new_split_kfold" else split)


def test_pitches_outside_21_108_are_dropped_by_rule_inclusive(fake):
    _, corpus, _, df = fake
    dropped = df[df["drop_reason"] != ""]
    assert sorted(dropped["label"].astype(int)) == [9, 20, 20, 109, 109]
    assert dropped["drop_reason"].str.fullmatch(r"pitch \d+ outside 21\.\.108").all()
    kept = df[df["drop_reason"] == ""]
    assert set(kept["label"]) == {str(p) for p in KEPT} == {str(p) for p in corpus.labels}


def test_labels_become_ints_sorted_numerically(fake):
    _, _, _, df = fake
    kept = df[df["drop_reason"] == ""]
    assert all(type(v) is int for v in coerce_labels(kept["label"]))
    assert list(label_vocabulary(kept)["label"]) == [21, 60, 108]  # not "108" < "21" < "60"


def test_small_fake_lists_notes_whose_audio_is_absent(fake):
    config, _, _, df = fake
    assert ABSENT_IN_SMALL <= set().union(*LISTED.values())
    absent = set(df.loc[~df["relpath"].map(lambda p: Path(p).is_file()), "unique_filestem"])
    assert absent == (ABSENT_IN_SMALL if config.is_small else set())


def test_only_examples_json_is_read(fake, tmp_path):
    config, _, folders, df = fake
    copies = {}
    for key, folder in folders.items():
        (tmp_path / key / f"nsynth-{key}").mkdir(parents=True)
        shutil.copy(folder / f"nsynth-{key}" / "examples.json", tmp_path / key / f"nsynth-{key}")
        copies[key] = tmp_path / key
    again = extract_metadata(copies, config)  # no audio/ at all: the pipeline checks the files
    assert again.drop(columns="relpath").equals(df.drop(columns="relpath"))


def test_kfold_pools_the_archives_and_keeps_an_instrument_in_one_fold(fake):
    config, _, _, df = fake
    if config.split_mode != "new_split_kfold":
        pytest.skip("the k-fold variant only")
    rows, _ = splits.prepare_metadata(df, config.is_small)
    rows = splits.create_splits(rows, config)
    assert rows.groupby("split_key")["split"].nunique().eq(1).all()
    reed = rows[rows["split_key"] == "reed_acoustic_011"]
    assert set(reed["unique_filestem"].str[-3:]) == {"025", "127"}  # valid's and test's notes
    assert set(rows["split"]) == set(config.splits)


def test_task_configs_declare_the_range_and_the_caps():
    for task in ("nsynth_pitch", "nsynth_pitch_kfold"):
        meta = load_task_config(task).task_metadata()
        assert (meta["pitch_range_min"], meta["pitch_range_max"]) == (21, 108)
        assert load_task_config(task).recipe == "nsynth_pitch"
    assert load_task_config("nsynth_pitch", "50h").max_task_duration_by_split == {
        "train": 160000.0,
        "valid": 20000.0,
        "test": 20000.0,
    }
    assert load_task_config("nsynth_pitch", "small").max_task_duration_by_split is None
    kfold = {m: load_task_config("nsynth_pitch_kfold", m) for m in ("5h", "50h", "small")}
    assert [c.max_task_duration_by_fold for c in kfold.values()] == [2000.0, 20000.0, None]
    assert kfold["5h"].nfolds == 10 and read_recipe("nsynth_pitch_kfold")["extra_task"] is True


def test_the_range_is_read_from_the_config(fake):
    config, _, folders, _ = fake
    narrow = dataclasses.replace(config, extras={"pitch_range_min": 60, "pitch_range_max": 108})
    df = extract_metadata(folders, narrow)
    assert set(df.loc[df["drop_reason"] == "", "label"]) == {"60", "108"}
    for extras in ({}, {"pitch_range_min": 108, "pitch_range_max": 21}):
        with pytest.raises(ValueError, match=r"nsynth_pitch.*pitch_range_min.*TOML"):
            pitch_range(dataclasses.replace(config, extras=extras))


def _write_examples(root: Path, content) -> dict[str, Path]:
    folder = root / "train" / "nsynth-train"
    folder.mkdir(parents=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / "examples.json").write_text(text)
    return {"train": root / "train"}


def test_missing_examples_json_is_a_clear_error(tmp_path):
    (tmp_path / "train" / "nsynth-train" / "audio").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"nsynth_pitch: .*nsynth-train/examples\.json"):
        extract_metadata({"train": tmp_path / "train"}, load_task_config("nsynth_pitch"))


GOOD = {"note_str": "bass_synthetic_033-022-050", "pitch": 22}


@pytest.mark.parametrize(
    "content, why",
    [
        ("{not json", "does not parse as JSON"),
        ([GOOD], "must be a JSON object of notes.*not a list"),
        ({}, "not an empty object"),
        ({"bass_synthetic_033-022-050": {"note_str": "bass_synthetic_033-022-050"}}, "pitch None"),
        ({"bass_synthetic_033-022-050": {**GOOD, "pitch": "22"}}, "pitch '22'"),
        ({"bass_synthetic_033-022-050": {**GOOD, "pitch": True}}, "pitch True"),
        ({"bass_synthetic_033-022-050": 22}, "is not an object"),
        ({"bass/033-022-050": {"pitch": 22}}, "is not a note_str"),
        ({"bass_synthetic_033": {"pitch": 22}}, "is not a note_str"),
        ({"-022-050": {"pitch": 22}}, "is not a note_str"),
        ({"bass_synthetic_033-022-051": GOOD}, "holds note_str .*must agree"),
    ],
)
def test_bad_examples_json_is_a_clear_error(tmp_path, content, why):
    sources = _write_examples(tmp_path, content)
    with pytest.raises(ValueError, match=rf"nsynth_pitch: .*examples\.json.*{why}"):
        extract_metadata(sources, load_task_config("nsynth_pitch"))


def test_a_source_that_is_not_a_split_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"nsynth_pitch: source key 'train/extra'"):
        extract_metadata({"train/extra": tmp_path}, load_task_config("nsynth_pitch"))


def test_real_small_archives(tmp_path):
    config = load_task_config("nsynth_pitch", "small")
    for source in config.sources:
        archive = mirror_location(CORPORA, source.url)
        if not archive.is_file():
            pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    kept = df[(df["drop_reason"] == "") & df["relpath"].map(lambda p: Path(p).is_file())]
    assert set(kept["split"]) == set(TVT)
    assert kept["label"].astype(int).between(21, 108).all()
    assert df["unique_filestem"].is_unique
