"""End to end on real data: the runner downloads the real small archives of speech_commands and
esc50 from a loopback mirror of ../shared/corpora, verifies their real md5s, and writes bundles
and tarballs whose structure matches the real HEAR 2021 bundle in ../shared/corpora.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import soundfile as sf
from shared_corpora import SHARED

from hearpreprocess import __version__
from hearpreprocess.config import load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

CORPORA = SHARED / "corpora"
REFERENCE = (
    CORPORA / "github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main/preprocessed"
    "/hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
)

RATES = (16000, 44100)
# The md5s HEAR 2021's configs pin for these archives (verified against the files); the recipes
# must agree.
REAL_MD5 = {
    "speech_commands_v0.02-small.zip": "455123a88b8410d1f955c77ad331524f",
    "speech_commands_test_set_v0.02-small.zip": "26d08374a7abd13ca2f4a4b8424f41d0",
    "esc50-all_folds-small.zip": "08bb240e414ce96529087aba52983b1c",
}
EXPECTED_COUNTS = {
    "speech_commands": {"train": 56, "valid": 11 + 121, "test": 96},
    "esc50": {"fold00": 7, "fold01": 3, "fold02": 4, "fold03": 3, "fold04": 3},
}
CONSUMED_KEYS = ("splits", "embedding_type", "prediction_type", "split_mode", "sample_duration")
OUR_EXTRA_FILES = {"manifest.json", "report.json"}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def configs():
    return {task: load_task_config(task, "small") for task in EXPECTED_COUNTS}


@pytest.fixture(scope="module")
def run(configs, tmp_path_factory):
    needed = [REFERENCE] + [
        mirror_location(CORPORA, s.url) for c in configs.values() for s in c.sources
    ]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        pytest.skip(f"real corpora missing (needs ../shared/corpora): {', '.join(missing)}")
    out = tmp_path_factory.mktemp("real")
    dirs = {name: out / name for name in ("tasks", "work", "tar")}
    rates = [arg for sr in RATES for arg in ("--sample-rate", str(sr))]
    with MirrorServer(CORPORA) as mirror:
        proc = subprocess.run(
            [sys.executable, "-m", "hearpreprocess.runner", *EXPECTED_COUNTS, "--mode", "small"]
            + ["--mirror", mirror.url, *rates, "--workers", "2"]
            + [f"--{name}-dir={path}" for name, path in dirs.items()],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=Path(__file__).resolve().parents[2],
        )
    assert proc.returncode == 0, f"runner failed:\n{proc.stdout}\n{proc.stderr}"
    return dirs


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    if not REFERENCE.is_file():
        pytest.skip(f"reference bundle missing: {REFERENCE} (needs ../shared/corpora)")
    dest = tmp_path_factory.mktemp("reference")
    with tarfile.open(REFERENCE) as tar:
        names = tar.getnames()
        tar.extractall(dest, filter="data")
    (bundle,) = (dest / "hear-2021.0.6" / "tasks").iterdir()
    return bundle, names


def test_real_md5s_were_verified(run, configs):
    for config in configs.values():
        for source in config.sources:
            assert source.md5 == REAL_MD5[source.filename]
            downloaded = run["work"] / "downloads" / source.md5 / source.filename
            assert downloaded.is_file(), f"{source.url} was not downloaded to {downloaded}"
            assert _md5(downloaded) == source.md5 == _md5(mirror_location(CORPORA, source.url))


@pytest.mark.parametrize("task", EXPECTED_COUNTS)
def test_bundle_files_match_reference(run, configs, reference, task):
    config, (ref, _) = configs[task], reference
    ours = run["tasks"] / config.bundle_name
    ref_splits = json.loads((ref / "task_metadata.json").read_text())["splits"]

    def shared_files(bundle: Path, splits: list[str], rates) -> set[str]:
        names = {p.name for p in bundle.iterdir()}
        assert {f"{s}.json" for s in splits} | {str(r) for r in rates} <= names
        return names - {f"{s}.json" for s in splits} - {str(r) for r in rates}

    assert shared_files(ours, config.splits, RATES) - OUR_EXTRA_FILES == shared_files(
        ref, ref_splits, [44100]
    )
    for sr in RATES:
        assert sorted(p.name for p in (ours / str(sr)).iterdir()) == sorted(config.splits)


@pytest.mark.parametrize("task", EXPECTED_COUNTS)
def test_task_metadata_compatible_with_reference(run, configs, reference, task):
    config, (ref, _) = configs[task], reference
    ours = json.loads((run["tasks"] / config.bundle_name / "task_metadata.json").read_text())
    theirs = json.loads((ref / "task_metadata.json").read_text())
    # Keys both bundles have come in the same order; our own keys (e.g. resampler) may be added.
    common = [k for k in ours if k in theirs]
    assert common == [k for k in theirs if k in ours]
    assert common[:5] == list(theirs)[:5] and common[-3:] == ["tmp_dir", "mode", "splits"]
    absent = {"tfds_task_name", "tfds_task_version", "extract_splits"}
    if config.split_mode == "trainvaltest":
        absent |= {"nfolds", "max_task_duration_by_fold"}
        assert "max_task_duration_by_split" in ours
    assert set(theirs) - set(ours) <= absent
    assert set(CONSUMED_KEYS) <= set(ours)
    assert (ours["mode"], ours["splits"]) == ("small", config.splits)
    assert ours["sample_duration"] == config.sample_duration
    for record in ours["download_urls"]:
        assert set(theirs["download_urls"][0]) <= set(record)
        assert record["md5"] == REAL_MD5[record["url"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("task", EXPECTED_COUNTS)
def test_split_json_and_vocabulary(run, configs, reference, task):
    config, (ref, _) = configs[task], reference
    bundle = run["tasks"] / config.bundle_name
    ref_split = json.loads((ref / "fold00.json").read_text())
    labels = set()
    for split in config.splits:
        text = (bundle / f"{split}.json").read_text()
        data = json.loads(text)
        assert text.startswith('{\n "')  # 1-space indent, as HEAR 2021
        assert list(data) == sorted(data) and all(k.endswith(".wav") for k in data)
        assert all(type(v) is list and len(v) == 1 for v in [*data.values(), *ref_split.values()])
        assert len(data) == EXPECTED_COUNTS[task][split], split
        for sr in RATES:
            assert sorted(p.name for p in (bundle / str(sr) / split).iterdir()) == list(data)
        labels |= {label for v in data.values() for label in v}
    with open(bundle / "labelvocabulary.csv", newline="") as f:
        ours = list(csv.reader(f))
    with open(ref / "labelvocabulary.csv", newline="") as f:
        assert ours[0] == next(csv.reader(f)) == ["idx", "label"]
    assert ours[1:] == [[str(i), label] for i, label in enumerate(sorted(labels))]
    if task == "speech_commands":
        assert len(labels) == 12


@pytest.mark.parametrize("task", EXPECTED_COUNTS)
def test_wavs_mono_pcm16_exact_length(run, configs, task):
    config = configs[task]
    for sr in RATES:
        wavs = sorted((run["tasks"] / config.bundle_name / str(sr)).glob("*/*.wav"))
        assert len(wavs) == sum(EXPECTED_COUNTS[task].values())
        for wav in wavs:
            info = sf.info(str(wav))
            assert (info.channels, info.subtype, info.samplerate) == (1, "PCM_16", sr), wav
            assert info.frames == round(config.sample_duration * sr), wav


@pytest.mark.parametrize("task", EXPECTED_COUNTS)
def test_tarball_layout_matches_reference(run, configs, reference, task):
    config, (_, ref_names) = configs[task], reference
    bundle = run["tasks"] / config.bundle_name

    def layout(bundle_name: str, sr: int) -> re.Pattern:
        b = re.escape(bundle_name)
        return re.compile(
            rf"hear-[^/]+/tasks/{b}(/[^/]+\.(json|csv)|/{sr}(/[^/]+(/[^/]+\.wav)?)?)?"
        )

    assert all(layout("spoken_digit-1.0.9-small", 44100).fullmatch(n) for n in ref_names)
    assert REFERENCE.name == "hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
    root = f"hear-{__version__}/tasks/{config.bundle_name}"
    for sr in RATES:
        path = run["tar"] / f"hear-{__version__}-{config.bundle_name}-{sr}.tar.gz"
        assert path.is_file(), f"missing tarball {path.name}"
        with tarfile.open(path) as tar:
            names = tar.getnames()
        assert all(layout(config.bundle_name, sr).fullmatch(n) for n in names), names[:5]
        files = {n[len(root) + 1 :] for n in names if n.endswith((".wav", ".json", ".csv"))}
        top = {p.name for p in bundle.iterdir() if p.is_file()}
        wavs = {str(p.relative_to(bundle)) for p in (bundle / str(sr)).glob("*/*.wav")}
        assert files == top | wavs
