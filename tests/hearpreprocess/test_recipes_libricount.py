"""libricount recipe on its fake corpus (full and small), its label rule, the `__MACOSX/` quirk
and error paths, and on the real small archive when it is in ../shared/corpora."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import extract_sources, mirror_location, unpack_fake
from shared_corpora import CORPORA

from hearcore.vocabulary import coerce_labels
from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.libricount import count_of, extract_metadata

TASK = "libricount"


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus, folders = unpack_fake(root, config)
    return config, corpus, folders, extract_metadata(folders, config)


def test_fake_rows_labels_and_paths(fake):
    config, corpus, folders, df = fake
    assert len(df) == sum(corpus.split_counts.values()) == (8 if config.is_small else 24)
    assert set(df["split"]) == {"train"}
    # Strings here; the bundle step turns them into the ints the fake declares.
    assert set(df["label"]) == {str(k) for k in corpus.labels} == {"0", "1", "2", "10"}
    assert df["relpath"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    assert df["relpath"].map(lambda p: Path(p).parent == folders["train"] / "test").all()
    row = df[df["relpath"].str.contains("/10_")].iloc[0]
    assert row["label"] == "10"


def test_fake_has_the_macos_tree_and_the_recipe_ignores_it(fake):
    _, _, folders, df = fake
    stubs = list((folders["train"] / "__MACOSX" / "test").glob("._*.wav"))
    assert len(stubs) == len(df)
    assert not df["relpath"].str.contains("__MACOSX|/\\._").any()


def test_small_fake_keeps_every_json(fake):
    config, _, folders, df = fake
    jsons = list((folders["train"] / "test").glob("*.json"))
    assert len(jsons) == 24
    assert len(df) < len(jsons) if config.is_small else len(df) == len(jsons)


def test_labels_become_ints_in_the_bundle(fake):
    _, corpus, _, df = fake
    ints = coerce_labels(df["label"])
    assert all(type(v) is int for v in ints) and set(ints) == corpus.labels
    assert sorted(set(ints)) == [0, 1, 2, 10]  # numeric order, not "10" before "2"


@pytest.mark.parametrize(
    "name, count",
    [("0_1a2b.wav", "0"), ("10_1a2b.wav", "10"), ("3_a_b.wav", "3"), ("07_1a2b.wav", "7")],
)
def test_count_rule(name, count):
    assert count_of(Path(name), load_task_config(TASK, "full")) == count


@pytest.mark.parametrize("name", ["x_1a2b.wav", "1a2b.wav", "_1a2b.wav", "-1_1a2b.wav", "²_a.wav"])
def test_names_without_a_count_are_a_clear_error(name):
    with pytest.raises(ValueError, match=rf"libricount: cannot read a speaker count from .*{name}"):
        count_of(Path(name), load_task_config(TASK, "full"))


def test_search_is_rooted_at_test_and_recursive(tmp_path):
    config = load_task_config(TASK, "full")
    (tmp_path / "test" / "sub").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "test").mkdir(parents=True)
    for rel in [
        "test/2_aa.wav",
        "test/sub/5_bb.wav",
        "test/._2_aa.wav",
        "test/2_aa.json",
        "__MACOSX/test/._2_aa.wav",
        "4_outside.wav",
    ]:
        (tmp_path / rel).write_bytes(b"")
    df = extract_metadata({"train": tmp_path}, config)
    assert sorted(df["relpath"]) == [
        str(tmp_path / "test/2_aa.wav"),
        str(tmp_path / "test/sub/5_bb.wav"),
    ]
    assert sorted(df["label"]) == ["2", "5"]


def test_missing_test_folder_or_no_wavs_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    with pytest.raises(FileNotFoundError, match=r"libricount: folder .*test is missing.*checksum"):
        extract_metadata({"train": tmp_path}, config)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "0_aa.json").write_text("[]")
    with pytest.raises(ValueError, match=r"libricount: no \*\.wav under"):
        extract_metadata({"train": tmp_path}, config)


def test_real_small_archive(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    folders = extract_sources(config, CORPORA, tmp_path)
    df = extract_metadata(folders, config)
    assert len(df) > 0
    assert set(df["label"]) <= {str(k) for k in range(11)}
    assert not df["relpath"].str.contains("__MACOSX").any()
    # In the real archive every mixture has a same-named JSON beside it.
    assert df["relpath"].map(lambda p: Path(p).with_suffix(".json").is_file()).all()
