"""dcase2016_task2 recipe on its fake corpus (no public copy of its small zips exists)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fakes import make_fake_corpus, mirror_location

from hearpreprocess.config import load_task_config
from hearpreprocess.recipes.dcase2016_task2 import audio_path, extract_metadata

TASK = "dcase2016_task2"


@pytest.fixture(scope="module", params=["full", "small"])
def fake(request, tmp_path_factory):
    config = load_task_config(TASK, request.param)
    root = tmp_path_factory.mktemp(f"fake-{request.param}")
    corpus = make_fake_corpus(root / "mirror", config)
    sources = {}
    for source in config.sources:
        shutil.unpack_archive(mirror_location(root / "mirror", source.url), root / source.key)
        sources[source.key] = root / source.key
    return corpus, extract_metadata(sources, config), sources


def test_fake_events_pooled_in_ms(fake):
    corpus, df, _ = fake
    assert len(df) == 12
    assert set(df["split"]) == {"train"}
    assert df["relpath"].map(lambda p: Path(p).is_file()).all()
    stems = df["relpath"].map(lambda p: Path(p).stem)
    assert stems.nunique() == sum(corpus.split_counts.values()) == 6
    assert {s.split("_")[0] for s in stems} == {"dev", "test"}
    speech = df[(stems == "dev_1_ebr_-6_nec_1_poly_0") & (df["label"] == "speech")].iloc[0]
    assert (speech["start"], speech["end"]) == pytest.approx((250.0, 900.0))


def test_fake_keeps_events_past_the_cut_for_trimming(fake):
    corpus, df, _ = fake
    # Trimming is the pipeline's job (splits.trim_events); the recipe reports every annotated event.
    late = df[df["start"] >= 120000.0]
    assert late["label"].tolist() == ["keyboard"]
    straddling = df[(df["start"] < 120000.0) & (df["end"] > 120000.0)]
    assert straddling[["label", "start", "end"]].values.tolist() == [["phone", 118250.0, 121500.0]]
    assert corpus.labels == set(df["label"]) - {"keyboard"}


def test_audio_path_from_annotation_path():
    annotation = Path("/x/dcase2016_task2_test_public/annotation/a.txt")
    assert audio_path(annotation) == Path("/x/dcase2016_task2_test_public/sound/a.wav")


@pytest.mark.parametrize(
    "text, why",
    [("", "No columns"), ("0.5\t1.0\n", "2 fields"), ("0.5\tabc\tspeech\n", "not a number")],
)
def test_annotation_that_does_not_parse_is_a_clear_error(fake, tmp_path, text, why):
    _, _, sources = fake
    broken = tmp_path / "eval"
    shutil.copytree(sources["train/eval"], broken)
    annotation = next((broken / "dcase2016_task2_test_public" / "annotation").glob("*.txt"))
    annotation.write_text(text)
    config = load_task_config(TASK, "full")
    with pytest.raises(ValueError, match=rf"dcase2016_task2.*{annotation.name}.*{why}"):
        extract_metadata({"train/dev": sources["train/dev"], "train/eval": broken}, config)


def test_missing_annotations_are_a_clear_error(fake, tmp_path):
    _, _, sources = fake
    config = load_task_config(TASK, "full")
    with pytest.raises(FileNotFoundError, match=r"dcase2016_task2.*annotation.*train/eval"):
        extract_metadata({"train/dev": sources["train/dev"], "train/eval": tmp_path}, config)
