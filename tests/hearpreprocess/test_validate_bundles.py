"""`runner validate` on a real tones bundle and its tarballs, clean and broken one way at a time."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from tones_mirror import BUILT_RATES, BUNDLE

from hearcore import __version__
from hearcore.cli import FAILED, NOT_FOUND, OK, run_command
from hearcore.format import MANIFEST_FILE, tarball_name
from hearcore.manifest import write_manifest
from hearcore.tarball import write_tarball
from hearpreprocess import validate

REPO = Path(__file__).resolve().parents[2]
RATES = BUILT_RATES
CLIP_SECONDS = 1.0  # tones' sample_duration

pytestmark = pytest.mark.slow


@pytest.fixture()
def bundle(built_tones, tmp_path) -> Path:
    """A private copy of the bundle, under its own name (a tarball's folder is named after it)."""
    copy = tmp_path / "tasks" / BUNDLE
    shutil.copytree(built_tones[0], copy)
    return copy


def first_wav(bundle: Path, sr: int = 16000) -> Path:
    return sorted((bundle / str(sr)).rglob("*.wav"))[0]


def refresh_manifest(bundle: Path) -> None:
    """Make the manifest match the files again (keeping its build record), so that only the
    WAV checks can see what a test changed."""
    build = json.loads((bundle / MANIFEST_FILE).read_text())["build"]
    manifest = write_manifest(bundle)
    (bundle / MANIFEST_FILE).write_text(json.dumps({**manifest, "build": build}, indent=1))


def target(bundle: Path, where: str, sr: int = 16000) -> Path:
    """What to validate: the folder itself, or its tarball at `sr` written by the real writer."""
    if where == "folder":
        return bundle
    dest = bundle.parent.parent / "tar" / tarball_name(bundle.name, sr)
    write_tarball(bundle, sr, dest)
    return dest


def problems_of(path: Path) -> list[str]:
    lines = validate.validate_path(path)
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    return [line[len(f"{path}: ") :] for line in lines]


def test_clean_folder_and_tarballs_pass(built_tones, capsys):
    bundle, tar_dir = built_tones
    tarballs = [tar_dir / tarball_name(BUNDLE, sr) for sr in RATES]
    assert all(t.is_file() for t in tarballs)
    assert validate.main([str(bundle), *map(str, tarballs)]) == OK
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{p}: OK" for p in [bundle, *tarballs]]


def test_clean_bundle_passes_as_a_command(built_tones):
    result = subprocess.run(
        [sys.executable, "-m", "hearpreprocess.validate", str(built_tones[0])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == OK, result.stdout + result.stderr
    assert result.stdout.strip() == f"{built_tones[0]}: OK"


@pytest.mark.parametrize("where", ["folder", "tarball"])
def test_a_changed_byte_is_found(bundle, where, capsys):
    wav = first_wav(bundle)
    data = bytearray(wav.read_bytes())
    data[100] ^= 0x01  # a sample, past the 44-byte header: the WAV stays well-formed
    wav.write_bytes(bytes(data))
    path = target(bundle, where)
    relpath = wav.relative_to(bundle).as_posix()
    assert problems_of(path) == [
        f"{relpath}: its sha256 differs from the manifest's (changed bytes)"
    ]
    assert validate.main([str(path)]) == FAILED
    assert capsys.readouterr().out.splitlines()[-1] == f"{path}: 1 problem(s)"


@pytest.mark.parametrize("where", ["folder", "tarball"])
def test_an_extra_file_is_found(bundle, where):
    wav = first_wav(bundle)
    shutil.copyfile(wav, wav.with_name("extra.wav"))
    relpath = wav.with_name("extra.wav").relative_to(bundle).as_posix()
    assert problems_of(target(bundle, where)) == [f"{relpath}: is not in the manifest"]


@pytest.mark.parametrize("where", ["folder", "tarball"])
def test_a_missing_file_is_found(bundle, where):
    wav = first_wav(bundle)
    wav.unlink()
    relpath = wav.relative_to(bundle).as_posix()
    assert problems_of(target(bundle, where)) == [f"{relpath}: is missing"]


def test_a_tarball_misses_a_file_of_its_own_rate_only(bundle):
    """The manifest lists both rates; a 22050 Hz file missing is none of the 16000 tarball's
    business, but is the folder's and the 22050 tarball's."""
    wav = first_wav(bundle, 22050)
    wav.unlink()
    missing = [f"{wav.relative_to(bundle).as_posix()}: is missing"]
    assert problems_of(target(bundle, "tarball", 16000)) == []
    assert problems_of(target(bundle, "tarball", 22050)) == missing
    assert problems_of(bundle) == missing


def write_clip(path: Path, frames: int, sr: int, channels: int = 1, subtype: str = "PCM_16"):
    """A tone of `frames` frames written by libsndfile, independent of the code under test."""
    t = np.arange(frames) / sr
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(path, np.repeat(tone[:, None], channels, axis=1), sr, subtype=subtype, format="WAV")


FULL = round(CLIP_SECONDS * 16000)
BROKEN_WAVS = {
    "stereo": (dict(frames=FULL, sr=16000, channels=2), "has 2 channels, not 1 (mono)"),
    "24-bit": (dict(frames=FULL, sr=16000, subtype="PCM_24"), "has 24-bit samples, not 16-bit"),
    "wrong rate": (dict(frames=FULL, sr=22050), "is at 22050 Hz in the 16000 Hz folder"),
    "one sample short": (
        dict(frames=FULL - 1, sr=16000),
        f"has {FULL - 1} samples, not {FULL} (1 s at 16000 Hz)",
    ),
}


@pytest.mark.parametrize("where", ["folder", "tarball"])
@pytest.mark.parametrize("kind", sorted(BROKEN_WAVS))
def test_a_broken_wav_is_found(bundle, where, kind):
    clip, expected = BROKEN_WAVS[kind]
    wav = first_wav(bundle)
    write_clip(wav, **clip)
    refresh_manifest(bundle)
    assert problems_of(target(bundle, where)) == [
        f"{wav.relative_to(bundle).as_posix()}: {expected}"
    ]


def test_a_truncated_wav_is_found(bundle):
    wav = first_wav(bundle)
    wav.write_bytes(wav.read_bytes()[:-2])  # the header still declares the full length
    refresh_manifest(bundle)
    relpath = wav.relative_to(bundle).as_posix()
    declared = 2 * FULL
    assert problems_of(bundle) == [
        f"{relpath}: its header declares {declared} bytes of samples but it holds "
        f"{declared - 2} (truncated)",
        f"{relpath}: has {FULL - 1} samples, not {FULL} (1 s at 16000 Hz)",
    ]


def with_extra_member(clean: Path, dest: Path, member: tarfile.TarInfo) -> Path:
    """`clean`'s members, then `member`, as a new .tar.gz at `dest`."""
    with tarfile.open(clean, "r:gz") as src, tarfile.open(dest, "w:gz") as out:
        for info in src:
            out.addfile(info, src.extractfile(info) if info.isfile() else None)
        out.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)
    return dest


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.size = 1 if kind == tarfile.REGTYPE else 0
    return info


ROOT = f"hear-{__version__}/tasks/{BUNDLE}"
UNSAFE = {
    "dotdot": (_member(f"{ROOT}/../../../evil.txt"), "climbs out of its folder with `..`"),
    "absolute": (_member("/etc/evil.txt"), "has an absolute path"),
    "symlink": (
        _member(f"{ROOT}/16000/link.wav", tarfile.SYMTYPE, "/etc/passwd"),
        "is a link (to /etc/passwd); a bundle holds real files only",
    ),
    "device": (
        _member(f"{ROOT}/16000/dev", tarfile.CHRTYPE),
        "is a device, FIFO or other special file; a bundle holds real files only",
    ),
}


@pytest.mark.parametrize("kind", sorted(UNSAFE))
def test_an_unsafe_member_is_found(built_tones, tmp_path, kind):
    member, expected = UNSAFE[kind]
    clean = built_tones[1] / tarball_name(BUNDLE, 16000)
    path = with_extra_member(clean, tmp_path / clean.name, member)
    assert problems_of(path) == [f"{member.name}: {expected}"]
    assert not (tmp_path / "evil.txt").exists() and not Path("/etc/evil.txt").exists()


def test_a_truncated_tarball_is_a_problem(built_tones, tmp_path):
    clean = built_tones[1] / tarball_name(BUNDLE, 16000)
    cut = tmp_path / clean.name
    cut.write_bytes(clean.read_bytes()[: clean.stat().st_size // 2])
    problems = problems_of(cut)
    assert len(problems) == 1 and problems[0].startswith("is not a readable .tar.gz"), problems


def test_a_renamed_tarball_is_a_problem(built_tones, tmp_path):
    renamed = tmp_path / tarball_name(BUNDLE, 22050)
    shutil.copyfile(built_tones[1] / tarball_name(BUNDLE, 16000), renamed)
    expected = tarball_name(BUNDLE, 16000)
    assert problems_of(renamed) == [
        f"is named {renamed.name} but holds what {expected} should hold"
    ]


def test_a_missing_path_exits_not_found(built_tones, tmp_path, capsys):
    missing = tmp_path / "no-such-bundle"
    assert run_command(validate.main, [str(built_tones[0]), str(missing)]) == NOT_FOUND
    captured = capsys.readouterr()
    assert str(missing) in captured.err and "does not exist" in captured.err
    assert captured.out == ""  # checked before anything is read


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        validate.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "python -m hearpreprocess.runner validate" in text
    assert all(option in text for option in ("--no-progress", "--verbose", "PATH"))
