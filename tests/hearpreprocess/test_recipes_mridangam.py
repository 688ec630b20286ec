"""mridangam recipe (mridangam_stroke, mridangam_tonic) on its fake corpus and its error paths.

The real small zip is not in ../shared/corpora yet; its test skips, naming the file it needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import extract_sources, make_fake_corpus, mirror_location
from shared_corpora import CORPORA

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes import extract_metadata, mridangam
from hearpreprocess.recipes.mridangam import ROOT, STROKES, TONICS, label_of
from hearpreprocess.splits import create_splits, prepare_metadata

CASES = [(t, m) for t in ("mridangam_stroke", "mridangam_tonic") for m in ("full", "small")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{t}-{m}" for t, m in CASES])
def fake(request, tmp_path_factory):
    task, mode = request.param
    config = load_task_config(task, mode)
    root = tmp_path_factory.mktemp(f"{task}-{mode}")
    corpus = make_fake_corpus(root / "mirror", config)
    return (
        config,
        corpus,
        extract_metadata(extract_sources(config, root / "mirror", root / "x"), config),
    )


def test_configs_differ_only_in_name_and_label():
    for mode in ("full", "small"):
        stroke = load_task_config("mridangam_stroke", mode).to_dict()
        tonic = load_task_config("mridangam_tonic", mode).to_dict()
        assert stroke.pop("recipe_params") == {"label": "stroke"}
        assert tonic.pop("recipe_params") == {"label": "tonic"}
        assert {**stroke, "task_name": ""} == {**tonic, "task_name": ""}
        assert stroke["recipe"] == "mridangam"


def test_fake_rows_labels_and_paths(fake):
    config, corpus, df = fake
    assert list(df.columns) == ["relpath", "label", "split"]
    assert len(df) == sum(corpus.split_counts.values()) == (8 if config.is_small else 27)
    assert df["relpath"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    assert not df["relpath"].str.endswith(".txt").any()  # the readmes are not clips
    assert set(df["split"]) == {"train"}
    assert set(df["label"]) == corpus.labels
    row = df[df["relpath"].str.endswith("/C#/224042__akshaylaya__cha-csh-001.wav")].iloc[0]
    assert row["label"] == ("cha" if config.task_name == "mridangam_stroke" else "csh")


def test_fake_folds_match_the_declared_ones(fake):
    # The split rules themselves are tested in test_splits; this pins the fake's declared folds.
    config, corpus, df = fake
    rows, dropped = prepare_metadata(df, config.is_small)
    rows = create_splits(rows, config)
    assert dropped.empty
    assert rows["split"].value_counts().to_dict() == corpus.split_counts
    if not config.is_small:  # the label-coverage retry holds in full mode
        assert all(set(g["label"]) == corpus.labels for _, g in rows.groupby("split"))
    fold_of = dict(zip(rows["unique_filestem"], rows["split"]))
    label_of_stem = dict(zip(rows["unique_filestem"], rows["label"]))
    for check in corpus.spot_checks:
        assert (fold_of[check.stem], (label_of_stem[check.stem],)) == (check.split, check.labels)


@pytest.mark.parametrize(
    "name, stroke, tonic",
    [
        ("224030__akshaylaya__bheem-b-001.wav", "bheem", "b"),
        ("224511__akshaylaya__dheem-csh-012.wav", "dheem", "csh"),
        ("225999__akshaylaya__thi-dsh-104.wav", "thi", "dsh"),
        # Only the text after the last `__` counts, so ids and authors may hold `-` or `__`.
        ("22-40__a__b__tham-e-001.wav", "tham", "e"),
    ],
)
def test_label_of_file_names(name, stroke, tonic):
    config = load_task_config("mridangam_stroke", "full")
    assert label_of(name, "stroke", config) == stroke
    assert label_of(name, "tonic", config) == tonic


def test_closed_label_sets_are_the_documented_ones():
    assert len(STROKES) == 10 and len(TONICS) == 6
    assert {"bheem", "cha", "dheem", "dhin", "num", "ta", "tha", "tham", "thi", "thom"} == STROKES
    assert {"b", "c", "csh", "d", "dsh", "e"} == TONICS


@pytest.mark.parametrize(
    "name, label, got",
    [
        ("224030__akshaylaya__boom-b-001.wav", "stroke", "'boom'"),
        ("224030__akshaylaya__bheem-f-001.wav", "tonic", "'f'"),
        ("224030__akshaylaya__bheem-C#-001.wav", "tonic", "'C#'"),
        ("224030__akshaylaya__bheem-001.wav", "stroke", "None"),
        ("224030__akshaylaya__bheem.wav", "tonic", "None"),
    ],
)
def test_unknown_label_in_a_file_name_is_a_clear_error(tmp_path, name, label, got):
    task = f"mridangam_{label}"
    config = load_task_config(task, "full")
    folder = tmp_path / ROOT / "B"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"")
    with pytest.raises(ValueError, match=rf"{task}.*{label} of '{name}'.*got {got}"):
        extract_metadata({"train": tmp_path}, config)


def test_bad_label_parameter_is_a_clear_error(tmp_path):
    config = load_task_config("mridangam_stroke", "full")
    with pytest.raises(ValueError, match=r"mridangam_stroke: \[recipe_params\] label = 'pitch'"):
        mridangam.extract_metadata({"train": tmp_path}, config, label="pitch")
    with pytest.raises(ValueError, match=r"label = None"):
        mridangam.extract_metadata({"train": tmp_path}, config)


def test_missing_or_empty_root_is_a_clear_error(tmp_path):
    config = load_task_config("mridangam_tonic", "full")
    with pytest.raises(FileNotFoundError, match=r"mridangam_tonic.*mridangam_stroke_1\.5"):
        extract_metadata({"train": tmp_path}, config)
    (tmp_path / ROOT / "B").mkdir(parents=True)
    (tmp_path / ROOT / "B" / "_readme_and_license.txt").write_text("readme\n")
    with pytest.raises(FileNotFoundError, match=r"mridangam_tonic: no \.wav"):
        extract_metadata({"train": tmp_path}, config)


@pytest.mark.parametrize("task", ["mridangam_stroke", "mridangam_tonic"])
def test_real_small_labels(tmp_path, task):
    config = load_task_config(task, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    assert len(df) > 0 and df["relpath"].map(lambda p: Path(p).is_file()).all()
    assert set(df["label"]) <= (STROKES if task == "mridangam_stroke" else TONICS)
