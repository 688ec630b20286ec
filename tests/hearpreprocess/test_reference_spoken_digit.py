"""spoken_digit small, built from the real zip, against HEAR 2021's own published small bundle.

The runner builds the task in a subprocess from a loopback mirror over ../shared/corpora, at one
sample rate (44,100 Hz, the rate of the published bundle) to keep it fast. The bundle must hold
the same clips in the same folds with the same labels (JSON numbers), and the same vocabulary:
this checks the recipe, HEAR's metadata shuffle, its k-fold seeds and the small-mode drop of
absent clips end to end. Not compared: the audio length, because the published bundle (hear
2021.0.6) was built with sample_duration 1.0 where the task now has 0.56.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from shared_corpora import CORPORA

from hearpreprocess.config import load_task_config
from hearpreprocess.mirror import MirrorServer, mirror_location

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = (
    CORPORA
    / "github.com/hearbenchmark/hear2021-open-tasks-downsampled/raw/main/preprocessed"
    / "hear-2021.0.6-spoken_digit-1.0.9-small-44100.tar.gz"
)

BUNDLE = "spoken_digit-1.0.9-small"
SR = 44100


def _reference() -> dict[str, object]:
    """The published bundle's label files: `<fold>.json` parsed, `labelvocabulary.csv` text,
    and the WAV names under 44100/<fold>/."""
    out: dict[str, object] = {"wavs": {}}
    with tarfile.open(REFERENCE) as tar:
        for member in tar.getmembers():
            path = Path(member.name)
            if member.isfile() and path.suffix == ".json" and path.stem.startswith("fold"):
                out[path.stem] = json.loads(tar.extractfile(member).read())
            elif member.isfile() and path.name == "labelvocabulary.csv":
                out["vocabulary"] = tar.extractfile(member).read().decode()
            elif member.isfile() and path.suffix == ".wav":
                out["wavs"].setdefault(path.parent.name, set()).add(path.name)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    config = load_task_config("spoken_digit", "small")
    archive = mirror_location(CORPORA, config.sources[0].url)
    for needed in (REFERENCE, archive):
        if not needed.is_file():
            pytest.skip(f"real corpus file missing: {needed} (needs ../shared/corpora)")
    tmp = tmp_path_factory.mktemp("spoken_digit")
    with MirrorServer(CORPORA) as mirror:
        argv = [sys.executable, "-m", "hearpreprocess.runner", "spoken_digit", "--mode=small"]
        argv += [f"--mirror={mirror.url}", f"--sample-rate={SR}", "--workers=1", "--no-tarballs"]
        argv += [f"--work-dir={tmp / 'work'}", f"--tasks-dir={tmp / 'tasks'}"]
        argv += [f"--tar-dir={tmp / 'tar'}"]
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"runner failed:\n{done.stdout}\n{done.stderr}"
    return tmp / "tasks" / BUNDLE


def test_same_clips_in_the_same_folds_with_the_same_labels(built):
    reference = _reference()
    folds = sorted(k for k in reference if k.startswith("fold"))
    assert folds == [f"fold{i:02d}" for i in range(5)]
    for fold in folds:
        ours = json.loads((built / f"{fold}.json").read_text())
        theirs = reference[fold]
        assert sorted(ours) == sorted(theirs), f"{fold}: different clips"
        assert ours == theirs, f"{fold}: different labels"
        labels = [label for labels in ours.values() for label in labels]
        assert all(type(label) is int for label in labels), f"{fold}: labels not JSON numbers"
        assert {p.name for p in (built / str(SR) / fold).glob("*.wav")} == reference["wavs"][fold]


def test_same_vocabulary(built):
    ours = (built / "labelvocabulary.csv").read_text()
    assert ours.split() == _reference()["vocabulary"].split()
