import json

import pytest
from embedding_models.bundles import SPOKEN_DIGIT, event_bundle, extract_spoken_digit

from hearcore.bundle import BundleError, read_bundle


@pytest.fixture(scope="module")
def spoken_digit(tmp_path_factory):
    path = extract_spoken_digit(tmp_path_factory.mktemp("real"))
    if path is None:
        pytest.skip(f"real HEAR 2021 bundle missing: {SPOKEN_DIGIT}")
    return path


def test_reads_the_real_hear_2021_bundle(spoken_digit):
    bundle = read_bundle(spoken_digit)
    assert bundle.name == "spoken_digit-1.0.9-small"
    assert bundle.splits == [f"fold0{i}" for i in range(5)]
    assert bundle.vocabulary == [str(i) for i in range(10)]
    assert bundle.available_rates() == [44100]
    assert not bundle.is_event and bundle.sample_duration == 1.0
    for split in bundle.splits:
        labels = bundle.labels(split)
        on_disk = sorted(p.name for p in (spoken_digit / "44100" / split).iterdir())
        assert sorted(labels) == on_disk
        assert all(len(v) == 1 for v in labels.values())
        assert bundle.audio_path(44100, split, on_disk[0]).is_file()


def test_reads_an_event_bundle(tmp_path):
    bundle = read_bundle(event_bundle(tmp_path, rates=(16000, 22050)))
    assert bundle.is_event and bundle.splits == ["train", "test"]
    assert bundle.vocabulary == ["beep", "buzz"]
    assert bundle.available_rates() == [16000, 22050]
    assert bundle.labels("test")["test_0.wav"][0]["label"] == "beep"


def test_missing_metadata_is_a_clear_error(tmp_path):
    with pytest.raises(BundleError, match="task_metadata.json"):
        read_bundle(tmp_path)


def test_bad_vocabulary_and_missing_split_file(tmp_path):
    path = event_bundle(tmp_path)
    (path / "test.json").unlink()
    with pytest.raises(BundleError, match="test.json is missing"):
        read_bundle(path).labels("test")
    (path / "labelvocabulary.csv").write_text("idx,label\n0,beep\n2,buzz\n")
    with pytest.raises(BundleError, match="idx must run"):
        read_bundle(path)
    meta = json.loads((path / "task_metadata.json").read_text())
    del meta["embedding_type"]
    (path / "task_metadata.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match="embedding_type"):
        read_bundle(path)
