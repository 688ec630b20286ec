import json

from heareval.embeddings import cache
from heareval.embeddings.cache import read_key


def _bundle(tmp_path):
    b = tmp_path / "task"
    (b / "16000" / "train").mkdir(parents=True)
    (b / "task_metadata.json").write_text('{"splits": ["train"]}')
    (b / "train.json").write_text('{"a.wav": ["x"]}')
    (b / "16000" / "train" / "a.wav").write_bytes(b"1234")
    return b


def test_bundle_digest_sees_metadata_and_audio_changes(tmp_path):
    b = _bundle(tmp_path)
    first = cache.bundle_digest(b, 16000)
    assert cache.bundle_digest(b, 16000) == first
    (b / "train.json").write_text('{"a.wav": ["y"]}')
    second = cache.bundle_digest(b, 16000)
    assert second != first
    (b / "16000" / "train" / "a.wav").write_bytes(b"12345")
    assert cache.bundle_digest(b, 16000) != second


def test_manifest_stands_for_the_audio(tmp_path):
    b = _bundle(tmp_path)
    (b / "manifest.json").write_text(json.dumps({"16000/train/a.wav": "abc"}))
    first = cache.bundle_digest(b, 16000)
    (b / "manifest.json").write_text(json.dumps({"16000/train/a.wav": "abd"}))
    assert cache.bundle_digest(b, 16000) != first


def test_key_marks_a_finished_folder(tmp_path):
    out = tmp_path / "emb" / "task"
    assert read_key(out) is None and not cache.is_done(out, {"k": 1})
    out.mkdir(parents=True)
    (out / cache.KEY_FILE).write_text('{"k": 1}')
    assert cache.is_done(out, {"k": 1}) and not cache.is_done(out, {"k": 2})
    (out / cache.KEY_FILE).write_text("{not json")
    assert read_key(out) is None
