"""One contract over every registered task and each of its modes: each must have a fake corpus.

The fake (tests/fakes/<recipe>.py) is served from a loopback mirror and built twice from scratch
(fresh work, tasks and tarball folders): the graph completes, splits and labels are as the fake
declares, the fake's spot-checked clips are in their split with their labels, no clip is in two
splits, every WAV is mono PCM16 at its rate and exact length, and both builds are identical.
A third run on the first build's folders finds everything up to date and writes nothing (no
file's mtime moves), and `runner validate` finds the bundle and every tarball clean.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from fakes import has_fake, make_fake_corpus

from hearcore.format import SAMPLE_RATES
from hearpreprocess import runner
from hearpreprocess.config import list_modes, list_tasks, load_task_config
from hearpreprocess.mirror import MirrorServer
from hearpreprocess.validate import validate_path

CASES = [(t, m) for t in list_tasks() for m in list_modes(t)]


def _build(tmp: Path, task: str, mode: str, mirror_url: str, overrides: Path) -> Path:
    _run(tmp, task, mode, mirror_url, overrides)
    return tmp


def _run(tmp: Path, task: str, mode: str, mirror_url: str, overrides: Path) -> runner.RunReport:
    argv = [task, f"--mode={mode}", f"--mirror={mirror_url}", f"--config-overrides={overrides}"]
    argv += [f"--work-dir={tmp / 'work'}", f"--tasks-dir={tmp / 'tasks'}"]
    argv += [f"--tar-dir={tmp / 'tar'}", "--workers=1"]
    report = runner.build(runner.parse_args(argv))
    assert report.ok, f"{task} {mode}: {report.failures}"
    return report


def _mtimes(tmp: Path) -> dict[str, int]:
    """Every file and folder under a build (the work dir itself holds the run's lock file)."""
    work = tmp / "work"
    return {str(p): p.lstat().st_mtime_ns for p in tmp.rglob("*") if p != work}


@pytest.mark.parametrize("task,mode", CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_contract(task, mode, tmp_path):
    config = load_task_config(task, mode)
    assert has_fake(config), (
        f"task {task} (mode {mode}) has no fake corpus: write tests/fakes/{config.recipe}.py "
        "with make_fake_corpus(mirror_root, config) in the layout of its real sources"
    )
    fake = make_fake_corpus(tmp_path / "mirror", config)
    assert fake.spot_checks, f"the fake of {task} (mode {mode}) declares no spot-checked clips"
    overrides = tmp_path / "overrides.toml"
    overrides.write_text(fake.overrides_toml(task))
    config = load_task_config(task, mode, fake.overrides())  # what the fake builds
    with MirrorServer(tmp_path / "mirror") as mirror:
        first = _build(tmp_path / "a", task, mode, mirror.url, overrides)
        second = _build(tmp_path / "b", task, mode, mirror.url, overrides)
        before = _mtimes(first)
        again = _run(first, task, mode, mirror.url, overrides)
    assert [r["step"] for r in again.ran if r["step"] != "AllTasks"] == [], "a rerun ran steps"
    assert _mtimes(first) == before, "a rerun with nothing changed wrote into the build"
    bundle = first / "tasks" / config.bundle_name
    for path in [bundle, *sorted((first / "tar").glob("*.tar.gz"))]:
        assert validate_path(path) == [], path

    labels = {split: json.loads((bundle / f"{split}.json").read_text()) for split in config.splits}
    assert {s: len(v) for s, v in labels.items()} == fake.split_counts
    for spot in fake.spot_checks:
        name = f"{spot.stem}.wav"
        assert name in labels[spot.split], f"{name} is not in {spot.split}"
        entry = labels[spot.split][name]
        got = [e["label"] for e in entry] if config.embedding_type == "event" else entry
        assert sorted(got, key=str) == sorted(spot.labels, key=str), name
    stems = [name for split in labels.values() for name in split]
    assert len(stems) == len(set(stems)), "a clip is in two splits"
    vocabulary = pd.read_csv(bundle / "labelvocabulary.csv", dtype=str)
    assert set(vocabulary["label"]) == {str(label) for label in fake.labels}
    assert list(vocabulary["idx"].astype(int)) == list(range(len(vocabulary)))

    for sr in SAMPLE_RATES:
        for split, names in labels.items():
            folder = bundle / str(sr) / split
            assert sorted(p.name for p in folder.glob("*.wav")) == sorted(names)
            for name in names:
                info = sf.info(folder / name)
                assert (info.channels, info.subtype, info.samplerate) == (1, "PCM_16", sr)
                if config.sample_duration is not None:
                    assert info.frames == round(config.sample_duration * sr), name

    manifest = json.loads((bundle / "manifest.json").read_text())
    listed = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == listed - {"manifest.json"}
    for relpath, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256((bundle / relpath).read_bytes()).hexdigest()
    assert (bundle / "manifest.json").read_bytes() == (
        second / "tasks" / config.bundle_name / "manifest.json"
    ).read_bytes()
    tarballs = sorted(p.name for p in (first / "tar").iterdir())
    assert len(tarballs) == len(SAMPLE_RATES)
    for name in tarballs:
        assert (first / "tar" / name).read_bytes() == (second / "tar" / name).read_bytes(), name
