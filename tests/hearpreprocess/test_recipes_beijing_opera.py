"""beijing_opera recipe on its fake corpus (full and small), its label rule and error paths, and
on the real small archive when it is in ../shared/corpora."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
from fakes import extract_sources, mirror_location, unpack_fake
from fakes.beijing_opera import INSTRUMENTS
from shared_corpora import CORPORA

from hearpreprocess.audio import read_audio
from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.beijing_opera import ROOT, extract_metadata, label_of

TASK = "beijing_opera"


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus, folders = unpack_fake(root, config)
    df = extract_metadata(folders, config)
    return config, corpus, df


def test_fake_rows_labels_and_paths(fake):
    config, corpus, df = fake
    assert len(df) == sum(corpus.split_counts.values()) == (8 if config.is_small else 24)
    assert set(df["split"]) == {"train"}
    assert set(df["label"]) == corpus.labels == set(INSTRUMENTS)
    assert df["relpath"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    row = df[df["relpath"].str.endswith("/205975__ajaysm__daluo-03.wav")].iloc[0]
    assert row["label"] == "daluo"
    assert df["relpath"].map(lambda p: Path(p).parent.name == ROOT).all()


def test_fake_mixes_float_and_pcm_wavs_and_both_decode(fake):
    _, _, df = fake
    subtypes = {sf.info(p).subtype for p in df["relpath"]}
    assert subtypes == {"FLOAT", "PCM_16"}
    for path in df["relpath"]:
        x, sr = read_audio(path)
        assert sr == 44100 and x.shape[1] == 1 and abs(x).max() <= 1.0


@pytest.mark.parametrize(
    "name, label",
    [
        ("205972__ajaysm__daluo-01.wav", "daluo"),
        ("205999__ajaysm__xiaoluo-12.wav", "xiaoluo"),
        # The second-to-last `-` piece of what follows the last `__`, whatever comes before.
        ("1__a__b__naobo-x-03.wav", "x"),
    ],
)
def test_label_rule(name, label):
    assert label_of(Path(name), load_task_config(TASK, "full")) == label


@pytest.mark.parametrize("name", ["daluo-01.wav", "205972__ajaysm__daluo.wav", "1__x__-01.wav"])
def test_names_without_an_instrument_are_a_clear_error(name):
    with pytest.raises(ValueError, match=rf"beijing_opera.*{name}.*<instrument>-<NN>"):
        label_of(Path(name), load_task_config(TASK, "full"))


def test_only_wavs_directly_in_the_folder_are_read(tmp_path):
    config = load_task_config(TASK, "full")
    folder = tmp_path / ROOT
    (folder / "nested").mkdir(parents=True)
    (tmp_path / "__MACOSX" / ROOT).mkdir(parents=True)
    for path in [
        folder / "205972__ajaysm__daluo-01.wav",
        folder / "nested" / "205973__ajaysm__bangu-01.wav",
        folder / "._205972__ajaysm__daluo-01.wav",
        tmp_path / "__MACOSX" / ROOT / "._205972__ajaysm__daluo-01.wav",
        folder / "README.txt",
    ]:
        path.write_bytes(b"")
    df = extract_metadata({"train": tmp_path}, config)
    assert list(df["relpath"]) == [str(folder / "205972__ajaysm__daluo-01.wav")]
    assert list(df["label"]) == ["daluo"]


def test_missing_folder_or_no_wavs_is_a_clear_error(tmp_path):
    config = load_task_config(TASK, "full")
    with pytest.raises(FileNotFoundError, match=rf"beijing_opera.*{ROOT}.*checksum"):
        extract_metadata({"train": tmp_path}, config)
    (tmp_path / ROOT).mkdir()
    with pytest.raises(ValueError, match=r"beijing_opera: no \*\.wav directly in"):
        extract_metadata({"train": tmp_path}, config)


def test_real_small_archive(tmp_path):
    config = load_task_config(TASK, "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    if not archive.is_file():
        pytest.skip(f"real small corpus missing: {archive} (needs ../shared/corpora)")
    df = extract_metadata(extract_sources(config, CORPORA, tmp_path), config)
    # The real small zip: 20 clips, 11 of them 32-bit float, 9 16-bit PCM; four instruments at most.
    assert len(df) == 20
    assert set(df["label"]) <= set(INSTRUMENTS)
    subtypes = df["relpath"].map(lambda p: sf.info(p).subtype).value_counts().to_dict()
    assert subtypes == {"FLOAT": 11, "PCM_16": 9}
