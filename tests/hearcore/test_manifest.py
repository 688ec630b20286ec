"""manifest.json: written over a bundle, and a bundle checked against it."""

import json

import pytest

from hearcore.manifest import ManifestError, verify_manifest, write_manifest


def _bundle(tmp_path):
    bundle = tmp_path / "toy-1.0-full"
    (bundle / "16000" / "train").mkdir(parents=True)
    (bundle / "task_metadata.json").write_text("{}")
    (bundle / "16000" / "train" / "a.wav").write_bytes(b"RIFF1234")
    write_manifest(bundle)
    return bundle


def test_an_untouched_bundle_verifies(tmp_path):
    bundle = _bundle(tmp_path)
    listed = json.loads((bundle / "manifest.json").read_text())["files"]
    assert list(listed) == ["16000/train/a.wav", "task_metadata.json"]
    assert listed["16000/train/a.wav"]["size"] == 8
    assert verify_manifest(bundle) == []


def test_every_kind_of_change_is_named(tmp_path):
    bundle = _bundle(tmp_path)
    (bundle / "16000" / "train" / "a.wav").write_bytes(b"RIFF9999")  # same size, new bytes
    (bundle / "task_metadata.json").write_text('{"x": 1}')
    (bundle / "extra.txt").write_text("?")
    assert verify_manifest(bundle) == [
        "toy-1.0-full: extra.txt is not in the manifest",
        "toy-1.0-full: 16000/train/a.wav has the wrong sha256",
        "toy-1.0-full: task_metadata.json has the wrong size",
    ]
    assert verify_manifest(bundle, hash_files=False) == [
        "toy-1.0-full: extra.txt is not in the manifest",
        "toy-1.0-full: task_metadata.json has the wrong size",
    ]
    (bundle / "16000" / "train" / "a.wav").unlink()
    assert "toy-1.0-full: 16000/train/a.wav is missing" in verify_manifest(bundle)


def test_a_bundle_without_a_usable_manifest_is_an_error(tmp_path):
    bundle = _bundle(tmp_path)
    (bundle / "manifest.json").write_text("[1, 2")
    with pytest.raises(ManifestError, match="unreadable"):
        verify_manifest(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(ManifestError, match="cannot be verified"):
        verify_manifest(bundle)
