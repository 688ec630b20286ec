"""beehive_states recipe (fold0 and fold1) on its fake corpus, its rules and errors, and on the
real small zips."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import soundfile as sf
from fakes import extract_sources, make_fake_corpus, mirror_location, unpack_fake
from shared_corpora import SHARED

from hearpreprocess.config import load_task_config, read_card, recipe_path
from hearpreprocess.recipes.beehive_states import extract_metadata, label_of
from hearpreprocess.splits import create_splits, prepare_metadata

TASKS = ("beehive_states_fold0", "beehive_states_fold1")
TRAIN_HIVE = {"beehive_states_fold0": "hive1", "beehive_states_fold1": "hive3"}
CORPORA = SHARED / "corpora"


def _run(sources, config):
    return extract_metadata(sources, config, **config.recipe_params)


@pytest.fixture(
    scope="module", params=[(t, m) for t in TASKS for m in ("full", "5h", "small")], ids=str
)
def fake(request, tmp_path_factory):
    task, mode = request.param
    config = load_task_config(task, mode)
    root = tmp_path_factory.mktemp(f"fake-{task}-{mode}")
    corpus, sources = unpack_fake(root, config)
    return config, corpus, sources, _run(sources, config)


def test_fake_rows_splits_and_labels(fake):
    config, corpus, sources, df = fake
    assert sorted(sources) == [
        "hive1/12062018",
        "hive1/31052018",
        "hive3/14072017",
        "hive3/28072017",
    ]
    assert len(df) == 12 and df["relpath"].map(lambda p: Path(p).is_absolute()).all()
    train_hive = TRAIN_HIVE[config.task_name]
    hive = df["relpath"].map(lambda p: Path(p).parent.parent.name)
    assert (df["split"] == hive.map(lambda h: "train" if h == train_hive else "test")).all()
    assert df["split"].value_counts().to_dict() == {"train": 6, "test": 6}
    assert set(df["label"]) == corpus.labels
    # Each archive is one day of one hive, so its label is constant; NO_ days are NOQUEEN.
    date = df["relpath"].map(lambda p: Path(p).parent.name)
    by_date = df.groupby(date)["label"].agg(set).to_dict()
    assert by_date == {
        "12062018": {"QUEEN"},
        "31052018": {"NOQUEEN"},
        "14072017": {"NOQUEEN"},
        "28072017": {"QUEEN"},
    }
    # Hive1 names keep their space (the default stem is the file stem).
    names = df["relpath"].map(lambda p: Path(p).name)
    assert "Hive1 12_06_2018_QueenBee____16_20_00.wav" in set(names)
    # The fake keeps native rates; the full/5h fake has a stereo clip (to be downmixed).
    for path in df["relpath"]:
        info = sf.info(path)
        assert info.samplerate == (32000 if "Hive1" in Path(path).name else 44100)
    channels = {sf.info(p).channels for p in df["relpath"]}
    assert channels == ({1} if config.is_small else {1, 2})


def test_fake_overrides_shrink_long_modes_only(fake):
    config, corpus, _, _ = fake
    expected = {} if config.is_small else {"sample_duration": 2.0}
    assert corpus.config_overrides == expected


def test_folds_are_mirror_images(tmp_path):
    configs = [load_task_config(task, "small") for task in TASKS]
    make_fake_corpus(tmp_path / "mirror", configs[0])
    sources = extract_sources(configs[0], tmp_path / "mirror", tmp_path / "x")
    fold0, fold1 = (_run(sources, c).set_index("relpath") for c in configs)
    assert fold0.index.equals(fold1.index) and fold0["label"].equals(fold1["label"])
    swapped = fold0["split"].map({"train": "test", "test": "train"})
    assert swapped.equals(fold1["split"])


@pytest.mark.parametrize(
    "name, label",
    [
        ("Hive1 12_06_2018_QueenBee____16_20_00.wav", "QUEEN"),
        ("Hive1 31_05_2018_NO_QueenBee____17_30_00.wav", "NOQUEEN"),
        ("Hive3_14_07_2017_NO_QueenBee____13_10_00.wav", "NOQUEEN"),
        ("Hive3_28_07_2017_QueenBee____13_40_00.wav", "QUEEN"),
        ("Hive3_28_07_2017_no_QueenBee____13_40_00.wav", "QUEEN"),  # the rule is uppercase only
    ],
)
def test_label_rule(name, label):
    config = load_task_config(TASKS[0], "small")
    assert label_of(Path("/x") / name, config) == label


def _folders(tmp_path: Path, files: dict[str, list[str]]) -> dict[str, Path]:
    sources = {}
    for key, names in files.items():
        sources[key] = tmp_path / key
        sources[key].mkdir(parents=True)
        for name in names:
            (sources[key] / name).parent.mkdir(parents=True, exist_ok=True)
            (sources[key] / name).write_bytes(b"")
    return sources


def test_search_is_recursive_and_skips_appledouble(tmp_path):
    config = load_task_config(TASKS[0], "full")
    sources = _folders(
        tmp_path,
        {
            "hive1/12062018": ["Hive1_12_06_2018/Hive1 12_06_2018_QueenBee____16_20_00.wav"],
            "hive3/14072017": [
                "Hive3_14_07_2017_NO_QueenBee____13_10_00.wav",
                "._Hive3_14_07_2017_NO_QueenBee____13_10_00.wav",
                "notes.txt",
            ],
        },
    )
    df = _run(sources, config)
    assert [Path(p).name for p in df["relpath"]] == [
        "Hive1 12_06_2018_QueenBee____16_20_00.wav",
        "Hive3_14_07_2017_NO_QueenBee____13_10_00.wav",
    ]
    assert list(df["split"]) == ["train", "test"] and list(df["label"]) == ["QUEEN", "NOQUEEN"]


def test_bad_train_hive_is_a_clear_error(tmp_path):
    config = load_task_config(TASKS[0], "full")
    with pytest.raises(ValueError, match=r"beehive_states_fold0.*train_hive = 'hive2'"):
        extract_metadata({}, config, train_hive="hive2")
    with pytest.raises(ValueError, match=r"train_hive = None"):
        extract_metadata({}, config)


@pytest.mark.parametrize(
    "keys, why",
    [
        (["hive1/12062018", "hive2/01012018"], r"'hive2/01012018' names no hive"),
        (["hive1/12062018", "hive1/31052018"], r"no source for \['hive3'\]"),
    ],
)
def test_bad_source_keys_are_clear_errors(tmp_path, keys, why):
    config = load_task_config(TASKS[1], "full")
    sources = _folders(tmp_path, {key: ["Hive1 x_QueenBee.wav"] for key in keys})
    with pytest.raises(ValueError, match=rf"beehive_states_fold1.*{why}"):
        _run(sources, config)


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    config = load_task_config(TASKS[0], "full")
    sources = _folders(tmp_path, {"hive1/12062018": ["a_QueenBee.wav"], "hive3/14072017": []})
    with pytest.raises(ValueError, match=r"beehive_states_fold0.*no \*\.wav under .*14072017"):
        _run(sources, config)
    sources["hive3/14072017"] = tmp_path / "absent"
    with pytest.raises(FileNotFoundError, match=r"beehive_states_fold0.*absent is missing"):
        _run(sources, config)


def test_the_two_tomls_differ_only_in_name_and_train_hive():
    raw = [tomllib.loads(recipe_path(task).read_text()) for task in TASKS]
    for task, table in zip(TASKS, raw):
        assert table.pop("task_name") == task
        assert table["recipe_params"].pop("train_hive") == TRAIN_HIVE[task]
    assert raw[0] == raw[1]
    full = load_task_config(TASKS[0], "full")
    assert [s.key for s in full.sources] == [
        "hive1/12062018",
        "hive1/31052018",
        "hive3/14072017",
        "hive3/28072017",
    ]
    assert [s.filename for s in full.sources][0] == "Hive1_12_06_2018.rar"
    five_h = load_task_config(TASKS[0], "5h")
    assert five_h.sources == full.sources and five_h.sample_duration == 30.0
    caps = five_h.max_task_duration_by_split
    assert {s: int(caps[s] / 30.0) for s in caps} == {"train": 533, "valid": 66, "test": 66}
    assert full.sample_duration == 600.0 and full.max_task_duration_by_split is None


# The valid stems HEAR's split seed carves from the real small zips' 40 train stems.
REAL_VALID = {
    "beehive_states_fold0": [
        "Hive1 12_06_2018_QueenBee____21_00_00",
        "Hive1 31_05_2018_NO_QueenBee____08_30_00",
        "Hive1 31_05_2018_NO_QueenBee____13_30_00",
        "Hive1 31_05_2018_NO_QueenBee____20_50_00",
    ],
    "beehive_states_fold1": [
        "Hive3_14_07_2017_NO_QueenBee____21_30_00",
        "Hive3_28_07_2017_QueenBee____02_10_00",
        "Hive3_28_07_2017_QueenBee____10_10_00",
        "Hive3_28_07_2017_QueenBee____19_40_00",
    ],
}


@pytest.mark.parametrize("task", TASKS)
def test_real_small_zips(task, tmp_path):
    config = load_task_config(task, "small")
    for source in config.sources:
        archive = mirror_location(CORPORA, source.url)
        if not archive.is_file():
            pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = _run(extract_sources(config, CORPORA, tmp_path), config)
    # 20 two-second clips per zip; no metadata file lists absent clips, so every row is kept.
    assert len(df) == 80 and df["relpath"].map(lambda p: Path(p).is_file()).all()
    train_hive = TRAIN_HIVE[task]
    hive = df["relpath"].map(lambda p: Path(p).parent.parent.name)
    assert (df["split"] == hive.map(lambda h: "train" if h == train_hive else "test")).all()
    assert df.groupby(["split", "label"]).size().to_dict() == {
        ("test", "NOQUEEN"): 20,
        ("test", "QUEEN"): 20,
        ("train", "NOQUEEN"): 20,
        ("train", "QUEEN"): 20,
    }
    assert df["relpath"].str.contains("/Hive1 ").sum() == 40
    info = sf.info(df["relpath"].iloc[0])
    assert (info.channels, info.samplerate, info.duration) == (1, 32000, 2.0)
    # HEAR's valid carve (round(40 / 9) = 4), matching the card's small_clips.
    split = create_splits(prepare_metadata(df, small=True)[0], config)
    assert split["split"].value_counts().to_dict() == read_card(task)["small_clips"]
    valid = split.loc[split["split"] == "valid", "unique_filestem"]
    assert sorted(valid) == REAL_VALID[task]
