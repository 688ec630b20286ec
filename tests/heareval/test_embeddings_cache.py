import json
import subprocess
import sys

from heareval.embeddings import cache


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


def test_partial_of_a_dead_process_is_removed(tmp_path):
    out = tmp_path / "emb" / "task"
    mine = cache.new_partial_dir(out)
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead = mine.with_name(
        mine.name.replace(f".{__import__('os').getpid()}.", f".{int(proc.stdout)}.")
    )
    dead.mkdir()
    assert cache.remove_stale_partials(out) == [dead]
    assert mine.is_dir() and not dead.exists()


def test_commit_replaces_an_old_output(tmp_path):
    out = tmp_path / "emb" / "task"
    out.mkdir(parents=True)
    (out / "old").write_text("old")
    tmp = cache.new_partial_dir(out)
    (tmp / cache.KEY_FILE).write_text('{"k": 1}')
    cache.commit_partial(tmp, out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["task"]
    assert cache.is_done(out, {"k": 1}) and not cache.is_done(out, {"k": 2})
    assert not (out / "old").exists()
