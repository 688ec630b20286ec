"""`runner all --mode small --include-extra` against a loopback mirror of ../shared/corpora.

Every task whose real small archives are in the mirror is built from them; each task whose
archive is absent (404) gets one NOT BUILT line naming it, after all the others were built, and
the run exits 1. Per built task: clips per split equal what its TOML's [card] small_clips declares
(so the README's catalogue, generated from the cards, cannot drift), the vocabulary equals the
labels present, WAVs have the exact length at every rate, and no clip is in two splits.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf
from shared_corpora import CORPORA

from hearpreprocess.builtin import is_builtin
from hearpreprocess.config import list_modes, list_tasks, load_task_config, read_card
from hearpreprocess.mirror import MirrorServer, mirror_location

REPO = Path(__file__).resolve().parents[2]
RATES = (16000, 48000)
SMALL = [load_task_config(t, "small") for t in list_tasks() if "small" in list_modes(t)]


def _available(config) -> bool:
    return all(
        is_builtin(r.url) or mirror_location(CORPORA, r.url).is_file()
        for s in config.sources
        for r in s.remotes
    )


BUILT = [c for c in SMALL if _available(c)]
ABSENT = [c for c in SMALL if not _available(c)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora missing: {CORPORA} (the ../shared/corpora mirror)")
    out = tmp_path_factory.mktemp("catalogue")
    rates = [arg for sr in RATES for arg in ("--sample-rate", str(sr))]
    with MirrorServer(CORPORA) as mirror:
        proc = subprocess.run(
            [sys.executable, "-m", "hearpreprocess.runner", "all", "--mode", "small"]
            + ["--include-extra", "--mirror", mirror.url, "--no-tarballs", *rates]
            + [f"--{name}-dir={out / name}" for name in ("tasks", "work")],
            capture_output=True,
            text=True,
            timeout=1200,
            cwd=REPO,
        )
    return out / "tasks", proc


def test_absent_archives_get_one_line_each_and_a_failing_exit(run):
    _, proc = run
    assert proc.returncode == (1 if ABSENT else 0), proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for config in ABSENT:
        mine = [line for line in lines if line.startswith(f"NOT BUILT: {config.bundle_name}:")]
        assert len(mine) == 1, f"{config.bundle_name}: {lines}"
        assert "404" in mine[0], mine[0]
    not_built = [line for line in lines if line.startswith("NOT BUILT:")]
    assert len(not_built) == len(ABSENT), not_built


@pytest.mark.parametrize("config", BUILT, ids=[c.task_name for c in BUILT])
def test_built_from_the_real_archive(run, config):
    tasks, proc = run
    bundle = tasks / config.bundle_name
    assert (bundle / "manifest.json").is_file(), f"{bundle} not built:\n{proc.stdout}"
    labels = {s: json.loads((bundle / f"{s}.json").read_text()) for s in config.splits}
    expected = read_card(config.task_name).get("small_clips")
    assert expected, f"recipes/{config.task_name}.toml: declare [card] small_clips"
    assert {s: len(v) for s, v in labels.items()} == expected

    stems = [name for split in labels.values() for name in split]
    assert len(stems) == len(set(stems)), "a clip is in two splits"
    entries = [e for split in labels.values() for clip in split.values() for e in clip]
    present = {e["label"] if isinstance(e, dict) else e for e in entries}
    vocabulary = pd.read_csv(bundle / "labelvocabulary.csv", dtype=str)
    assert sorted(vocabulary["label"]) == sorted(str(label) for label in present)
    for sr in RATES:
        for split, names in labels.items():
            for name in names:
                info = sf.info(bundle / str(sr) / split / name)
                assert (info.channels, info.subtype, info.samplerate) == (1, "PCM_16", sr)
                if config.sample_duration is not None:
                    assert info.frames == round(config.sample_duration * sr), name


def test_every_absent_archive_is_truly_absent(run):
    """The 404s come from the mirror, not from a wrong URL in a recipe: each names the URL."""
    _, proc = run
    for config in ABSENT:
        missing = [r.url for s in config.sources for r in s.remotes]
        line = next(x for x in proc.stdout.splitlines() if config.bundle_name in x)
        assert any(urlpath(u) in line for u in missing), line


def urlpath(url: str) -> str:
    return url.split("://", 1)[1].split("?")[0]
