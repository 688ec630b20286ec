import gzip
import hashlib
import io
import json
import os
import tarfile

import numpy as np
import pandas as pd
import pytest
from shared_corpora import SHARED

from hearcore.bundle import split_json, split_jsons, write_json
from hearcore.format import TAR_ROOT
from hearcore.manifest import write_manifest
from hearcore.tarball import write_tarball
from hearcore.vocabulary import (
    coerce_labels,
    label_vocabulary,
    label_vocabulary_text,
    write_label_vocabulary,
)

HEAR_TARBALL = (
    SHARED
    / "corpora/github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main/preprocessed"
    / "hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
)

HEAR_ROOT = "hear-2021.0.6/tasks"
HEAR_BUNDLE = "spoken_digit-1.0.9-small"


@pytest.fixture(scope="module")
def hear_bundle(tmp_path_factory):
    """The real HEAR 2021 spoken_digit bundle, extracted."""
    if not HEAR_TARBALL.exists():
        pytest.skip(f"real HEAR 2021 bundle not found at {HEAR_TARBALL} (needs ../shared/corpora)")
    dest = tmp_path_factory.mktemp("hear")
    with tarfile.open(HEAR_TARBALL) as tar:
        tar.extractall(dest, filter="data")
    return dest / HEAR_ROOT / HEAR_BUNDLE


def _metadata_from_hear_bundle(bundle):
    """Rebuild metadata rows as a recipe would give them (labels as strings, shuffled order)."""
    rows = []
    for path in sorted(bundle.glob("fold*.json")):
        for key, labels in json.loads(path.read_text()).items():
            for label in labels:
                rows.append({"unique_filestem": key[:-4], "label": str(label), "split": path.stem})
    return pd.DataFrame(rows).sample(frac=1, random_state=0).reset_index(drop=True)


def test_split_json_matches_hear_2021_bytes(hear_bundle, tmp_path):
    df = _metadata_from_hear_bundle(hear_bundle)
    jsons = split_jsons(df, "scene")
    assert sorted(jsons) == [f"fold{i:02d}" for i in range(5)]
    for split, obj in jsons.items():
        write_json(tmp_path / f"{split}.json", obj)
        ours = (tmp_path / f"{split}.json").read_bytes()
        assert ours == (hear_bundle / f"{split}.json").read_bytes(), split
        assert all(isinstance(v[0], int) for v in obj.values())  # JSON numbers like HEAR 2021


def test_label_vocabulary_matches_hear_2021(hear_bundle, tmp_path):
    df = _metadata_from_hear_bundle(hear_bundle)
    expected = (hear_bundle / "labelvocabulary.csv").read_text()
    assert label_vocabulary_text(df) == expected
    assert label_vocabulary(df).to_csv(index=False) == expected
    write_label_vocabulary(tmp_path / "labelvocabulary.csv", df)
    assert (tmp_path / "labelvocabulary.csv").read_text() == expected


def test_tarball_of_hear_bundle_has_hear_layout(hear_bundle, tmp_path):
    dest = tmp_path / "out.tar.gz"
    write_tarball(hear_bundle, 44100, dest, root=HEAR_ROOT)
    with tarfile.open(HEAR_TARBALL) as real, tarfile.open(dest) as ours:
        real_members = {m.name: (m.type, m.size) for m in real.getmembers()}
        our_members = {m.name: (m.type, m.size) for m in ours.getmembers()}
        assert our_members == real_members
        name = f"{HEAR_ROOT}/{HEAR_BUNDLE}/fold00.json"
        assert ours.extractfile(name).read() == real.extractfile(name).read()


def test_coerce_labels():
    assert coerce_labels(["1", "10", " 2", "-3"]) == [1, 10, 2, -3]
    assert coerce_labels([np.int64(4), 5, None, float("nan"), ""]) == [4, 5, None, None, None]
    assert coerce_labels(pd.Series([1, None, 3])) == [1, None, 3]  # float64 upcast by pandas
    assert coerce_labels(["1", "one"]) == ["1", "one"]
    assert coerce_labels(["1.5", "2"]) == ["1.5", "2"]
    assert coerce_labels([True, False]) == [True, False]
    assert coerce_labels([]) == []
    assert coerce_labels(pd.Series(["7", "8"], dtype="string")) == [7, 8]


def test_label_vocabulary_sorting_and_quoting():
    numeric = pd.DataFrame({"label": ["10", "9", "100", "9", None, ""]})
    assert label_vocabulary(numeric)["label"].tolist() == [9, 10, 100]
    assert label_vocabulary_text(numeric) == "idx,label\n0,9\n1,10\n2,100\n"
    text = pd.DataFrame({"label": ["dog", "Cat", "a,b", "10"]})
    expected = 'idx,label\n0,10\n1,Cat\n2,"a,b"\n3,dog\n'
    assert label_vocabulary_text(text) == expected
    assert label_vocabulary(text).to_csv(index=False) == expected


def test_split_json_scene_and_event_layout():
    scene = pd.DataFrame({"unique_filestem": ["b", "a", "b"], "label": ["y", "x", "z"]})
    assert split_json(scene, "scene") == {"a.wav": ["x"], "b.wav": ["y", "z"]}
    assert list(split_json(scene, "scene")) == ["a.wav", "b.wav"]
    numeric = scene.assign(label=pd.Series([7, 8, None]))  # float64 column after coercion
    assert split_json(numeric, "scene") == {"a.wav": [8], "b.wav": [7]}
    assert json.dumps(split_json(numeric, "scene")) == '{"a.wav": [8], "b.wav": [7]}'
    events = pd.DataFrame(
        {
            "unique_filestem": ["ev05", "ev05", "ev01", "ev05", "quiet"],
            "label": ["speech", "knock", "door", "door", ""],  # "" = no events, as read from CSV
            "start": [300, 100.0, 0.0, 1200.0, np.nan],
            "end": [900, 500.0, 10.0, 2000.0, np.nan],
        }
    )
    obj = split_json(events, "event")
    assert obj["ev05.wav"] == [  # row order, not start order
        {"label": "speech", "start": 300.0, "end": 900.0},
        {"label": "knock", "start": 100.0, "end": 500.0},
        {"label": "door", "start": 1200.0, "end": 2000.0},
    ]
    assert obj["quiet.wav"] == []  # a clip whose events were all trimmed away
    assert '"start": 300.0' in json.dumps(obj)
    with pytest.raises(ValueError, match="embedding_type"):
        split_json(scene, "timestamp")


def test_write_json_style(tmp_path):
    write_json(tmp_path / "x.json", {"a.wav": [1], "é.wav": ["x"]})
    text = (tmp_path / "x.json").read_text()
    assert text == '{\n "a.wav": [\n  1\n ],\n "\\u00e9.wav": [\n  "x"\n ]\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temporary left behind


def _make_bundle(parent, order, mtime):
    bundle = parent / "toy-1.0.0-full"
    files = {
        "task_metadata.json": b'{"task_name": "toy"}',
        "labelvocabulary.csv": b"idx,label\n0,a\n",
        "train.json": b"{}",
        "16000/train/b.wav": b"B" * 100,
        "16000/train/a.wav": b"A" * 50,
        "16000/test/c.wav": b"C" * 10,
        "48000/train/a.wav": b"a" * 300,
    }
    for relpath in sorted(files, reverse=order == "reverse"):
        path = bundle / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[relpath])
        os.utime(path, (mtime, mtime))
    return bundle, files


def test_manifest_lists_every_file(tmp_path):
    bundle, files = _make_bundle(tmp_path, "forward", 1_000_000)
    manifest = write_manifest(bundle)
    assert list(manifest["files"]) == sorted(files)
    for relpath, content in files.items():
        entry = manifest["files"][relpath]
        assert entry == {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    assert json.loads((bundle / "manifest.json").read_text()) == manifest
    assert write_manifest(bundle) == manifest  # the manifest never lists itself


def test_tarball_is_byte_reproducible(tmp_path):
    first, _ = _make_bundle(tmp_path / "one", "forward", 1_000_000)
    second, _ = _make_bundle(tmp_path / "two", "reverse", 1_700_000_000)
    write_manifest(first)
    write_manifest(second)
    write_tarball(first, 16000, tmp_path / "one.tar.gz", root="hear-2026.1.0/tasks")
    write_tarball(second, 16000, tmp_path / "two.tar.gz", root="hear-2026.1.0/tasks")
    data = (tmp_path / "one.tar.gz").read_bytes()
    assert data == (tmp_path / "two.tar.gz").read_bytes()
    assert data[3] == 0 and data[4:8] == b"\0\0\0\0"  # gzip: no file name, mtime 0
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
        members = tar.getmembers()
    prefix = "hear-2026.1.0/tasks/toy-1.0.0-full/"
    assert [m.name[len(prefix) :] for m in members] == [
        "labelvocabulary.csv",
        "manifest.json",
        "task_metadata.json",
        "train.json",
        "16000",
        "16000/test",
        "16000/test/c.wav",
        "16000/train",
        "16000/train/a.wav",
        "16000/train/b.wav",
    ]
    for m in members:
        assert m.name.startswith(prefix)
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.mode == (0o755 if m.isdir() else 0o644)


def test_tarball_default_root_and_errors(tmp_path):
    bundle, _ = _make_bundle(tmp_path, "forward", 1_000_000)
    dest = tmp_path / "tars" / "x.tar.gz"
    write_tarball(bundle, 48000, dest)
    with tarfile.open(dest) as tar:
        names = tar.getnames()
    assert f"{TAR_ROOT}/toy-1.0.0-full/48000/train/a.wav" in names
    assert not any("/16000" in n for n in names)
    with pytest.raises(FileNotFoundError, match="22050"):
        write_tarball(bundle, 22050, tmp_path / "y.tar.gz")
    assert not (tmp_path / "y.tar.gz").exists()
    (bundle / "16000" / "link.wav").symlink_to(bundle / "16000" / "train" / "a.wav")
    with pytest.raises(ValueError, match="link"):
        write_tarball(bundle, 16000, tmp_path / "z.tar.gz")
    with pytest.raises(ValueError, match="link"):
        write_manifest(bundle)
